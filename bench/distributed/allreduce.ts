// All-reduce bandwidth of 2 ranks on loopback over Gloo: ours (c10d through the addon) against
// PyTorch's torch.distributed, the same sizes and iterations. The two sides' jobs alternate in
// rounds, and which side goes first alternates too, so machine noise and any order effect (the
// first job after another one's teardown) hit both alike. Prints algorithm bandwidth (bytes reduced per second
// per rank) and the ratio ours / PyTorch (> 1: we are faster).
//
//   node dist/bench/distributed/allreduce.js [--sizes-mb 1,4,16,64,256] [--rounds 4] [--threads 1]
import { parseArgs } from 'node:util';
import { median } from '../support.js';
import { runJob } from './job.js';

const { values } = parseArgs({
  options: {
    'sizes-mb': { type: 'string', default: '1,4,16,64,256' },
    rounds: { type: 'string', default: '4' },
    threads: { type: 'string', default: '1' },
  },
});
const sizes = values['sizes-mb']!.split(',').map((mb) => Math.round(Number(mb) * 1024 * 1024));
// About 256 MB reduced per size, at least 3 times.
const iters = sizes.map((bytes) => Math.max(3, Math.round((256 * 1024 * 1024) / bytes)));
const config = { sizes, iters, threads: Number(values.threads) };
const rounds = Number(values.rounds);

const ours: number[][] = [];
const theirs: number[][] = [];
let version = '';
for (let r = 0; r < rounds; r++) {
  const runPeer = async (): Promise<void> => {
    const peer = await runJob('pytorch', 'allreduce', config, 10 * 60_000);
    theirs.push(peer.seconds);
    version = peer.version;
  };
  if (r % 2 === 1) await runPeer();
  ours.push((await runJob('ours', 'allreduce', config, 10 * 60_000)).seconds);
  if (r % 2 === 0) await runPeer();
}
console.log(
  `2 ranks on 127.0.0.1, Gloo, ${config.threads} thread(s) each, PyTorch ${version}; median of ${rounds} rounds`,
);
sizes.forEach((bytes, i) => {
  const gbps = (seconds: number): number => (bytes * iters[i]!) / seconds / 1e9;
  const a = median(ours.map((s) => s[i]!));
  const b = median(theirs.map((s) => s[i]!));
  const perRound = ours.map((s, r) => (theirs[r]![i]! / s[i]!).toFixed(2)).join(', ');
  console.log(
    `all-reduce ${(bytes / 1024 / 1024).toFixed(0).padStart(4)} MB x${iters[i]}: ours ${gbps(a).toFixed(3)} GB/s, ` +
      `PyTorch ${gbps(b).toFixed(3)} GB/s, ratio ${(b / a).toFixed(3)}x (rounds: ${perRound})`,
  );
});
