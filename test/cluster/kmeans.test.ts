// k-means against python3-faiss's faiss.Kmeans on the same features: objectives, splits of empty
// clusters, subsampling, spherical mode; assignment against IndexFlatL2 search; errors; no leaks.
import assert from 'node:assert/strict';
import { freemem, totalmem } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { assign, defaultBoundsMemory, kmeans, trainingSample, type KMeansOptions } from '../../src/cluster/index.js';
import { mixture, reference, relative, tempDir } from './reference.js';

const dir = tempDir();
const owned: Tensor[] = [];
after(() => owned.forEach((t) => t.dispose()));

interface FaissAnswer {
  objective: number[];
  nsplit: number[];
  imbalance: number[];
}

/** Runs our k-means and faiss.Kmeans on the same features. */
function both(name: string, x: Tensor, k: number, options: KMeansOptions & { niter: number }) {
  const path = join(dir, `${name}.npy`);
  torch.io.writeNpy(path, x);
  const centroids = join(dir, `${name}_centroids.npy`);
  const faiss = reference<FaissAnswer>('kmeans', {
    x: path,
    k,
    niter: options.niter,
    spherical: options.spherical ?? false,
    centroids,
    ...(options.maxPointsPerCentroid === undefined ? {} : { max_points_per_centroid: options.maxPointsPerCentroid }),
  });
  const ours = kmeans(x, k, options);
  owned.push(ours.centroids);
  return { ours, faiss, faissCentroids: owned[owned.push(torch.io.readNpy(centroids) as Tensor) - 1]! };
}

test('objective matches faiss.Kmeans: same initial centroids, final objective within 1%', () => {
  const x = mixture(5000, 32, 60, 1);
  owned.push(x);
  const { ours, faiss } = both('plain', x, 50, { niter: 20 });
  assert.equal(ours.objective.length, 20);
  // The same seeded sample of initial centroids gives the same first objective up to rounding.
  assert.ok(relative(ours.objective[0]!, faiss.objective[0]!) < 1e-5, `${ours.objective[0]} vs ${faiss.objective[0]}`);
  assert.ok(
    relative(ours.objective[19]!, faiss.objective[19]!) < 0.01,
    `${ours.objective[19]} vs ${faiss.objective[19]}`,
  );
  assert.ok(relative(ours.iterations[0]!.imbalanceFactor, faiss.imbalance[0]!) < 1e-6);
  for (let i = 1; i < 20; i++)
    assert.ok(ours.objective[i]! <= ours.objective[i - 1]! * (1 + 1e-6), 'Lloyd never increases');
  assert.deepEqual(ours.centroids.shape, [50, 32]);
});

test('more than K * maxPointsPerCentroid points are subsampled as FAISS does', () => {
  const x = mixture(3000, 16, 12, 2);
  owned.push(x);
  const { ours, faiss } = both('subsample', x, 10, { niter: 8, maxPointsPerCentroid: 64 });
  assert.equal(ours.trainingPoints, 640);
  assert.equal(trainingSample(3000, 10, { maxPointsPerCentroid: 64 })!.length, 640);
  assert.equal(trainingSample(640, 10, { maxPointsPerCentroid: 64 }), null);
  assert.ok(relative(ours.objective[0]!, faiss.objective[0]!) < 1e-5, `${ours.objective[0]} vs ${faiss.objective[0]}`);
  assert.ok(relative(ours.objective[7]!, faiss.objective[7]!) < 0.01);
});

test('empty clusters are split from large ones as FAISS splits them', () => {
  // Half the points are copies of 20 of the others: initial centroids picked twice among the
  // copies are equal, the first one takes all their points and the second comes out empty.
  const x = torch.tidy(() => {
    const distinct = mixture(2000, 8, 10, 3);
    return torch.cat([distinct, torch.indexSelect(distinct, 0, torch.randint(0, 20, [2000]))]);
  });
  owned.push(x);
  const { ours, faiss } = both('duplicates', x, 30, { niter: 10 });
  assert.ok(faiss.nsplit[0]! > 0, 'the case must make FAISS split clusters');
  assert.deepEqual(
    ours.iterations.map((s) => s.nsplit),
    faiss.nsplit,
  );
  assert.ok(relative(ours.objective[0]!, faiss.objective[0]!) < 1e-5);
  assert.ok(relative(ours.objective[9]!, faiss.objective[9]!) < 0.01, `${ours.objective[9]} vs ${faiss.objective[9]}`);
});

test('spherical mode: unit-norm centroids, objective (sum of inner products) within 1% of FAISS', () => {
  const x = mixture(2000, 16, 20, 4);
  owned.push(x);
  const { ours, faiss } = both('spherical', x, 16, { niter: 10, spherical: true });
  const norms = ours.centroids.norm(2, 1);
  assert.ok(norms.sub(1).abs().max().item() < 1e-5);
  norms.dispose();
  assert.ok(relative(ours.objective[0]!, faiss.objective[0]!) < 1e-5);
  assert.ok(relative(ours.objective[9]!, faiss.objective[9]!) < 0.01);
});

