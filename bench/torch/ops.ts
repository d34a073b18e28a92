// Tensor-engine benchmark, run side by side with PyTorch in one process pair on the same machine:
//   1. per-op call overhead of tiny ops (1-element tensors), vs PyTorch's Python eager: `add` with
//      the result disposed at once (as `using` or an explicit dispose() does), `add` inside tidy,
//      and a scalar `mul`, `relu` and `sum`, all at one intra-op thread on both sides;
//   2. forward + backward of a conv2d -> batchNorm -> relu block at realistic sizes.
// The PyTorch peer (bench/peers/torch_ops.py) stays alive for the whole run and the two sides take
// turns, round by round (alternating who goes first), so both see the same machine load; each
// figure is the median over the rounds with its min-max spread. Ratios are > 1 when we are faster
// (PyTorch time / ours for overhead, ours / PyTorch for throughput). On a busy machine the tiny-op
// "best vs best" ratio (fastest sample of each side) is the steadier figure.
//
//   node dist/bench/torch/ops.js [--device cuda] [--threads N] [--rounds N] [--only tiny|conv]
import { parseArgs } from 'node:util';
import * as torch from '../../src/torch/index.js';
import { median, startPeer, type Peer } from '../support.js';

const F = torch.functional;
const { values } = parseArgs({
  options: {
    device: { type: 'string', default: 'cpu' },
    threads: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '15' },
    only: { type: 'string' },
  },
});
const device = values.device!;
const onCuda = device.startsWith('cuda');
const threads = Number(values.threads);
const rounds = Number(values.rounds);

// ---- the PyTorch peer ---------------------------------------------------------------------------

/** Sends one request to the long-lived peer and waits for its one-line answer. */
type Ask = Peer['ask'];

// ---- statistics ---------------------------------------------------------------------------------

interface Spread {
  median: number;
  min: number;
  max: number;
}

function spread(samples: number[]): Spread {
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples) };
}

function show(s: Spread, digits: number): string {
  return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`;
}

// ---- tiny ops -----------------------------------------------------------------------------------

interface TinyCase {
  /** The peer's loop (bench/peers/torch_ops.py LOOPS). */
  op: 'add' | 'mulScalar' | 'relu' | 'sum';
  label: string;
  /** Runs the op `n` times on 1-element tensors `a`, `b`, freeing every result. */
  run: (a: torch.Tensor, b: torch.Tensor, n: number) => void;
}

const perTidy = 1000;
const tinyCases: TinyCase[] = [
  {
    op: 'add',
    label: 'a.add(b), then dispose()',
    run: (a, b, n) => {
      for (let i = 0; i < n; i++) a.add(b).dispose();
    },
  },
  {
    op: 'add',
    label: `a.add(b) inside tidy (${perTidy} per scope)`,
    run: (a, b, n) => {
      for (let done = 0; done < n; done += perTidy) {
        torch.tidy(() => {
          for (let j = 0; j < perTidy; j++) a.add(b);
        });
      }
    },
  },
  {
    op: 'mulScalar',
    label: 'a.mul(2.5), then dispose()',
    run: (a, _b, n) => {
      for (let i = 0; i < n; i++) a.mul(2.5).dispose();
    },
  },
  {
    op: 'relu',
    label: 'a.relu(), then dispose()',
    run: (a, _b, n) => {
      for (let i = 0; i < n; i++) a.relu().dispose();
    },
  },
  {
    op: 'sum',
    label: 'a.sum(), then dispose()',
    run: (a, _b, n) => {
      for (let i = 0; i < n; i++) a.sum().dispose();
    },
  },
];
const tinyIterations = 50_000;
const tinyElements = 1;

function oursTinyMicros(c: TinyCase, iterations: number): number {
  const a = torch.ones([tinyElements]);
  const b = torch.ones([tinyElements]);
  const start = performance.now();
  c.run(a, b, iterations);
  const us = ((performance.now() - start) / iterations) * 1000;
  a.dispose();
  b.dispose();
  return us;
}

async function tinyOps(ask: Ask): Promise<void> {
  // One thread on both sides: a 1-element op never forks, and the figure is pure call overhead.
  torch.setNumThreads(1);
  await ask({ kind: 'threads', threads: 1 });
  const ours = tinyCases.map((): number[] => []);
  const peer = tinyCases.map((): number[] => []);
  // Round 0 is warm-up (JIT compilation, allocator and dispatcher caches) and is not recorded.
  for (let round = 0; round <= rounds; round++) {
    for (const [i, c] of tinyCases.entries()) {
      const peerRequest = { kind: 'tiny', case: { op: c.op, elements: tinyElements }, iterations: tinyIterations };
      const oursFirst = round % 2 === 0;
      const a = oursFirst ? oursTinyMicros(c, tinyIterations) : 0;
      const p = (await ask(peerRequest)).us as number;
      const o = oursFirst ? a : oursTinyMicros(c, tinyIterations);
      if (round > 0) {
        ours[i]!.push(o);
        peer[i]!.push(p);
      }
    }
  }
  console.log(
    `tiny ops, 1 thread, ${tinyElements}-element float32, ${tinyIterations} calls per sample, median (min-max) of ${rounds} alternating rounds;`,
  );
  console.log(
    '  ratio = PyTorch time / ours per round (>1: ours has less overhead); best vs best compares the least disturbed samples',
  );
  for (const [i, c] of tinyCases.entries()) {
    const o = spread(ours[i]!);
    const p = spread(peer[i]!);
    const ratios = spread(ours[i]!.map((us, r) => peer[i]![r]! / us));
    console.log(
      `  ${c.label.padEnd(44)} ours ${show(o, 2)} us/op, PyTorch ${show(p, 2)} us/op, ratio ${show(ratios, 2)}x, best vs best ${(p.min / o.min).toFixed(2)}x`,
    );
  }
}

// ---- conv block ---------------------------------------------------------------------------------

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

async function convBlocks(ask: Ask): Promise<void> {
  torch.setNumThreads(threads);
  await ask({ kind: 'threads', threads });
  for (const block of blocks) {
    const ours: number[] = [];
    const peer: number[] = [];
    // As many rounds as asked: a round is a few seconds, and this 2-core VM's noise between
    // rounds (0.7x-1.3x for the same code) needs many of them for a median that means something.
    for (let round = 0; round < Math.max(1, rounds); round++) {
      const oursFirst = round % 2 === 0;
      const a = oursFirst ? convBlockImagesPerSecond(block) : 0;
      peer.push((await ask({ kind: 'conv', block, device })).imagesPerSecond as number);
      ours.push(oursFirst ? a : convBlockImagesPerSecond(block));
    }
    const label = `conv3x3+bn+relu fwd+bwd, batch ${block.batch}, ${block.channels}ch, ${block.size}x${block.size}${block.channels_last ? ', channels-last' : ''}`;
    const ratios = spread(ours.map((o, r) => o / peer[r]!));
    console.log(
      `${label}, ${threads} threads: ours ${show(spread(ours), 1)} img/s, PyTorch ${show(spread(peer), 1)} img/s, ratio ${show(ratios, 3)}x`,
    );
  }
}

const peer = startPeer('torch_ops.py');
try {
  const info = await peer.ask({ kind: 'info' });
  console.log(
    `device ${device}; ours: libtorch ${torch.buildInfo().torchVersion}, peer: PyTorch ${String(info.torch)}`,
  );
  if (values.only !== 'conv') await tinyOps(peer.ask);
  if (values.only !== 'tiny') await convBlocks(peer.ask);
} finally {
  peer.close();
}
