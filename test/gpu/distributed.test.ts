// c10d on a GPU, run where CLUSTERFIT_TEST_DEVICE=cuda (scripts/gpu-check.sh): NCCL at world size 1
// (the one GPU), and 2 ranks on Gloo over CUDA tensors (NCCL refuses two ranks on one device):
// collectives give torch.distributed's values and leave the tensors on the GPU, and DDP on CUDA
// gives the union batch's gradients. Skipped on CPU and where this build has no c10d.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { distributed as dist } from '../../src/torch/index.js';
import { describeRanks, runRanks } from '../support/ranks.js';
import { ON_CUDA } from '../support/device.js';

const WORKER = fileURLToPath(new URL('./workers/distributed.js', import.meta.url));
const skip = !ON_CUDA
  ? 'CUDA only (CLUSTERFIT_TEST_DEVICE=cuda)'
  : dist.isAvailable()
    ? false
    : `distributed unavailable: ${dist.unavailableReason()}`;

async function job(backend: 'nccl' | 'gloo', worldSize: number): Promise<Record<string, unknown>[]> {
  const ranks = await runRanks(WORKER, { worldSize, timeoutMs: 120_000, env: { CF_TEST_BACKEND: backend } });
  assert.ok(
    ranks.every((r) => r.code === 0),
    describeRanks(ranks),
  );
  return ranks.map((r) => r.result as Record<string, unknown>);
}

describe('c10d on CUDA', { skip }, () => {
  it('NCCL at world size 1: collectives and DDP on the GPU', { timeout: 150_000 }, async (t) => {
    if (!dist.availableBackends().includes('nccl')) {
      t.skip(`this build has no NCCL (backends: ${dist.availableBackends().join(', ')})`);
      return;
    }
    const [r] = await job('nccl', 1);
    assert.equal(r!.backend, 'nccl');
    assert.deepEqual(r!.sum, [1, 2, -1]);
    assert.deepEqual(r!.avg, [1, 2]);
    assert.deepEqual(r!.broadcast, [4, 5, 6]);
    assert.deepEqual(r!.allGather, [[0, 0]]);
    assert.deepEqual(r!.asyncSum, [1, 1]);
    assert.equal(r!.stillOnCuda, true);
    assert.equal(r!.ddpGradsOnCuda, true);
    for (const d of r!.ddpGradDiffs as number[]) assert.ok(d < 1e-5, `DDP gradient differs by ${d}`);
  });

  it('2 ranks on Gloo over CUDA tensors: collectives and DDP equal one process', { timeout: 150_000 }, async () => {
    const ranks = await job('gloo', 2);
    for (const [rank, r] of ranks.entries()) {
      assert.equal(r.backend, 'gloo');
      assert.deepEqual(r.sum, [3, 6, -2]);
      assert.deepEqual(r.avg, [1.5, 2]);
      assert.deepEqual(r.max, [1, 0]);
      assert.deepEqual(r.broadcast, [4, 5, 6]);
      assert.deepEqual(r.allGather, [
        [0, 0],
        [1, 10],
      ]);
      assert.deepEqual(r.asyncSum, [2, 2]);
      assert.equal(r.stillOnCuda, true, `rank ${rank}`);
      for (const d of r.ddpGradDiffs as number[]) assert.ok(d < 1e-5, `rank ${rank}: DDP gradient differs by ${d}`);
    }
    assert.equal(ranks[0]!.checksum, ranks[1]!.checksum, 'both ranks hold the same weights');
  });
});
