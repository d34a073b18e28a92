// The GC safety net under a real training loop: a CIFAR ResNet-20 (batch 8, SGD with momentum)
// that awaits between steps and never disposes anything stays bounded in memory, because
// libtorch's CPU allocations count toward a budget that makes V8 collect the dropped handles; the
// same loop inside tidy() keeps a flat live-tensor count and needs no collection. The full
// 1,500-step measurement is bench/torch/undisposed-loop.ts; this is its short version for CI.
// Runs without --expose-gc on purpose (the budget must not depend on it) in a child process, so
// that the RSS measured is the loop's alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { gcBudget, gcBudgetCollections, randn, setGcBudget, type Tensor } from '../../src/torch/index.js';

const LOOP = new URL('../../bench/torch/undisposed-loop.js', import.meta.url).pathname;

function runLoop(steps: number, warmup: number, tidy: boolean): string {
  return execFileSync(process.execPath, [LOOP, '--steps', String(steps), '--warmup', String(warmup)], {
    encoding: 'utf8',
    env: { ...process.env, TIDY: tidy ? '1' : '', TRACE: '' },
    timeout: 600_000,
  });
}

function numbers(line: string): { growth: number; reclaimed: number; live: [number, number] } {
  const growth = Number(/growth (-?\d+) MB/.exec(line)?.[1]);
  const reclaimed = Number(/(\d+) handles reclaimed/.exec(line)?.[1]);
  const live = /live tensors (\d+) -> (\d+)/.exec(line)!;
  return { growth, reclaimed, live: [Number(live[1]), Number(live[2])] };
}

test('a ResNet-20 loop that never disposes stays bounded; the tidy loop stays flat', { timeout: 900_000 }, () => {
  const dropped = numbers(runLoop(300, 40, false));
  assert.ok(dropped.growth < 150, `RSS grew ${dropped.growth} MB over 300 undisposed steps`);
  assert.ok(dropped.reclaimed > 300 * 3, `only ${dropped.reclaimed} handles were reclaimed by the GC`);
  const tidy = numbers(runLoop(60, 20, true));
  assert.equal(tidy.live[1], tidy.live[0], 'the tidy loop leaks no handle');
  assert.equal(tidy.reclaimed, 0, 'and leaves nothing to the GC');
});

test('handles that outlive a turn of the event loop and are then disposed cost no collection', async () => {
  const saved = gcBudget();
  setGcBudget(2 ** 20); // 1 MB: each step below allocates 4 MB
  try {
    // A training loop's shape: a batch made, held across an await (so it joins the safety net),
    // then disposed by its owner.
    const before = gcBudgetCollections();
    for (let step = 0; step < 20; step++) {
      const batch: Tensor[] = Array.from({ length: 4 }, () => randn([512, 512]));
      await nextTurn();
      for (const t of batch) t.dispose();
    }
    assert.equal(gcBudgetCollections(), before, 'disposed handles were counted as dropped');
    // The same loop dropping its batch: each later step finds undisposed handles and collects.
    for (let step = 0; step < 20; step++) {
      Array.from({ length: 4 }, () => randn([512, 512]));
      await nextTurn();
    }
    assert.ok(
      gcBudgetCollections() - before >= 10,
      `${gcBudgetCollections() - before} collections for 20 dropping steps`,
    );
  } finally {
    setGcBudget(saved);
  }
});
