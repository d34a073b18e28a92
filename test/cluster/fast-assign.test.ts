// The reduced-precision distance path (fast-assign.ts): bfloat16- or TF32-rounded GEMMs whose
// near-ties are searched again in float32 give the float32 search's labels (an exception only
// where float32 itself cannot tell two centroids apart) and the float32 objective. On CPU, TF32
// does not exist ('tf32' is float32 there), so the bfloat16 rounding is what runs the bound here.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { assign, kmeans, l2Normalize } from '../../src/cluster/index.js';
import { mixture, relative } from './reference.js';

const owned: Tensor[] = [];
after(() => owned.forEach((t) => t.dispose()));
const keep = (t: Tensor): Tensor => owned[owned.push(t) - 1]!;

/** Rows where labels differ and float32 separates the two centroids by more than its own rounding. */
function realDisagreements(x: Tensor, centroids: Tensor, a: Tensor, b: Tensor): number {
  return torch.tidy(() => {
    const la = a.toArray();
    const lb = b.toArray();
    let count = 0;
    la.forEach((label, i) => {
      if (label === lb[i]) return;
      const row = torch.narrow(x, 0, i, 1).double();
      const da = row
        .sub(torch.narrow(centroids, 0, label, 1).double())
        .square()
        .sum()
        .item();
      const db = row
        .sub(torch.narrow(centroids, 0, lb[i]!, 1).double())
        .square()
        .sum()
        .item();
      if (Math.abs(da - db) > 1e-5 * Math.max(da, db)) count += 1;
    });
    return count;
  });
}

test('bfloat16 assignment equals the float32 search, near-ties rechecked, distances in float32', () => {
  // L2-normalised features as ClusterFit clusters them, many centroids close together.
  const x = keep(l2Normalize(mixture(4000, 64, 40, 3)));
  const centroids = keep(
    torch.tidy(() =>
      torch.indexSelect(x, 0, torch.randperm(4000).narrow(0, 0, 200)).add(torch.randn([200, 64]).mul(0.01)),
    ),
  );
  const exact = assign(x, centroids, { chunkSize: 700 });
  const fast = assign(x, centroids, { chunkSize: 700, precision: 'bfloat16' });
  assert.equal(realDisagreements(x, centroids, fast.labels, exact.labels), 0);
  const fd = fast.distances.toArray();
  exact.distances.toArray().forEach((v, i) => assert.ok(Math.abs(v - fd[i]!) <= 1e-5 + 1e-4 * v, `distance ${i}`));
  const tf32 = assign(x, centroids, { precision: 'tf32' });
  assert.equal(realDisagreements(x, centroids, tf32.labels, exact.labels), 0);
  [exact, fast, tf32].forEach((r) => (r.labels.dispose(), r.distances.dispose()));
});

test('an exact tie between two centroids is flagged and resolved as float32 resolves it (lowest index)', () => {
  const c = keep(
    torch.tensor(
      [
        [1, 0],
        [0, 1],
        [5, 5],
      ],
      { dtype: 'float32' },
    ),
  );
  const x = keep(
    torch.tensor(
      [
        [0.5, 0.5],
        [0.9, 0.1],
      ],
      { dtype: 'float32' },
    ),
  );
  const exact = assign(x, c);
  const fast = assign(x, c, { precision: 'bfloat16' });
  assert.deepEqual(fast.labels.toArray(), exact.labels.toArray());
  assert.deepEqual(fast.labels.toArray(), [0, 0]);
});

test('k-means with bfloat16 distances: objective within 0.1% of the float32 search, near-ties counted', () => {
  const x = keep(l2Normalize(mixture(6000, 48, 30, 5)));
  const options = { niter: 10, seed: 7, pruning: false };
  const exact = kmeans(x, 60, options);
  const rechecks: number[] = [];
  const fast = kmeans(x, 60, {
    ...options,
    precision: 'bfloat16',
    onIteration: (s) => rechecks.push(s.rechecked ?? -1),
  });
  owned.push(exact.centroids, fast.centroids);
  exact.objective.forEach((o, i) =>
    assert.ok(relative(fast.objective[i]!, o) < 1e-3, `iteration ${i}: ${fast.objective[i]} vs ${o}`),
  );
  assert.equal(rechecks.length, 10);
  assert.ok(rechecks.every((r) => r >= 0 && r < 6000));
});
