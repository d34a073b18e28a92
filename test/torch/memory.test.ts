// Memory management: dispose drops one reference, tidy frees temporaries, stats are exact, and a
// training loop leaks nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';

const F = torch.functional;
const live = (): number => torch.memoryStats().liveTensors;

test('dispose drops one reference: a view outlives its disposed base', () => {
  const base = torch.arange(6).float();
  const view = base.view(2, 3);
  base.dispose();
  assert.deepEqual(view.sum(0).toArray(), [3, 5, 7]);
  view.dispose();
});

test('storage bytes are counted once per storage, and released with the last handle', () => {
  const before = torch.memoryStats();
  const a = torch.zeros([1000]);
  const b = a.view(10, 100);
  const after = torch.memoryStats();
  assert.equal(after.liveTensors - before.liveTensors, 2);
  assert.equal(after.liveStorages - before.liveStorages, 1);
  assert.equal(after.cpuBytes - before.cpuBytes, 4000);
  a.dispose();
  assert.equal(torch.memoryStats().cpuBytes - before.cpuBytes, 4000, 'the view still holds the storage');
  b.dispose();
  assert.equal(torch.memoryStats().cpuBytes, before.cpuBytes);
  assert.equal(live(), before.liveTensors);
});

test('tidy frees temporaries, keeps results (also nested in objects) and kept tensors', () => {
  const before = live();
  let kept: Tensor | undefined;
  const result = torch.tidy(() => {
    const a = torch.ones([4]);
    const b = a.mul(2).add(1);
    kept = torch.keep(b.sub(1));
    return { total: b.sum(), parts: [b.max()] };
  });
  assert.equal(live() - before, 3);
  assert.equal(result.total.item(), 12);
  assert.equal(result.parts[0]!.item(), 3);
  assert.deepEqual(kept!.toArray(), [2, 2, 2, 2]);
  result.total.dispose();
  result.parts[0]!.dispose();
  kept!.dispose();
  assert.equal(live(), before);
});

test('nested tidy hands results to the enclosing scope; exceptions still free the scope', () => {
  const before = live();
  torch.tidy(() => {
    const inner = torch.tidy(() => torch.ones([2]).add(1));
    assert.equal(inner.isDisposed, false);
  });
  assert.equal(live(), before);
  assert.throws(() =>
    torch.tidy(() => {
      torch.ones([3]);
      throw new Error('boom');
    }),
  );
  assert.equal(live(), before);
  assert.equal(torch.scopeDepth(), 0);
});

test('a scope of more tensors than one release batch frees them all, the disposed ones once', () => {
  const before = torch.memoryStats();
  const survivor = torch.tidy(() => {
    const x = torch.ones([10]);
    for (let i = 0; i < 1000; i++) {
      const y = x.add(i);
      if (i % 7 === 0) y.dispose(); // released at once, then skipped by the scope
    }
    return x.sum();
  });
  assert.equal(live() - before.liveTensors, 1);
  assert.equal(survivor.item(), 10);
  survivor.dispose();
  const after = torch.memoryStats();
  assert.equal(after.liveTensors, before.liveTensors);
  assert.equal(after.cpuBytes, before.cpuBytes);
});

test('tidy refuses async functions', () => {
  assert.throws(() => torch.tidy(async () => torch.ones([1])), /cannot take an async function/);
});

test('using disposes at the end of the block', () => {
  const before = live();
  {
    using t = torch.ones([8]);
    assert.equal(t.numel, 8);
  }
  assert.equal(live(), before);
});

test(
  'handles that are never disposed are reclaimed by the garbage collector',
  { skip: !global.gc && 'run node with --expose-gc' },
  async () => {
    const before = torch.memoryStats();
    (() => {
      for (let i = 0; i < 100; i++) torch.ones([256]);
    })();
    for (let i = 0; i < 5 && torch.memoryStats().reclaimedByGc - before.reclaimedByGc < 100; i++) {
      global.gc!();
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(torch.memoryStats().reclaimedByGc - before.reclaimedByGc >= 100);
    assert.ok(torch.memoryStats().liveTensors <= before.liveTensors);
  },
);

test(
  'undisposed tensors beyond one safety-net registration batch are reclaimed by the garbage collector',
  { skip: !global.gc && 'run node with --expose-gc' },
  async () => {
    const before = torch.memoryStats();
    // More than one registration batch in a single synchronous run, half of them disposed at once.
    (() => {
      for (let i = 0; i < 3000; i++) {
        const t = torch.ones([16]);
        if (i % 2 === 0) t.dispose();
      }
    })();
    for (let i = 0; i < 10 && torch.memoryStats().reclaimedByGc - before.reclaimedByGc < 1500; i++) {
      global.gc!();
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(torch.memoryStats().reclaimedByGc - before.reclaimedByGc >= 1500);
    assert.ok(torch.memoryStats().liveTensors <= before.liveTensors);
  },
);

test('10,000 training steps of a small conv net inside tidy: no leaked tensors, RSS growth under 50 MB', () => {
  torch.manualSeed(0);
  const params = [
    torch.keep(torch.randn([8, 3, 3, 3]).mul(0.1).requiresGrad_(true)),
    torch.keep(torch.zeros([8]).requiresGrad_(true)),
    torch.keep(torch.ones([8]).requiresGrad_(true)),
    torch.keep(torch.zeros([8]).requiresGrad_(true)),
    torch.keep(torch.randn([10, 8]).mul(0.1).requiresGrad_(true)),
    torch.keep(torch.zeros([10]).requiresGrad_(true)),
  ];
  const [convW, convB, bnW, bnB, fcW, fcB] = params as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
  const runningMean = torch.keep(torch.zeros([8]));
  const runningVar = torch.keep(torch.ones([8]));
  const x = torch.keep(torch.randn([4, 3, 8, 8]));
  const y = torch.keep(torch.randint(0, 10, [4]));

  const step = (): number =>
    torch.tidy(() => {
      const h = F.conv2d(x, convW, convB, { padding: 1 });
      const n = F.batchNorm(h, runningMean, runningVar, { weight: bnW, bias: bnB, training: true });
      const pooled = F.adaptiveAvgPool2d(F.relu(F.maxPool2d(n, 2)), 1).flatten(1);
      const loss = F.crossEntropy(F.linear(pooled, fcW, fcB), y);
      loss.backward();
      torch.noGrad(() => {
        for (const p of params) {
          const g = p.grad!;
          p.sub_(g, 0.01);
          g.zero_();
        }
      });
      return loss.item();
    });

  for (let i = 0; i < 200; i++) step(); // warm-up: allocator caches, JIT, lazy op resolution
  const liveBefore = live();
  const rssBefore = process.memoryUsage().rss;
  let firstLoss = NaN;
  let lastLoss = NaN;
  for (let i = 0; i < 10_000; i++) {
    const loss = step();
    if (i === 0) firstLoss = loss;
    lastLoss = loss;
    if (i % 1000 === 0) assert.equal(live(), liveBefore, `live tensors changed at step ${i}`);
  }
  const rssGrowthMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  assert.equal(live(), liveBefore);
  assert.ok(rssGrowthMb < 50, `RSS grew by ${rssGrowthMb.toFixed(1)} MB`);
  assert.ok(lastLoss < firstLoss, `training should reduce the loss (${firstLoss} -> ${lastLoss})`);
  for (const t of [...params, runningMean, runningVar, x, y]) t.dispose();
});
