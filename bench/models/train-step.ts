// One training step of the SSL model (ResNet trunk + mlp head, cross entropy, SGD momentum 0.9,
// weight decay 1e-4 without BN, as VISSL's ClusterFit config) against PyTorch's torchvision ResNet
// doing the same step. Both sides use the same thread count; after warm-up they alternate in
// rounds (ours, then PyTorch's) so machine noise hits both alike. Prints images/s and the ratio
// (ours / PyTorch, so > 1 means we are faster).
//
// --amp on runs the step under autocast as PyTorch's AMP recipe does: on CUDA float16 with a
// GradScaler, on CPU bfloat16 without one (bfloat16 has float32's range; on both sides this is
// what MODEL.AMP_PARAMS.USE_AMP gives on that device). --amp off,on runs both in one invocation,
// the variants alternating within each round on both sides, and also prints each side's
// bfloat16-or-float16 / float32 speed ratio.
//
//   node dist/bench/models/train-step.js [--depth 18,50] [--batch 8] [--size 96] [--threads 2]
//     [--rounds 5] [--steps 3] [--warmup 2] [--device cuda] [--channels-last] [--amp off|on|off,on]
import { parseArgs } from 'node:util';
import * as torch from '../../src/torch/index.js';
import { SGD } from '../../src/torch/optim/index.js';
import { visslParamGroups } from '../../src/engine/param-groups.js';
import { trainStep, type MixedPrecision } from '../../src/engine/train-step.js';
import { buildModel, modelConfig, type ModelConfig } from '../../src/models/index.js';
import { ampVariants as parseAmp, median, startPeer } from '../support.js';

const { values } = parseArgs({
  options: {
    depth: { type: 'string', default: '18,50' },
    batch: { type: 'string', default: '8' },
    size: { type: 'string', default: '96' },
    classes: { type: 'string', default: '1000' },
    threads: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '5' },
    steps: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '2' },
    device: { type: 'string', default: 'cpu' },
    'channels-last': { type: 'boolean', default: false },
    amp: { type: 'string', default: 'off' },
  },
});
const device = values.device!;
const onCuda = device.startsWith('cuda');
const threads = Number(values.threads);
const batch = Number(values.batch);
const size = Number(values.size);
const classes = Number(values.classes);
const rounds = Number(values.rounds);
const steps = Number(values.steps);
const warmup = Number(values.warmup);
const channelsLast = values['channels-last']!;
// AMP as the peer runs it: float16 autocast with a GradScaler on CUDA, bfloat16 autocast on CPU.
const ampDtype: torch.amp.AutocastDType = onCuda ? 'float16' : 'bfloat16';
const ampVariants = parseAmp(values.amp!);
const sync = (): void => (onCuda ? torch.cuda.synchronize() : undefined);

function resnetConfig(depth: number): ModelConfig {
  return modelConfig({ depth, heads: [['mlp', { dims: [depth >= 50 ? 2048 : 512, classes] }]] });
}

/** Our side: returns a function that runs n steps (with or without AMP) and gives the synchronized seconds. */
function ourTrainer(depth: number): { run: (n: number, amp: boolean) => number; dispose: () => void } {
  torch.manualSeed(0);
  const model = buildModel(resnetConfig(depth));
  if (onCuda) model.to(device);
  if (channelsLast) model.toChannelsLast();
  const optimizer = new SGD(visslParamGroups(model, { weightDecay: 1e-4 }), { lr: 0.1, momentum: 0.9 });
  const x = torch.keep(
    torch.tidy(() =>
      torch.randn([batch, 3, size, size], { device }).contiguous(channelsLast ? 'channelsLast' : 'contiguous'),
    ),
  );
  const y = torch.keep(torch.randint(0, classes, [batch], { device }));
  model.train();
  const mixed: MixedPrecision = onCuda
    ? { deviceType: 'cuda', dtype: 'float16', scaler: new torch.amp.GradScaler({ device }) }
    : { deviceType: 'cpu', dtype: 'bfloat16', scaler: null };
  const loss = (outputs: torch.Tensor[], target: torch.Tensor) => torch.functional.crossEntropy(outputs[0]!, target);
  const step = (amp: boolean): void =>
    void torch.tidy(() => trainStep({ model, loss, optimizer, mixed: amp ? mixed : null }, x, y));
  return {
    run: (n, amp) => {
      sync();
      const start = performance.now();
      for (let i = 0; i < n; i++) step(amp);
      sync();
      return (performance.now() - start) / 1000;
    },
    dispose: () => {
      mixed.scaler?.dispose();
      optimizer.dispose();
      model.dispose();
      x.dispose();
      y.dispose();
    },
  };
}