test('assign gives the nearest centroid as IndexFlatL2 search does, in chunks or not', () => {
  const x = mixture(3000, 24, 30, 5);
  const centroids = torch.tidy(() => torch.randn([40, 24]).mul(3));
  owned.push(x, centroids);
  torch.io.writeNpy(join(dir, 'assign_x.npy'), x);
  torch.io.writeNpy(join(dir, 'assign_c.npy'), centroids);
  const paths = { labels: join(dir, 'assign_l.npy'), distances: join(dir, 'assign_d.npy') };
  reference('search', { x: join(dir, 'assign_x.npy'), centroids: join(dir, 'assign_c.npy'), ...paths });
  const labels = torch.io.readNpy(paths.labels) as Tensor;
  const distances = torch.io.readNpy(paths.distances) as Tensor;
  const whole = assign(x, centroids);
  const chunked = assign(x, centroids, { chunkSize: 7 });
  owned.push(labels, distances, whole.labels, whole.distances, chunked.labels, chunked.distances);
  assert.equal(whole.labels.dtype, 'int64');
  const mismatches = torch.tidy(() => whole.labels.ne(labels).sum().item());
  assert.ok(mismatches <= 2, `${mismatches} labels differ from FAISS (only exact ties may)`);
  assert.ok(torch.tidy(() => whole.distances.sub(distances).abs().div(distances.add(1)).max().item()) < 1e-4);
  assert.ok(torch.tidy(() => torch.all(chunked.labels.eq(whole.labels)).item()));
  assert.ok(torch.tidy(() => chunked.distances.sub(whole.distances).abs().max().item()) < 1e-3);
});

test("pruned assignment reaches the full search's clustering while comparing fewer points", () => {
  // Overlapping modes and K above their number: the clustering keeps moving for many iterations.
  const x = mixture(4000, 16, 30, 7);
  owned.push(x);
  const options = { niter: 25, chunkSize: 300 };
  // 'always': the bounds every iteration, so the count of points searched does not depend on how
  // busy the machine is (by default a pruned pass slower than the last full one falls back).
  const pruned = kmeans(x, 60, { ...options, pruning: 'always' });
  const full = kmeans(x, 60, { ...options, pruning: false });
  owned.push(pruned.centroids, full.centroids);
  pruned.objective.forEach((value, i) =>
    assert.ok(relative(value, full.objective[i]!) < 1e-5, `iteration ${i}: ${value} vs ${full.objective[i]}`),
  );
  assert.ok(torch.tidy(() => pruned.centroids.sub(full.centroids).abs().max().item()) < 1e-3);
  assert.deepEqual(
    pruned.iterations.map((s) => s.nsplit),
    full.iterations.map((s) => s.nsplit),
  );
  const searched = pruned.iterations.map((s) => s.searched!);
  assert.ok(full.iterations.every((s) => s.searched === 4000));
  assert.equal(searched[0], 4000, 'the first iteration has no bounds yet');
  const total = searched.reduce((a, b) => a + b, 0);
  assert.ok(total < 0.6 * 4000 * 25, `points searched per iteration: ${searched.join(', ')}`);
});

test('NUM_CLUSTERS > N is an error naming both numbers and the fix; too few points warn as FAISS does', () => {
  const x = torch.randn([20, 4]);
  owned.push(x);
  assert.throws(() => kmeans(x, 21), /NUM_CLUSTERS \(21\).*\(20\).*Lower CLUSTERFIT\.NUM_CLUSTERS/);
  assert.throws(() => assign(x, torch.randn([3, 5])), /4 dimensions but the centroids have 5/);
  const warnings: string[] = [];
  const result = kmeans(x, 2, { niter: 3, warn: (m) => warnings.push(m) });
  owned.push(result.centroids);
  assert.match(warnings[0] ?? '', /clustering 20 points to 2 centroids: FAISS suggests at least 78 training points/);
  const nan = torch.tidy(() => torch.cat([x, torch.full([1, 4], Number.NaN)]));
  owned.push(nan);
  assert.throws(() => kmeans(nan, 2), /NaN or Inf values \(in rows 0\.\.20\)/);
  assert.throws(() => kmeans(torch.zeros([4, 2], { dtype: 'float64' }), 2), /2-d float32 tensor/);
});

test('N == K copies the points, as FAISS does', () => {
  const x = torch.randn([6, 3]);
  const result = kmeans(x, 6);
  owned.push(x, result.centroids);
  assert.deepEqual(result.centroids.toArray(), x.toArray());
  assert.deepEqual(result.objective, [0]);
});

test('deterministic for a seed, and no tensor leaks across iterations', () => {
  const x = mixture(1500, 8, 10, 6);
  owned.push(x);
  const before = torch.memoryStats().liveTensors;
  const live: number[] = [];
  const first = kmeans(x, 12, {
    niter: 6,
    chunkSize: 100,
    onIteration: () => live.push(torch.memoryStats().liveTensors),
  });
  assert.ok(
    live.every((n) => n === live[0]),
    `live tensors per iteration: ${live.join(', ')}`,
  );
  const second = kmeans(x, 12, { niter: 6, chunkSize: 100 });
  assert.deepEqual(first.objective, second.objective);
  assert.ok(torch.tidy(() => torch.all(first.centroids.eq(second.centroids)).item()));
  first.centroids.dispose();
  second.centroids.dispose();
  assert.equal(torch.memoryStats().liveTensors, before);
});

