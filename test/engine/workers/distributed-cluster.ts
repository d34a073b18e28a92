// One rank of the job behind test/engine/distributed-cluster.test.ts: every rank builds the same
// seeded features, keeps only its block of rows (as cluster_features does after loadFeatures),
// runs the distributed PCA fit, k-means and assignment on it, and compares with the one-process
// results it computes itself from all the rows.
import { assign, kmeans, PCA, type KMeansOptions } from '../../../src/cluster/index.js';
import { randPerm } from '../../../src/cluster/random.js';
import { assignOnRanks, kmeansOnRanks, ownedRows } from '../../../src/engine/distributed/cluster.js';
import { sumOverRanks } from '../../../src/engine/distributed/ranks.js';
import * as torch from '../../../src/torch/index.js';
import type { Tensor } from '../../../src/torch/index.js';
import { mixture } from '../../cluster/reference.js';
import { reportResult } from '../../support/ranks.js';

// `node --test dist/test/` also runs this file on its own, outside any job: then it has nothing to do.
if (process.env.RANK === undefined) process.exit(0);

torch.distributed.initProcessGroup({ backend: 'gloo', timeoutMs: 30_000 });
const n = 301;
const k = 5;
const x = mixture(n, 6, 7, 3);
const [start, end] = ownedRows(n);
const local = torch.keep(torch.tidy(() => torch.narrow(x, 0, start, end - start).contiguous()));
const block = { start, total: n };
const maxDiff = (a: Tensor, b: Tensor): number => torch.tidy(() => a.sub(b).abs().max().item());

const cases: Record<string, { options: KMeansOptions; training: Int32Array | null }> = {
  // Every row trains; the initial centroids are rows of all the ranks.
  all: { options: { niter: 6 }, training: null },
  // FAISS's sample: 100 of the 301 rows, in FAISS's order, spread over the ranks.
  faissSample: { options: { niter: 6, maxPointsPerCentroid: 20 }, training: null },
  // DATA_LIMIT's rows (150, shuffled), then FAISS's sample of them (100).
  dataLimit: { options: { niter: 6, maxPointsPerCentroid: 20 }, training: randPerm(n, 11).subarray(0, 150) },
  // Every training row in the last rank's block: the others train on no row of their own.
  lastBlockOnly: {
    options: { niter: 6, pruning: false },
    training: Int32Array.from({ length: 60 }, (_, i) => n - 1 - i),
  },
};
const out: Record<string, unknown> = { rows: [start, end] };
for (const [name, { options, training }] of Object.entries(cases)) {
  const sharded = kmeansOnRanks(local, block, k, options, training);
  const plain = torch.tidy(() => {
    const rows = training === null ? x : torch.indexSelect(x, 0, torch.tensor(training).to('int64'));
    return kmeans(rows, k, options);
  });
  out[name] = {
    centroidDiff: maxDiff(sharded.centroids, plain.centroids),
    objective: [sharded.objective, plain.objective],
    nsplit: [sharded.iterations.map((s) => s.nsplit), plain.iterations.map((s) => s.nsplit)],
    trainingPoints: [sharded.trainingPoints, plain.trainingPoints],
  };
  if (name === 'all') {
    const mine = assignOnRanks(local, block, plain.centroids);
    const whole = assign(x, plain.centroids);
    out.assign = {
      labelsEqual: JSON.stringify(mine.labels.toArray()) === JSON.stringify(whole.labels.toArray()),
      distanceDiff: maxDiff(mine.distances, whole.distances),
      length: mine.labels.shape[0],
    };
  }
}

const spread = new PCA(3).fit(local, { sum: sumOverRanks });
const one = new PCA(3).fit(x);
// Each principal direction is defined up to sign: align the rows before comparing.
const aligned = torch.tidy(() =>
  spread.projection.mul(torch.sign(spread.projection.mul(one.projection).sum(1, { keepdim: true }))),
);
out.pca = {
  meanDiff: maxDiff(spread.mean, one.mean),
  projectionDiff: maxDiff(aligned, one.projection),
  keptEnergy: [spread.keptEnergy, one.keptEnergy],
};
torch.distributed.destroyProcessGroup();
reportResult(out);
