// Training and assignment from an .npy file read in chunks give what the in-memory path gives.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.js';
import { assign, assignNpy, kmeans, l2Normalize, readTrainingSet } from '../../src/cluster/index.js';
import { mixture, tempDir } from './reference.js';

test('readTrainingSet picks FAISS sample in FAISS order; assignNpy streams the assignment', () => {
  const path = join(tempDir(), 'features.npy');
  const x = mixture(3000, 12, 15, 21);
  torch.io.writeNpy(path, x);
  const reader = new torch.io.NpyReader(path);
  const options = { maxPointsPerCentroid: 64, readRows: 333, transform: (t: torch.Tensor) => l2Normalize(t) };
  const normalized = l2Normalize(x);
  const inMemory = kmeans(normalized, 10, { niter: 5, maxPointsPerCentroid: 64 });
  const trainingSet = readTrainingSet(reader, 10, options);
  assert.deepEqual(trainingSet.shape, [640, 12]);
  const streamed = kmeans(trainingSet, 10, { niter: 5, maxPointsPerCentroid: 64 });
  assert.deepEqual(streamed.objective, inMemory.objective);

  const whole = readTrainingSet(reader, 12, { readRows: 1000 });
  assert.ok(
    torch.tidy(() => torch.all(whole.eq(x)).item()),
    'no subsampling: every row, in order',
  );

  const fromFile = assignNpy(reader, inMemory.centroids, options);
  const direct = assign(normalized, inMemory.centroids);
  assert.ok(torch.tidy(() => torch.all(fromFile.labels.eq(direct.labels)).item()));
  reader.close();
  [x, normalized, inMemory.centroids, trainingSet, streamed.centroids, whole, fromFile.labels, fromFile.distances]
    .concat([direct.labels, direct.distances])
    .forEach((t) => t.dispose());
});
