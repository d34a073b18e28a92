import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describeRanks, runRanks } from '../../support/ranks.js';
import { distributed as dist } from '../../../src/torch/index.js';

const worker = (name: string) => fileURLToPath(new URL(`./workers/${name}.js`, import.meta.url));
const skip = dist.isAvailable() ? false : `distributed unavailable: ${dist.unavailableReason()}`;

test('collectives over 2 Gloo ranks give torch.distributed values', { skip, timeout: 60_000 }, async () => {
  const ranks = await runRanks(worker('collectives'), { timeoutMs: 45_000 });
  assert.ok(
    ranks.every((r) => r.code === 0),
    describeRanks(ranks),
  );
  for (const { rank, result } of ranks) {
    const r = result as Record<string, unknown>;
    assert.match(String(r.beforeInit), /not initialized.*initProcessGroup/);
    assert.deepEqual(r.sum, [3, 6, -1, 14]);
    assert.deepEqual(r.avg, [1.5, 3, -0.5, 7]);
    assert.deepEqual(r.max, [2, 4, 0, 7]);
    assert.deepEqual(r.min, [1, 2, -1, 7]);
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
    assert.equal(r.afterDestroy, false);
  }
});
