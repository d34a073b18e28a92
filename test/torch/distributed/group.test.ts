import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describeRanks, runRanks, type RankResult } from '../../support/ranks.js';
import { distributed as dist } from '../../../src/torch/index.js';

// One 2-rank Gloo job (workers/group.ts) serves the collectives, DDP and SyncBatchNorm tests: a job
// costs two Node processes loading libtorch, so they share it; each test checks its own part.
const skip = dist.isAvailable() ? false : `distributed unavailable: ${dist.unavailableReason()}`;
let ranks: RankResult[] = [];
const part = (rank: number, name: string) => (ranks[rank]!.result as Record<string, Record<string, unknown>>)[name]!;

before(
  async () => {
    if (skip !== false) return;
    ranks = await runRanks(fileURLToPath(new URL('./workers/group.js', import.meta.url)), { timeoutMs: 100_000 });
  },
  { timeout: 120_000 },
);

test('the 2-rank job ran; collectives before initProcessGroup say so', { skip }, () => {
  assert.ok(
    ranks.every((r) => r.code === 0),
    describeRanks(ranks),
  );
  for (const { result } of ranks) {
    const r = result as Record<string, unknown>;
    assert.match(String(r.beforeInit), /not initialized.*initProcessGroup/);
    assert.equal(r.afterDestroy, false);
  }
});

test('collectives over 2 Gloo ranks give torch.distributed values', { skip }, () => {
  for (const rank of [0, 1]) {
    const r = part(rank, 'collectives');
    assert.deepEqual(r.sum, [3, 6, -1, 14]);
    assert.deepEqual(r.avg, [1.5, 3, -0.5, 7]);
    assert.deepEqual(r.max, [2, 4, 0, 7]);
    assert.deepEqual(r.min, [1, 2, -1, 7]);
    assert.deepEqual(r.paramAvg, [0.5, 1]);
    assert.deepEqual(r.intAvg, [2, 5]); // (2+3)/2 floored, as integer division
    assert.deepEqual(r.strided, [0, 3, 6, 9, 12, 15]);
    assert.deepEqual(r.broadcast, [4, 5, 6]);
    assert.deepEqual(r.allGather, [
      [0, 0],
      [1, 10],
    ]);
    assert.deepEqual(r.reduceScatter, rank === 0 ? [3, 6] : [9, 12]);
    assert.deepEqual(r.asyncSum, [3, 3]);
    assert.ok((r.asyncTicks as number) >= 0);
    assert.deepEqual(r.broadcastAsync, [9, 8]);
    assert.deepEqual(r.allGatherAsync, [[0.5], [1.5]]);
    assert.match(String(r.badSrc), /src=5 is not a rank/);
    assert.equal(r.worldSize, 2);
  }
});

test('DDP over 2 Gloo ranks: union-batch gradients, noSync, unused parameters, identical weights', { skip }, () => {
  const [r0, r1] = [part(0, 'ddp'), part(1, 'ddp')];
  for (const r of [r0, r1]) {
    for (const diff of r.gradDiffs as number[])
      assert.ok(diff < 1e-6, `gradient differs from the union batch's by ${diff}`);
    assert.ok((r.noSyncDiff as number) < 1e-6, `noSync gradient differs by ${String(r.noSyncDiff)}`);
    assert.equal(r.findUnusedOk, true);
    assert.match(
      String(r.mismatch),
      /rank [01] has 2 parameters \(1[05] values\) but rank [01] has 2 \(1[05] values\)/,
    );
  }
  // Rank 1 started from other weights; DDP's broadcast gave it rank 0's, and after 5 steps both
  // still hold the same ones.
  assert.equal(r0.initialChecksum, r1.initialChecksum);
  assert.deepEqual(r0.params, r1.params);
});

test('SyncBatchNorm: 2 ranks at batch B train like 1 process at batch 2B', { skip }, () => {
  for (const rank of [0, 1]) {
    const r = part(rank, 'syncBatchNorm');
    assert.equal(r.converted, true);
    assert.equal(r.stateNames, true);
    assert.ok((r.paramDiff as number) < 1e-5, `weights differ by ${String(r.paramDiff)}`);
    assert.ok((r.bufferDiff as number) < 1e-5, `running statistics differ by ${String(r.bufferDiff)}`);
    assert.ok((r.evalDiff as number) < 1e-5, `eval outputs differ by ${String(r.evalDiff)}`);
  }
});
