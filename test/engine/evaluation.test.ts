// Evaluation on frozen features: top-k accuracy counting, kNN accuracy against the same formula run
// by PyTorch, and the fast linear probe on features whose classes are (and are not) linearly
// separable.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, randint, randn, tensor, tidy, type Tensor } from '../../src/torch/index.js';
import { AccuracyMeter } from '../../src/engine/meters.js';
import { knnAccuracy } from '../../src/engine/knn.js';
import { linearProbe } from '../../src/engine/linear-probe.js';
import { Oracle } from '../support/oracle.js';

const oracle = new Oracle();
after(() => oracle.close());

describe('AccuracyMeter', () => {
  it('counts top-1 and top-k hits and ignores the ignore index', () => {
    const meter = new AccuracyMeter([1, 2]);
    const scores = tensor([
      [0.9, 0.05, 0.05],
      [0.2, 0.5, 0.3],
      [0.1, 0.3, 0.6],
      [0.5, 0.4, 0.1],
    ]);
    // row 0: top1 hit; row 1: label 2 is second best; row 2: label 0 is last; row 3: ignored.
    meter.update(scores, tensor([0, 2, 0, -1], { dtype: 'int64' }));
    assert.deepEqual(meter.value(), { top1: (100 * 1) / 3, top2: (100 * 2) / 3 });
    assert.equal(meter.count, 3);
    meter.reset();
    assert.deepEqual(meter.value(), { top1: 0, top2: 0 });
    meter.dispose();
  });

  it('clamps k to the number of classes', () => {
    const meter = new AccuracyMeter([1, 5]);
    meter.update(tensor([[0.1, 0.9]]), tensor([0], { dtype: 'int64' }));
    assert.deepEqual(meter.value(), { top1: 0, top5: 100 });
    meter.dispose();
  });
});

describe('kNN accuracy', () => {
  it('equals the weighted-vote formula computed by PyTorch', async () => {
    manualSeed(3);
    const trainFeatures = randn([300, 16]);
    const trainLabels = randint(0, 7, [300]);
    const testFeatures = randn([130, 16]);
    const testLabels = randint(0, 7, [130]);
    const ours = knnAccuracy(
      { features: trainFeatures, labels: trainLabels },
      { features: testFeatures, labels: testLabels },
      { numClasses: 7, k: 20, temperature: 0.07, topk: [1, 5], chunkSize: 50 },
    );
    const { outputs } = await oracle.run({
      inputs: { xtr: trainFeatures, ytr: trainLabels, xte: testFeatures, yte: testLabels },
      setup: `
def knn(xtr, ytr, xte, yte):
    bank = F.normalize(xtr, dim=1)
    q = F.normalize(xte, dim=1)
    sim, idx = (q @ bank.t()).topk(20, dim=1)
    votes = torch.zeros(q.shape[0], 7).scatter_add_(1, ytr[idx], (sim / 0.07).exp())
    ranked = votes.topk(5, dim=1).indices
    hit = ranked.eq(yte[:, None])
    return [100.0 * hit[:, :1].sum().item() / len(yte), 100.0 * hit.sum().item() / len(yte)]
`,
      code: 'knn(xtr, ytr, xte, yte)',
    });
    assert.deepEqual([ours.top1, ours.top5], outputs);
  });
});

describe('linear probe', () => {
  function blobs(n: number, seed: number): { features: Tensor; labels: Tensor } {
    manualSeed(seed);
    return tidy(() => {
      const labels = randint(0, 4, [n]);
      const centres = tensor([
        [4, 0, 0, 0, 0, 0],
        [0, 4, 0, 0, 0, 0],
        [0, 0, 4, 0, 0, 0],
        [0, 0, 0, 4, 0, 0],
      ]);
      return { features: centres.indexSelect(0, labels).add(randn([n, 6])), labels };
    });
  }

  it('separates well-separated classes', () => {
    const result = linearProbe(blobs(600, 1), blobs(200, 2), {
      numClasses: 4,
      epochs: 20,
      batchSize: 64,
      lrAt: () => 0.1,
    });
    assert.ok((result.test.top1 ?? 0) > 90, `test top-1 ${result.test.top1}`);
    assert.ok((result.train.top1 ?? 0) > 90, `train top-1 ${result.train.top1}`);
  });

  it('stays near chance when labels are unrelated to the features', () => {
    manualSeed(5);
    const train = { features: randn([600, 6]), labels: randint(0, 4, [600]) };
    const test = { features: randn([400, 6]), labels: randint(0, 4, [400]) };
    const result = linearProbe(train, test, { numClasses: 4, epochs: 20, batchSize: 64, lrAt: () => 0.1 });
    assert.ok((result.test.top1 ?? 100) < 40, `test top-1 ${result.test.top1} on random labels`);
  });

  it('rejects features of different widths', () => {
    assert.throws(
      () => linearProbe(blobs(10, 1), { features: randn([5, 3]), labels: randint(0, 4, [5]) }, { numClasses: 4 }),
      /6-d but test features are 3-d/,
    );
  });
});
