// The fast linear probe: VISSL's eval_mlp head (BatchNorm over the feature channels, then Linear)
// trained on features extracted once (no augmentation) instead of on a frozen trunk run for every
// batch. By default the optimisation is VISSL's linear protocol (SGD, nesterov momentum 0.9,
// weight decay 5e-4, LR x0.1 at 8/28, 16/28 and 24/28 of the epochs); only the input is cached.
import {
  keep,
  manualSeed,
  noGrad,
  randperm,
  tidy,
  functional as F,
  type Device,
  type DType,
  type Tensor,
} from '../torch/index.js';
import { BatchNorm2d, Linear, Module } from '../torch/nn/index.js';
import { SGD } from '../torch/optim/index.js';
import { AccuracyMeter } from './meters.js';

export interface LabelledFeatures {
  /** N x D float features. */
  features: Tensor;
  /** N int64 class labels. */
  labels: Tensor;
}

export interface LinearProbeOptions {
  numClasses: number;
  epochs?: number;
  batchSize?: number;
  /** The LR of each epoch; default: VISSL's linear protocol, 0.01 per 256 images, x0.1 at 8/28, 16/28, 24/28. */
  lrAt?: (epoch: number) => number;
  weightDecay?: number;
  momentum?: number;
  nesterov?: boolean;
  seed?: number;
  topk?: number[];
  device?: Device;
}

export interface ProbeResult {
  /** Test accuracy in percent, e.g. {top1, top5}. */
  test: Record<string, number>;
  /** Accuracy on the training features at the end. */
  train: Record<string, number>;
}

/** BatchNorm2d on N x D x 1 x 1, then Linear: VISSL's LinearEvalMLP for a pooled feature. */
class EvalMlp extends Module {
  readonly channelBn: BatchNorm2d;
  readonly clf: Linear;

  constructor(dim: number, numClasses: number, device: Device) {
    super();
    this.channelBn = this.registerModule('channel_bn', new BatchNorm2d(dim, { device }));
    this.clf = this.registerModule('clf', new Linear(dim, numClasses, { device }));
  }

  override forward(features: Tensor): Tensor {
    const [n, d] = features.shape as [number, number];
    return this.clf.call(this.channelBn.call(features.reshape(n, d, 1, 1)).flatten(1));
  }
}

export function linearProbe(train: LabelledFeatures, test: LabelledFeatures, options: LinearProbeOptions): ProbeResult {
  const {
    numClasses,
    epochs = 28,
    batchSize = 256,
    weightDecay = 5e-4,
    momentum = 0.9,
    nesterov = true,
    seed = 0,
    topk = [1, 5],
    device = 'cpu',
  } = options;
  const [n, dim] = train.features.shape as [number, number];
  if (test.features.shape[1] !== dim) {
    throw new Error(`linear probe: train features are ${dim}-d but test features are ${test.features.shape[1]}-d`);
  }
  manualSeed(seed);
  const head = new EvalMlp(dim, numClasses, device);
  const lrAt = options.lrAt ?? visslLinearProtocolLr(epochs, batchSize);
  const optimizer = new SGD(head.parameters(), { lr: lrAt(0), momentum, nesterov, weightDecay });
  const x = keep(onDevice(train.features, device, 'float32'));
  const y = keep(onDevice(train.labels, device, 'int64'));
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      for (const group of optimizer.paramGroups) group.lr = lrAt(epoch);
      const order = keep(randperm(n, { device }));
      for (let start = 0; start < n; start += batchSize) {
        // A last batch of one sample cannot be batch-normalised in training mode.
        if (n - start < 2) break;
        tidy(() => {
          const rows = order.narrow(0, start, Math.min(batchSize, n - start));
          const loss = F.crossEntropy(head.call(x.indexSelect(0, rows)), y.indexSelect(0, rows));
          optimizer.zeroGrad();
          loss.backward();
          optimizer.step();
        });
      }
      order.dispose();
    }
    head.eval();
    return {
      test: accuracyOf(head, test, topk, device),
      train: accuracyOf(head, { features: x, labels: y }, topk, device),
    };
  } finally {
    x.dispose();
    y.dispose();
    optimizer.dispose();
    head.dispose();
  }
}

/** VISSL's linear protocol: 0.01 per 256 images, x0.1 at 8/28, 16/28 and 24/28 of the epochs. */
export function visslLinearProtocolLr(epochs: number, batchSize: number): (epoch: number) => number {
  const milestones = [8, 16, 24].map((m) => Math.round((m / 28) * epochs));
  return (epoch) => ((0.01 * batchSize) / 256) * 0.1 ** milestones.filter((m) => epoch >= m).length;
}

function accuracyOf(head: Module, data: LabelledFeatures, topk: number[], device: Device): Record<string, number> {
  const meter = new AccuracyMeter(topk, device);
  try {
    const n = data.features.shape[0] as number;
    for (let start = 0; start < n; start += 4096) {
      noGrad(() =>
        tidy(() => {
          const count = Math.min(4096, n - start);
          const x = onDevice(data.features.narrow(0, start, count), device, 'float32');
          meter.update(head.call(x), onDevice(data.labels.narrow(0, start, count), device, 'int64'));
        }),
      );
    }
    return meter.value();
  } finally {
    meter.dispose();
  }
}

/** `t` on `device` in `dtype` (a new handle; the caller owns it). */
function onDevice(t: Tensor, device: Device, dtype: DType): Tensor {
  return tidy(() => t.to(device).to(dtype));
}
