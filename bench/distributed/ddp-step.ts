// A 2-process DDP training step of a ResNet on loopback Gloo: ours (DistributedDataParallel over
// c10d's Reducer, our ResNet + mlp head) against PyTorch DDP with torchvision's ResNet, the same
// batch, optimizer and threads. Jobs alternate in rounds; prints images/s over both ranks and the
// ratio ours / PyTorch (> 1: we are faster).
//
//   node dist/bench/distributed/ddp-step.js [--depth 18] [--batch 8] [--size 64] [--threads 1]
//     [--steps 3] [--rounds 2] [--warmup 1]
import { parseArgs } from 'node:util';
import { median } from '../support.js';
import { runJob } from './job.js';

const { values } = parseArgs({
  options: {
    depth: { type: 'string', default: '18' },
    batch: { type: 'string', default: '8' },
    size: { type: 'string', default: '64' },
    classes: { type: 'string', default: '1000' },
    threads: { type: 'string', default: '1' },
    steps: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '1' },
    jobs: { type: 'string', default: '2' },
  },
});
const config = {
  depth: Number(values.depth),
  batch: Number(values.batch),
  size: Number(values.size),
  classes: Number(values.classes),
  threads: Number(values.threads),
  steps: Number(values.steps),
  rounds: Number(values.rounds),
  warmup: Number(values.warmup),
};
const ours: number[] = [];
const theirs: number[] = [];
let version = '';
for (let j = 0; j < Number(values.jobs); j++) {
  // Which side goes first alternates, so an order effect cannot favour one.
  const runPeer = async (): Promise<void> => {
    const peer = await runJob('pytorch', 'ddp', config, 10 * 60_000);
    theirs.push(...peer.seconds);
    version = peer.version;
  };
  if (j % 2 === 1) await runPeer();
  ours.push(...(await runJob('ours', 'ddp', config, 10 * 60_000)).seconds);
  if (j % 2 === 0) await runPeer();
}
const rate = (seconds: number): number => (2 * config.batch * config.steps) / seconds;
const ratios = ours.map((s, i) => theirs[i]! / s);
console.log(
  `DDP ResNet-${config.depth} train step, 2 ranks x batch ${config.batch} at ${config.size}x${config.size}, ` +
    `${config.threads} thread(s) per rank, Gloo on 127.0.0.1 (PyTorch ${version}): ` +
    `ours ${rate(median(ours)).toFixed(2)} img/s, PyTorch ${rate(median(theirs)).toFixed(2)} img/s, ` +
    `ratio ${median(ratios).toFixed(3)}x (median of ${ratios.length} rounds; per round: ${ratios.map((r) => r.toFixed(3)).join(', ')})`,
);
