// The CIFAR ResNets of He et al. (2016, section 4.2) as akamaster/pytorch_resnet_cifar10 defines
// them, so its checkpoints load: a 3x3 stem with 16 channels, three stages of BasicBlocks with 16,
// 32 and 64 channels (n blocks each, depth = 6n + 2), and the parameter-free "option A" shortcut:
// x[:, :, ::2, ::2] zero-padded by planes/4 channels on each side.
//
// State-dict names are akamaster's without DataParallel's 'module.': conv1, bn1, layer1..layer3
// (trunk) and linear (classifier). Feature names, by analogy with VISSL's ResNet:
//   conv1   -> after conv1, bn1 and ReLU      16 x H x W
//   res2    -> layer1                         16 x H x W
//   res3    -> layer2                         32 x H/2 x W/2
//   res4    -> layer3                         64 x H/4 x W/4
//   res4avg -> global average pool            64 x 1 x 1
//   flatten -> the pooled vector              64
// (There is no max-pool stem, so no res1, and the last stage is res4, so no res5.)
import { noGrad, slice, type Tensor } from '../torch/index.js';
import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  Flatten,
  Linear,
  Module,
  ReLU,
  Sequential,
  functional as F,
  init,
  type FactoryOptions,
  type StateDict,
} from '../torch/nn/index.js';
import { BasicBlock, bn, conv, type BlockSettings } from './blocks.js';
import { Trunk } from './trunk.js';

export const CIFAR_DEPTHS = [20, 32, 44, 56, 110, 1202] as const;

export interface CifarResNetOptions extends FactoryOptions {
  /** 6n + 2: 20, 32, 44, 56, 110 or 1202. */
  depth: number;
  bnEps?: number;
  bnMomentum?: number;
}

/** akamaster's option-A shortcut: subsample by 2 and zero-pad the channels; no parameters. */
class OptionAShortcut extends Module {
  constructor(readonly planes: number) {
    super();
  }

  override forward(input: Tensor): Tensor {
    const half = this.planes >> 2;
    const rows = slice(input, 2, 0, undefined, 2);
    const subsampled = slice(rows, 3, 0, undefined, 2);
    const out = F.pad(subsampled, [0, 0, 0, 0, half, half]);
    rows.dispose();
    subsampled.dispose();
    return out;
  }
}

/** The CIFAR ResNet without its classifier. */
export class CifarResNetTrunk extends Trunk {
  readonly featureMapping = {
    conv1: 'conv1_relu',
    res2: 'layer1',
    res3: 'layer2',
    res4: 'layer3',
    res4avg: 'avgpool',
    flatten: 'flatten',
  };
  readonly depth: number;
  /** Channels of the last stage (64). */
  readonly outChannels = 64;
  readonly #blocks: [string, Module][];

  constructor(options: CifarResNetOptions) {
    super();
    const { depth, bnEps = 1e-5, bnMomentum = 0.1, device, dtype } = options;
    if (!(CIFAR_DEPTHS as readonly number[]).includes(depth)) {
      throw new Error(`unsupported CIFAR ResNet depth ${depth}: use one of ${CIFAR_DEPTHS.join(', ')}`);
    }
    this.depth = depth;
    const perStage = (depth - 2) / 6;
    const s: BlockSettings = { groups: 1, widthPerGroup: 64, bnEps, bnMomentum, device, dtype };
    let inplanes = 16;
    const makeLayer = (planes: number, stride: number): Sequential => {
      const layer = new Sequential();
      for (let i = 0; i < perStage; i++) {
        const blockStride = i === 0 ? stride : 1;
        const shortcut =
          blockStride !== 1 || inplanes !== planes ? { name: 'shortcut', module: new OptionAShortcut(planes) } : null;
        layer.append(new BasicBlock(inplanes, planes, blockStride, shortcut, s));
        inplanes = planes;
      }
      return layer;
    };
    // Registered directly on the trunk (no '_feature_blocks'), so names are akamaster's.
    this.#blocks = [
      ['conv1', conv(3, 16, 3, 1, s)],
      ['bn1', bn(16, s)],
      ['conv1_relu', new ReLU(true)],
      ['layer1', makeLayer(16, 1)],
      ['layer2', makeLayer(32, 2)],
      ['layer3', makeLayer(64, 2)],
      ['avgpool', new AdaptiveAvgPool2d(1)],
      ['flatten', new Flatten(1)],
    ];
    for (const [name, block] of this.#blocks) this.registerModule(name, block);
    akamasterInit(this);
  }

  protected blocks(): Iterable<[string, Module]> {
    return this.#blocks;
  }
}

/** The CIFAR ResNet classifier: the trunk's layers plus `linear`, named as akamaster's checkpoints. */
export class CifarResNet extends CifarResNetTrunk {
  readonly linear: Linear;

  constructor(options: CifarResNetOptions & { numClasses?: number }) {
    super(options);
    const { numClasses = 10, device, dtype } = options;
    this.linear = this.registerModule('linear', new Linear(64, numClasses, { device, dtype }));
    akamasterInit(this.linear);
  }

  /** Logits, N x numClasses. */
  override forward(input: Tensor): Tensor {
    const features = super.forward(input);
    const logits = this.linear.call(features);
    features.dispose();
    return logits;
  }
}

/** akamaster's _weights_init: kaiming_normal_ (fan_in, gain sqrt(2)) on conv and linear weights. */
function akamasterInit(model: Module): void {
  for (const module of model.modules()) {
    if (module instanceof Conv2d || module instanceof Linear) init.kaimingNormal_(module.weight);
    else if (module instanceof BatchNorm2d) {
      init.ones_(module.weight!);
      init.zeros_(module.bias!);
    }
  }
}

/**
 * Loads an akamaster checkpoint's `state_dict` (keys 'module.conv1.weight', ...) into a CifarResNet,
 * or into a CifarResNetTrunk, which leaves out the classifier 'linear.*'. The checkpoints predate
 * BatchNorm's num_batches_tracked; as PyTorch does for such old state dicts, those counters are
 * reset to 0 instead of being reported missing. Anything else missing or unexpected throws.
 */
export function loadAkamasterStateDict(model: CifarResNetTrunk, state: StateDict): void {
  const stripped: StateDict = {};
  for (const [key, value] of Object.entries(state)) {
    const name = key.startsWith('module.') ? key.slice('module.'.length) : key;
    if (!(model instanceof CifarResNet) && name.startsWith('linear.')) continue;
    stripped[name] = value;
  }
  const { missingKeys, unexpectedKeys } = model.loadStateDict(stripped, { strict: false });
  const missing = missingKeys.filter((key) => !key.endsWith('num_batches_tracked'));
  if (missing.length > 0 || unexpectedKeys.length > 0) {
    throw new Error(
      `not an akamaster CIFAR ResNet-${model.depth} state dict: missing ${missing.join(', ') || 'none'}; unexpected ${unexpectedKeys.join(', ') || 'none'}`,
    );
  }
  const reset = new Set(missingKeys);
  noGrad(() => {
    for (const [name, module] of model.namedModules()) {
      const counter = name === '' ? 'num_batches_tracked' : `${name}.num_batches_tracked`;
      if (module instanceof BatchNorm2d && reset.has(counter)) module.numBatchesTracked!.zero_();
    }
  });
}