/** The PyTorch peer (bench/peers/torch_train_step.py): says it is ready, then runs steps on request. */
function trainStepPeer(depth: number): {
  ready: () => Promise<string>;
  run: (n: number, amp: boolean) => Promise<number>;
  close: () => void;
} {
  const config = { depth, batch, size, classes, threads, device, channelsLast };
  const peer = startPeer('torch_train_step.py', [JSON.stringify(config)]);
  return {
    ready: async () => (await peer.reply()).ready as string,
    run: async (n, amp) => (await peer.reply(`${n} ${amp ? 'amp' : 'fp32'}`)).seconds as number,
    close: peer.close,
  };
}

async function benchmark(depth: number): Promise<void> {
  const ours = ourTrainer(depth);
  const peer = trainStepPeer(depth);
  const peerVersion = await peer.ready();
  for (const amp of ampVariants) {
    ours.run(warmup, amp);
    await peer.run(warmup, amp);
  }
  // times[side][variant][round]
  const times = { ours: ampVariants.map((): number[] => []), peer: ampVariants.map((): number[] => []) };
  for (let r = 0; r < rounds; r++) {
    // The variants alternate within each round, their order flipping every round.
    const order = r % 2 === 0 ? [...ampVariants.keys()] : [...ampVariants.keys()].reverse();
    for (const v of order) {
      times.ours[v]!.push(ours.run(steps, ampVariants[v]!));
      times.peer[v]!.push(await peer.run(steps, ampVariants[v]!));
    }
  }
  peer.close();
  ours.dispose();
  // On a shared machine a round can stall (OpenMP threads spinning against other processes), so
  // the headline is the median of the per-round ratios (each pairs two back-to-back runs), and
  // each side's rate is its median round, with its best round beside it.
  const rate = (seconds: number): number => (batch * steps) / seconds;
  const describe = (t: number[]): string =>
    `${rate(median(t)).toFixed(2)} img/s (best round ${rate(Math.min(...t)).toFixed(2)})`;
  const title = `ResNet-${depth} train step, batch ${batch} at ${size}x${size}, ${device}${channelsLast ? ', channels-last' : ''}, ${threads} threads (PyTorch ${peerVersion})`;
  console.log(`${title}:`);
  for (const [v, amp] of ampVariants.entries()) {
    const ratios = times.ours[v]!.map((a, i) => times.peer[v]![i]! / a);
    console.log(
      `  ${amp ? `AMP ${ampDtype}` : 'float32'}: ours ${describe(times.ours[v]!)}, PyTorch ${describe(times.peer[v]!)}, ` +
        `ours/PyTorch ${median(ratios).toFixed(3)}x (median of ${rounds} rounds; per round: ${ratios.map((x) => x.toFixed(3)).join(', ')})`,
    );
  }
  const off = ampVariants.indexOf(false);
  const on = ampVariants.indexOf(true);
  if (off >= 0 && on >= 0) {
    // Per round, the AMP step's speed over the float32 step's, on each side.
    const gain = (t: number[][]): string => median(t[off]!.map((s, i) => s / t[on]![i]!)).toFixed(3);
    console.log(
      `  AMP ${ampDtype} / float32 speed: ours ${gain(times.ours)}x, PyTorch ${gain(times.peer)}x (median of rounds)`,
    );
  }
}

torch.setNumThreads(threads);
console.log(`libtorch ${torch.buildInfo().torchVersion}; ratio = ours / PyTorch images per second (goal >= 0.95)`);
for (const depth of values.depth!.split(',').map(Number)) await benchmark(depth);
