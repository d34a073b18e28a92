import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describeRanks, runRanks } from '../../support/ranks.js';
import { distributed as dist } from '../../../src/torch/index.js';

const worker = (name: string) => fileURLToPath(new URL(`./workers/${name}.js`, import.meta.url));
const skip = dist.isAvailable() ? false : `distributed unavailable: ${dist.unavailableReason()}`;

test(
  'DDP over 2 Gloo ranks: union-batch gradients, noSync, unused parameters, identical weights',
  { skip, timeout: 90_000 },
  async () => {
    const ranks = await runRanks(worker('ddp'), { timeoutMs: 75_000 });
    assert.ok(
      ranks.every((r) => r.code === 0),
      describeRanks(ranks),
    );
    const [r0, r1] = ranks.map((r) => r.result as Record<string, unknown>);
    for (const r of [r0!, r1!]) {
      for (const diff of r.gradDiffs as number[])
        assert.ok(diff < 1e-6, `gradient differs from the union batch's by ${diff}`);
      assert.ok((r.noSyncDiff as number) < 1e-6, `noSync gradient differs by ${String(r.noSyncDiff)}`);
      assert.equal(r.findUnusedOk, true);
    }
    // Rank 1 started from other weights; after DDP's broadcast and 5 steps both hold the same ones.
    assert.deepEqual(r0!.params, r1!.params);
  },
);
