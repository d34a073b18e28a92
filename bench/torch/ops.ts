// Tensor-engine benchmark, run side by side with PyTorch in one process pair on the same machine:
//   1. per-op call overhead of a tiny op (add of two 1-element tensors), vs PyTorch's Python eager;
//   2. forward + backward of a conv2d -> batchNorm -> relu block at realistic sizes.
// Both sides use the same intra-op thread count. Prints both figures and the ratio (ours / PyTorch
// for throughput, PyTorch / ours for overhead, so > 1 means we are faster).
//
//   node dist/bench/torch/ops.js [--device cuda] [--threads N]
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as torch from '../../src/torch/index.js';

const F = torch.functional;
const { values } = parseArgs({
  options: { device: { type: 'string', default: 'cpu' }, threads: { type: 'string', default: '2' } },
});
const device = values.device!;
const onCuda = device.startsWith('cuda');
const threads = Number(values.threads);

interface Block {
  batch: number;
  channels: number;
  size: number;
  warmup: number;
  iterations: number;
  channels_last?: boolean;
}

const blocks: Block[] = onCuda
  ? [
      { batch: 64, channels: 64, size: 56, warmup: 10, iterations: 50 },
      { batch: 64, channels: 256, size: 14, warmup: 10, iterations: 50 },
      { batch: 64, channels: 64, size: 56, warmup: 10, iterations: 50, channels_last: true },
    ]
  : [
      { batch: 8, channels: 64, size: 56, warmup: 2, iterations: 6 },
      { batch: 16, channels: 256, size: 14, warmup: 2, iterations: 6 },
    ];
const tinyIterations = 200_000;

function tinyOpMicros(): number {
  const a = torch.ones([1]);
  const b = torch.ones([1]);
  for (let i = 0; i < 1000; i++) torch.add(a, b).dispose();
  const start = performance.now();
  for (let i = 0; i < tinyIterations; i++) torch.add(a, b).dispose();
  return ((performance.now() - start) / tinyIterations) * 1000;
}

/** The same op inside tidy, as a training step runs it: results are freed by the scope. */
function tinyOpInTidyMicros(): number {
  const a = torch.ones([1]);
  const b = torch.ones([1]);
  const perScope = 1000;
  const start = performance.now();
  for (let i = 0; i < tinyIterations / perScope; i++) {
    torch.tidy(() => {
      for (let j = 0; j < perScope; j++) torch.add(a, b);
    });
  }
  return ((performance.now() - start) / tinyIterations) * 1000;
}

function convBlockImagesPerSecond(block: Block): number {
  torch.manualSeed(0);
  const { batch: n, channels: c, size: h } = block;
  const memoryFormat = block.channels_last ? 'channelsLast' : 'contiguous';
  const x = torch.keep(torch.randn([n, c, h, h], { device }).contiguous(memoryFormat));
  const w = torch.keep(
    torch.tidy(() => torch.randn([c, c, 3, 3], { device }).mul(0.05).contiguous(memoryFormat)).requiresGrad_(true),
  );
  const gamma = torch.keep(torch.ones([c], { device, requiresGrad: true }));
  const beta = torch.keep(torch.zeros([c], { device, requiresGrad: true }));
  const mean = torch.keep(torch.zeros([c], { device }));
  const variance = torch.keep(torch.ones([c], { device }));
  const step = (): void =>
    torch.tidy(() => {
      const y = F.relu(
        F.batchNorm(F.conv2d(x, w, null, { padding: 1 }), mean, variance, {
          weight: gamma,
          bias: beta,
          training: true,
        }),
      );
      y.sum().backward();
      for (const p of [w, gamma, beta]) p.grad = null;
    });
  const sync = (): void => (onCuda ? torch.cuda.synchronize() : undefined);
  for (let i = 0; i < block.warmup; i++) step();
  sync();
  const start = performance.now();
  for (let i = 0; i < block.iterations; i++) step();
  sync();
  const seconds = (performance.now() - start) / 1000;
  for (const t of [x, w, gamma, beta, mean, variance]) t.dispose();
  return (n * block.iterations) / seconds;
}

function runPyTorch(): { tinyOpUs: number; convBlock: number[]; torch: string } {
  const script = join(
    resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..'),
    'bench',
    'peers',
    'torch_ops.py',
  );
  const python = process.env.CLUSTERFIT_PYTHON ?? '/usr/bin/python3';
  const config = JSON.stringify({ threads, device, tinyIterations, blocks });
  const result = spawnSync(python, [script, config], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`PyTorch peer failed (${python}): ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop()!);
}

torch.setNumThreads(threads);
const ours = {
  tinyOpUs: tinyOpMicros(),
  tinyOpInTidyUs: tinyOpInTidyMicros(),
  convBlock: blocks.map(convBlockImagesPerSecond),
};
const peer = runPyTorch();

console.log(
  `device ${device}, ${threads} threads; ours: libtorch ${torch.buildInfo().torchVersion}, peer: PyTorch ${peer.torch}`,
);
console.log(
  `tiny op (add, 1 element) + dispose: ours ${ours.tinyOpUs.toFixed(2)} us/op, PyTorch ${peer.tinyOpUs.toFixed(2)} us/op, ratio ${(peer.tinyOpUs / ours.tinyOpUs).toFixed(2)}x (>1: ours has less overhead)`,
);
console.log(
  `tiny op inside tidy: ours ${ours.tinyOpInTidyUs.toFixed(2)} us/op, PyTorch ${peer.tinyOpUs.toFixed(2)} us/op, ratio ${(peer.tinyOpUs / ours.tinyOpInTidyUs).toFixed(2)}x`,
);
blocks.forEach((block, i) => {
  const label = `conv3x3+bn+relu fwd+bwd, batch ${block.batch}, ${block.channels}ch, ${block.size}x${block.size}${block.channels_last ? ', channels-last' : ''}`;
  const a = ours.convBlock[i]!;
  const b = peer.convBlock[i]!;
  console.log(`${label}: ours ${a.toFixed(1)} img/s, PyTorch ${b.toFixed(1)} img/s, ratio ${(a / b).toFixed(3)}x`);
});
