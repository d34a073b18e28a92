// k-means, assignment and PCA over 3 Gloo ranks, each holding only its block of the rows, equal the
// one-process results (workers/distributed-cluster.ts computes both): with every row training, with
// FAISS's subsample, with DATA_LIMIT's rows, and with every training row on one rank. (The
// cluster_features task over real feature files: test/tasks/distributed.test.ts.)
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describeRanks, runRanks, type RankResult } from '../support/ranks.js';
import { distributed as dist } from '../../src/torch/index.js';

const skip = dist.isAvailable() ? false : `distributed unavailable: ${dist.unavailableReason()}`;
let ranks: RankResult[] = [];

before(
  async () => {
    if (skip !== false) return;
    ranks = await runRanks(fileURLToPath(new URL('./workers/distributed-cluster.js', import.meta.url)), {
      worldSize: 3,
      timeoutMs: 100_000,
    });
  },
  { timeout: 120_000 },
);

interface KMeansCase {
  centroidDiff: number;
  objective: [number[], number[]];
  nsplit: [number[], number[]];
  trainingPoints: [number, number];
}

test('k-means on blocks of rows spread over 3 ranks gives the one-process centroids', { skip }, () => {
  assert.ok(
    ranks.every((r) => r.code === 0),
    describeRanks(ranks),
  );
  assert.deepEqual(
    ranks.map((r) => (r.result as { rows: number[] }).rows),
    [
      [0, 100],
      [100, 200],
      [200, 301],
    ],
  );
  for (const { result } of ranks) {
    for (const name of ['all', 'faissSample', 'dataLimit', 'lastBlockOnly']) {
      const c = (result as Record<string, KMeansCase>)[name]!;
      assert.ok(c.centroidDiff < 1e-4, `${name}: centroids differ by ${c.centroidDiff}`);
      const [sharded, plain] = c.objective;
      plain.forEach((o, i) => assert.ok(Math.abs(o - sharded[i]!) <= 1e-5 * o, `${name}: objective ${i}`));
      assert.deepEqual(c.nsplit[0], c.nsplit[1], name);
      assert.equal(c.trainingPoints[0], c.trainingPoints[1], name);
    }
    const r = result as Record<string, KMeansCase>;
    assert.equal(r.faissSample!.trainingPoints[0], 100, 'FAISS subsampled 301 rows to 5 x 20');
    assert.equal(r.dataLimit!.trainingPoints[0], 100, 'then 100 of the 150 DATA_LIMIT rows');
    assert.equal(r.lastBlockOnly!.trainingPoints[0], 60);
  }
});

test(
  'every rank gets the labels of every row; the PCA fit from summed statistics is the one-process fit',
  { skip },
  () => {
    for (const { result } of ranks) {
      const r = result as {
        assign: { labelsEqual: boolean; distanceDiff: number; length: number };
        pca: { meanDiff: number; projectionDiff: number; keptEnergy: [number, number] };
      };
      assert.equal(r.assign.length, 301);
      assert.equal(r.assign.labelsEqual, true);
      assert.ok(r.assign.distanceDiff < 1e-5, `distances differ by ${r.assign.distanceDiff}`);
      assert.ok(r.pca.meanDiff < 1e-6, `PCA means differ by ${r.pca.meanDiff}`);
      assert.ok(r.pca.projectionDiff < 1e-5, `PCA projections differ by ${r.pca.projectionDiff}`);
      assert.ok(Math.abs(r.pca.keptEnergy[0] - r.pca.keptEnergy[1]) < 1e-9);
    }
  },
);
