import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describeRanks, runRanks } from '../../support/ranks.js';
import { distributed as dist } from '../../../src/torch/index.js';

const worker = (name: string) => fileURLToPath(new URL(`./workers/${name}.js`, import.meta.url));
const skip = dist.isAvailable() ? false : `distributed unavailable: ${dist.unavailableReason()}`;

test('SyncBatchNorm: 2 ranks at batch B train like 1 process at batch 2B', { skip, timeout: 90_000 }, async () => {
  const ranks = await runRanks(worker('sync-batchnorm'), { timeoutMs: 75_000 });
  assert.ok(
    ranks.every((r) => r.code === 0),
    describeRanks(ranks),
  );
  for (const { result } of ranks) {
    const r = result as Record<string, unknown>;
    assert.equal(r.converted, true);
    assert.equal(r.stateNames, true);
    assert.ok((r.paramDiff as number) < 1e-5, `weights differ by ${String(r.paramDiff)}`);
    assert.ok((r.bufferDiff as number) < 1e-5, `running statistics differ by ${String(r.bufferDiff)}`);
    assert.ok((r.evalDiff as number) < 1e-5, `eval outputs differ by ${String(r.evalDiff)}`);
  }
});
