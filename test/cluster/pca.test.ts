// VISSL's preprocessing against numpy implementations of the same formulas: x / (||x|| + 1e-5) and
// PCA whitening (vissl/utils/pca.py), compared up to the sign of each principal direction.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { l2Normalize, PCA } from '../../src/cluster/index.js';
import { assertClose } from '../support/compare.js';
import { reference, tempDir } from './reference.js';

test('l2Normalize and PCA whitening match numpy', () => {
  const dir = tempDir();
  torch.manualSeed(7);
  // Correlated features of unequal scales, so the whitening has work to do.
  const x = torch.tidy(() => torch.mm(torch.randn([600, 12]), torch.randn([12, 12])).add(0.5));
  const paths = {
    x: join(dir, 'x.npy'),
    normalized: join(dir, 'normalized.npy'),
    transformed: join(dir, 'transformed.npy'),
  };
  torch.io.writeNpy(paths.x, x);
  const answer = reference<{ kept_energy: number }>('pca', { ...paths, n: 5 });
  const expectedNormalized = torch.io.readNpy(paths.normalized) as Tensor;
  const expected = torch.io.readNpy(paths.transformed) as Tensor;

  const normalized = l2Normalize(x);
  assertClose(normalized, expectedNormalized, { rtol: 1e-5, atol: 1e-6 }, 'l2Normalize');
  const pca = new PCA(5);
  const whitened = pca.fitTransform(normalized);
  assert.deepEqual(whitened.shape, [600, 5]);
  assert.ok(Math.abs(pca.keptEnergy - answer.kept_energy) < 1e-6);
  // Eigenvectors are defined up to sign: align each column to numpy's before comparing.
  const aligned = torch.tidy(() => whitened.mul(torch.sign(whitened.mul(expected).sum(0))));
  assertClose(aligned, expected, { rtol: 1e-3, atol: 1e-3 }, 'PCA whitening');
  // Whitened: the kept components are uncorrelated with equal energy (X^T X = I), not unit rows.
  const gram = torch.tidy(() => torch.mm(whitened.t(), whitened));
  assertClose(gram, torch.eye(5), { rtol: 0, atol: 1e-3 }, 'whitened X^T X');
  assert.throws(() => new PCA(13).fit(x), /13 components.*12/);
  assert.throws(() => new PCA(2).transform(x), /not fitted/);
  [x, expectedNormalized, expected, normalized, whitened, aligned, gram].forEach((t) => t.dispose());
  pca.dispose();
});