test('bounds per point and centroid (the CPU default) reach the full search’s clustering, computing few distances', () => {
  // Overlapping modes: the clustering keeps moving for many iterations, and every centroid moves.
  const x = mixture(4000, 16, 30, 7);
  owned.push(x);
  const options = { niter: 25, chunkSize: 300 };
  const elkan = kmeans(x, 60, options);
  const full = kmeans(x, 60, { ...options, pruning: false });
  const perPoint = kmeans(x, 60, { ...options, pruning: true, boundsMemory: 60 * 4000 * 4 - 1 });
  owned.push(elkan.centroids, full.centroids, perPoint.centroids);
  elkan.objective.forEach((value, i) =>
    assert.ok(relative(value, full.objective[i]!) < 1e-5, `iteration ${i}: ${value} vs ${full.objective[i]}`),
  );
  assert.ok(torch.tidy(() => elkan.centroids.sub(full.centroids).abs().max().item()) < 1e-3);
  const searched = elkan.iterations.map((s) => s.searched!);
  assert.equal(searched[0], 4000, 'the first iteration computes every distance');
  // Distances computed, in points' worth: a tenth of the full search's over the run (the one
  // bound per point of pruned.ts needs more than half of it here).
  const total = searched.reduce((a, b) => a + b, 0);
  assert.ok(total < 0.1 * 4000 * 25, `points' worth of distances per iteration: ${searched.join(', ')}`);
  // One byte short of the bounds' size: one bound per point instead, which proves far less.
  const perPointTotal = perPoint.iterations.reduce((a, s) => a + s.searched!, 0);
  assert.ok(perPointTotal > 2 * total, `per point ${perPointTotal}, per point and centroid ${total}`);
});

test('the bounds’ default memory: half of what is available, at most a quarter of the machine, shared by its ranks', () => {
  const alone = defaultBoundsMemory();
  assert.ok(alone > 0 && alone <= totalmem() / 4, `${alone} bytes of ${totalmem()}`);
  // freemem() moves between calls: compare within a tenth.
  assert.ok(Math.abs(alone - Math.min(totalmem() / 4, freemem() / 2)) < 0.1 * alone);
  assert.ok(Math.abs(defaultBoundsMemory(4) * 4 - alone) < 0.1 * alone);
  assert.ok(Math.abs(defaultBoundsMemory(0) - alone) < 0.1 * alone, 'no ranks counts as one');
});

test('a chunk with most pairs in doubt is searched by GEMM, with the same results', () => {
  // Unclustered points: right after the first iteration most pairs are in doubt.
  torch.manualSeed(3);
  const x = torch.randn([3000, 32]);
  owned.push(x);
  const options = { niter: 8, chunkSize: 500 };
  const elkan = kmeans(x, 40, options);
  const full = kmeans(x, 40, { ...options, pruning: false });
  owned.push(elkan.centroids, full.centroids);
  elkan.objective.forEach((value, i) =>
    assert.ok(relative(value, full.objective[i]!) < 1e-5, `iteration ${i}: ${value} vs ${full.objective[i]}`),
  );
  assert.ok(torch.tidy(() => elkan.centroids.sub(full.centroids).abs().max().item()) < 1e-3);
  // Every point's distance to its own centroid (3,000 / 40 points' worth), then every chunk by GEMM.
  assert.equal(elkan.iterations[1]!.searched, 3000 + 3000 / 40, 'iteration 1 searched every chunk by GEMM');
  assert.ok(elkan.iterations[7]!.searched! < 3000);
});

test('a pruned update with most rows in doubt searches every row in place, with the full search’s results', () => {
  // Unclustered points: after the first iteration the moved bounds prove almost no row, so the
  // adaptive update skips tightening and searches all rows; its labels and the bounds it leaves
  // must keep every later iteration equal to the full search.
  torch.manualSeed(3);
  const x = torch.randn([3000, 32]);
  owned.push(x);
  const options = { niter: 8, chunkSize: 500 };
  const adaptive = kmeans(x, 40, { ...options, pruning: true, boundsMemory: 0 });
  const full = kmeans(x, 40, { ...options, pruning: false });
  owned.push(adaptive.centroids, full.centroids);
  adaptive.objective.forEach((value, i) =>
    assert.ok(relative(value, full.objective[i]!) < 1e-5, `iteration ${i}: ${value} vs ${full.objective[i]}`),
  );
  assert.ok(torch.tidy(() => adaptive.centroids.sub(full.centroids).abs().max().item()) < 1e-3);
  // Iteration 1 is always a pruned update (no clock has spoken yet): here it searched every row.
  assert.equal(adaptive.iterations[1]!.searched, 3000);
});
