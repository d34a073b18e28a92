// CLUSTER_BACKEND faiss: the addon runs the real FAISS, so it must agree with python3-faiss on the
// same features and seed, and with our own assignment. Skips when the addon was not built.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.js';
import { assign, faissAssign, faissAvailable, faissKmeans, kmeans } from '../../src/cluster/index.js';
import { mixture, reference, relative, tempDir } from './reference.js';

test('without the addon, the faiss backend says how to get it', async () => {
  const saved = process.env.CLUSTERFIT_FAISS;
  process.env.CLUSTERFIT_FAISS = '/nonexistent/clusterfit_faiss.node';
  try {
    const x = torch.randn([10, 2]);
    await assert.rejects(faissKmeans(x, 2), /CLUSTER_BACKEND faiss needs FAISS: apt-get install libfaiss-dev/);
    x.dispose();
  } finally {
    if (saved === undefined) delete process.env.CLUSTERFIT_FAISS;
    else process.env.CLUSTERFIT_FAISS = saved;
  }
});

const skip = faissAvailable()
  ? false
  : 'the FAISS addon is not built (apt-get install libfaiss-dev, then npm run build:faiss)';

test('the faiss backend gives python faiss.Kmeans objective and our assignment', { skip }, async () => {
  const dir = tempDir();
  const x = mixture(4000, 16, 30, 11);
  torch.io.writeNpy(join(dir, 'x.npy'), x);
  const python = reference<{ objective: number[] }>('kmeans', {
    x: join(dir, 'x.npy'),
    k: 25,
    niter: 10,
    centroids: join(dir, 'c.npy'),
  });
  const viaAddon = await faissKmeans(x, 25, { niter: 10 });
  assert.equal(viaAddon.objective.length, 10);
  viaAddon.objective.forEach((value, i) => assert.ok(relative(value, python.objective[i]!) < 1e-5, `iteration ${i}`));
  const ours = kmeans(x, 25, { niter: 10 });
  assert.ok(relative(ours.objective[9]!, viaAddon.objective[9]!) < 0.01);

  const theirs = await faissAssign(x, viaAddon.centroids);
  const mine = assign(x, viaAddon.centroids);
  assert.equal(theirs.labels.dtype, 'int64');
  assert.ok(torch.tidy(() => theirs.labels.ne(mine.labels).sum().item()) <= 2);
  assert.ok(torch.tidy(() => theirs.distances.sub(mine.distances).abs().max().item()) < 1e-3);
  [x, viaAddon.centroids, ours.centroids, theirs.labels, theirs.distances, mine.labels, mine.distances].forEach((t) =>
    t.dispose(),
  );
});
