// VISSL's SVM benchmark on liblinear against scikit-learn: the same LinearSVC weights (1e-3
// relative), the same cost chosen by cross-validation, the same per-class test AP (0.1 points), on
// VOC07-layout features (multi-label {-1, 0, 1} targets, in VISSL's shards) and on single-label
// features as our extraction writes them; the AP formulas and folds on their own; the low-shot
// variant's subsets and statistics; and the tools' command line. Skips when liblinear is missing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { composeConfig } from '../../src/config/index.js';
import { runConfig, type SvmResult } from '../../src/tasks/index.js';
import { sklearnAveragePrecision, visslAveragePrecision } from '../../src/engine/svm/average-precision.js';
import { costsList, pythonFloat } from '../../src/engine/svm/config.js';
import { stratifiedFolds } from '../../src/engine/svm/folds.js';
import { liblinearAvailable } from '../../src/engine/svm/liblinear.js';
import { lowShotTargets } from '../../src/engine/svm/low-shot.js';
import type { SvmLayerResult } from '../../src/engine/svm/svm-trainer.js';
import type { LowShotLayerResult } from '../../src/engine/svm/low-shot.js';
import * as torch from '../../src/torch/index.js';
import { makeSplit, reference, tempDir, writeSplit } from './fixtures.js';

const skip = liblinearAvailable()
  ? false
  : 'the liblinear addon is not built (apt-get install liblinear-dev, then npm run build)';
const CLI = resolve('dist/src/cli/main.js');

function relativeDistance(a: readonly number[], b: readonly number[]): number {
  let diff = 0;
  let norm = 0;
  a.forEach((v, i) => {
    diff += (v - b[i]!) ** 2;
    norm += b[i]! ** 2;
  });
  return Math.sqrt(diff / norm);
}

function readNumbers(path: string): number[] {
  return torch.tidy(() => (torch.io.readNpy(path) as torch.Tensor).to('float64').reshape(-1).toArray());
}

/** A train_svm config (VISSL's keys) on features already extracted to `features`. */
function svmYaml(dir: string, features: string, svm: string): string {
  const file = join(dir, 'svm.yaml');
  writeFileSync(
    file,
    [
      'config:',
      '  MODEL:',
      '    FEATURE_EVAL_SETTINGS:',
      '      EVAL_MODE_ON: True',
      '      FREEZE_TRUNK_ONLY: True',
      '      EXTRACT_TRUNK_FEATURES_ONLY: True',
      '      LINEAR_EVAL_FEAT_POOL_OPS_MAP: [["res5", ["AvgPool2d", [[6, 6], 1, 0]]]]',
      `  SVM_FEATURES_PATH: ${features}`,
      '  MACHINE: {DEVICE: cpu}',
      '  DISTRIBUTED: {BACKEND: gloo, NUM_PROC_PER_NODE: 1}',
      `  CHECKPOINT: {DIR: ${join(dir, 'out')}}`,
      '  SVM:',
      ...svm.split('\n').map((line) => `    ${line}`),
      '',
    ].join('\n'),
  );
  return file;
}

async function run(
  file: string,
  tool: 'train_svm' | 'train_svm_low_shot',
  overrides: string[] = [],
): Promise<SvmResult> {
  const { config } = composeConfig({
    config: file,
    overrides,
    command: tool,
    engine: tool === 'train_svm' ? 'svm' : 'svm_low_shot',
  });
  return (await runConfig(config, { log: { quiet: true } })) as SvmResult;
}

test('the AP formulas are scikit-learn average_precision_score and VISSL evaluate.py', () => {
  const cases = [
    { labels: [1, -1, 1, -1, -1, 1, -1], scores: [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3] },
    // ties: sklearn takes a tied group as one threshold
    { labels: [1, -1, -1, 1, 1, -1, 1, -1], scores: [0.5, 0.5, 0.2, 0.2, 0.9, 0.1, 0.1, 0.7] },
    { labels: [-1, -1, 1], scores: [3, 2, 1] },
  ];
  const rand = torch.tidy(() => torch.rand([300]).toArray());
  cases.push({
    labels: rand.map((v, i) => (v + (i % 7) / 10 > 0.8 ? 1 : -1)),
    scores: rand.map((v, i) => v * ((i % 5) + 1)),
  });
  for (const { labels, scores } of cases) {
    const python = reference<{ sklearn: number; voc07: number }>('average_precision', { labels, scores });
    const positive = labels.map((l) => l === 1);
    assert.ok(Math.abs(sklearnAveragePrecision(positive, scores) - python.sklearn) < 1e-12);
    const distinct = new Set(scores).size === scores.length;
    // VOC07's formula ranks tied scores in sort order, which numpy's quicksort leaves unspecified.
    if (distinct) assert.ok(Math.abs(visslAveragePrecision(positive, scores) - python.voc07) < 1e-12);
  }
  assert.ok(Number.isNaN(visslAveragePrecision([false, false], [1, 2])));
});

test('cross-validation folds are StratifiedKFold(n_splits) without shuffling', () => {
  const labels = Array.from({ length: 97 }, (_, i) => ((i * 7) % 11 < 3 ? 1 : -1));
  for (const folds of [2, 3, 5]) {
    const python = reference<{ folds: number[] }>('folds', { labels, folds });
    assert.deepEqual([...stratifiedFolds(labels, folds)], python.folds);
  }
});

test("the cost list and file names are VISSL's", () => {
  assert.deepEqual(costsList({ costs_list: [0.1, 0.01], base: 2, power_range: [4, 7] }), [0.1, 0.01, 16, 32, 64]);
  assert.deepEqual(costsList({ costs_list: [1], base: -1, power_range: [4, 20] }), [1]);
  assert.deepEqual([0.01, 1, 2, 1000, 1e-5, 1e16, 1.5e-7].map(pythonFloat), [
    '0.01',
    '1.0',
    '2.0',
    '1000.0',
    '1e-05',
    '1e+16',
    '1.5e-07',
  ]);
});

test('train_svm on VOC07-layout features matches scikit-learn LinearSVC', { skip }, async () => {
  const dir = tempDir();
  const features = join(dir, 'features');
  const train = writeSplit(dir, 'train', 'res5', makeSplit(360, 20, 4, true, 1));
  const testSplit = writeSplit(dir, 'test', 'res5', makeSplit(240, 20, 4, true, 2));
  writeSplit(features, 'train', 'res5', makeSplit(360, 20, 4, true, 1));
  writeSplit(features, 'test', 'res5', makeSplit(240, 20, 4, true, 2));
  const costs = [0.01, 0.1, 1.0, 2, 5, 10];
  const file = svmYaml(dir, features, `costs: {costs_list: [${costs.join(', ')}]}\ncross_val_folds: 3`);
  const result = await run(file, 'train_svm');
  const ours = result.layers.res5 as SvmLayerResult;
  const python = reference<{
    classes: number[];
    crossval_ap: number[][];
    chosen_cost: number[];
    test_ap: number[];
    weights: Record<string, number[]>;
  }>('train_svm', { train_x: train.x, train_y: train.y, test_x: testSplit.x, test_y: testSplit.y, costs, folds: 3 });
  assert.deepEqual(ours.classes, python.classes);
  assert.deepEqual(ours.chosenCost, python.chosen_cost);
  ours.crossvalAp.forEach((row, i) =>
    row.forEach((ap, j) => assert.ok(Math.abs(ap - python.crossval_ap[i]![j]!) < 1e-3, `crossval AP ${i} ${j}`)),
  );
  ours.testAp.forEach((ap, i) => assert.ok(Math.abs(ap - python.test_ap[i]!) < 1e-3, `test AP class ${i}`));
  const layerDir = join(dir, 'out', 'res5');
  for (const cls of ours.classes) {
    costs.forEach((cost, j) => {
      const weights = readNumbers(join(layerDir, `cls${cls}_cost${pythonFloat(cost)}.npy`));
      const distance = relativeDistance(weights, python.weights[`${cls}_${j}`]!);
      assert.ok(distance < 1e-3, `class ${cls} cost ${cost}: weights differ by ${distance}`);
      assert.ok(existsSync(join(layerDir, `AP_cls${cls}_cost${pythonFloat(cost)}.npy`)));
    });
  }
  assert.deepEqual(readNumbers(join(layerDir, 'chosen_cost.npy')), python.chosen_cost);
  assert.equal(readNumbers(join(layerDir, 'crossval_ap.npy')).length, 4 * costs.length);
  const testAp = torch.io.readNpy(join(layerDir, 'test_ap.npy')) as torch.Tensor;
  assert.deepEqual(testAp.shape, [4, 1]);
  testAp.dispose();
  const summary = JSON.parse(readFileSync(join(dir, 'out', 'svm.json'), 'utf8')) as SvmResult;
  assert.equal((summary.layers.res5 as SvmLayerResult).meanAp, ours.meanAp);
  const expectedMean = Math.round(100000 * (python.test_ap.reduce((a, b) => a + b) / 4)) / 1000;
  assert.ok(Math.abs(ours.meanAp - expectedMean) < 0.1);

  // A second run finds every model on disk and trains nothing (VISSL's resume), with the same result.
  const again = (await run(file, 'train_svm')).layers.res5 as SvmLayerResult;
  assert.deepEqual(again.chosenCost, ours.chosenCost);
  assert.deepEqual(again.testAp, ours.testAp);
});

test(
  'train_svm on single-label features is one-vs-rest per class, as scikit-learn (the shipped config: primal solver)',
  { skip },
  async () => {
    const dir = tempDir();
    const features = join(dir, 'features');
    const train = writeSplit(features, 'train', 'res5', makeSplit(300, 16, 3, false, 3));
    const testSplit = writeSplit(features, 'test', 'res5', makeSplit(150, 16, 3, false, 4));
    const costs = [0.1, 1.0, 10];
    // The shipped config for an evaluate run's features/: the layers are found in the folder.
    const result = await run('benchmark/svm/svm_on_features', 'train_svm', [
      `config.SVM_FEATURES_PATH=${features}`,
      `config.CHECKPOINT.DIR=${join(dir, 'out')}`,
      `config.SVM.costs.costs_list=[${costs.join(', ')}]`,
    ]);
    assert.deepEqual(Object.keys(result.layers), ['res5']);
    const ours = result.layers.res5 as SvmLayerResult;
    const python = reference<{
      classes: number[];
      chosen_cost: number[];
      test_ap: number[];
      weights: Record<string, number[]>;
    }>('train_svm', {
      train_x: train.x,
      train_y: train.y,
      test_x: testSplit.x,
      test_y: testSplit.y,
      costs,
      folds: 3,
      dual: false,
    });
    assert.deepEqual(ours.classes, [0, 1, 2]);
    assert.deepEqual(ours.chosenCost, python.chosen_cost);
    ours.testAp.forEach((ap, i) => assert.ok(Math.abs(ap - python.test_ap[i]!) < 1e-3, `test AP class ${i}`));
    const chosen = costs.indexOf(ours.chosenCost[0]!);
    const weights = readNumbers(join(dir, 'out', 'res5', `cls0_cost${pythonFloat(costs[chosen]!)}.npy`));
    assert.ok(relativeDistance(weights, python.weights[`0_${chosen}`]!) < 1e-3);
  },
);

test('low-shot subsets: k positives and (C - 1) k negatives per VOC class, k images per single-label class', () => {
  const voc = makeSplit(200, 4, 4, true, 5);
  const subset = lowShotTargets({ rows: 200, columns: 4, values: voc.y }, 3, 7);
  for (let c = 0; c < 4; c++) {
    const column = Array.from({ length: 200 }, (_, r) => subset.values[r * 4 + c]);
    assert.equal(column.filter((v) => v === 1).length, 3);
    assert.equal(column.filter((v) => v === 0).length, 9);
    // only images that had that value are picked
    column.forEach((v, r) => assert.ok(v === -1 || v === voc.y[r * 4 + c]));
  }
  const again = lowShotTargets({ rows: 200, columns: 4, values: voc.y }, 3, 7);
  assert.deepEqual(again.values, subset.values);
  assert.throws(
    () => lowShotTargets({ rows: 200, columns: 4, values: voc.y }, 60, 7),
    /low-shot k=60: class \d+ has \d+ (positive|negative) training images, fewer than the \d+ to sample/,
  );
  const single = makeSplit(90, 4, 3, false, 6);
  const picked = lowShotTargets({ rows: 90, columns: 1, values: single.y }, 5, 1);
  for (let c = 0; c < 3; c++) assert.equal([...picked.values].filter((v) => v === c).length, 5);
});

test(
  'train_svm_low_shot: models match scikit-learn on the subset; statistics as aggregate_stats',
  { skip },
  async () => {
    const dir = tempDir();
    const features = join(dir, 'features');
    writeSplit(features, 'train', 'res5', makeSplit(300, 12, 3, true, 8));
    writeSplit(features, 'test', 'res5', makeSplit(150, 12, 3, true, 9));
    const file = svmYaml(
      dir,
      features,
      'costs: {costs_list: [0.1, 1.0]}\nlow_shot: {dataset_name: voc, sample_inds: [1, 2, 3], k_values: [2, 4]}',
    );
    const ours = (await run(file, 'train_svm_low_shot')).layers.res5 as LowShotLayerResult;
    const layerDir = join(dir, 'out', 'res5');
    const python = reference<Record<string, unknown>>('low_shot_aggregate', {
      dir: layerDir,
      k_values: [2, 4],
      sample_inds: [1, 2, 3],
    });
    assert.deepEqual(ours.results, python);
    for (const stat of ['mean', 'min', 'max', 'std']) {
      assert.equal(readNumbers(join(layerDir, `test_ap_${stat}.npy`)).length, 2 * 2);
    }
    // One model against LinearSVC on the same subset (normalised features, the sampled rows).
    const subset = readNumbers(join(dir, 'out', 'res5_sample2_k4.npy'));
    const rows: number[] = [];
    const labels: number[] = [];
    subset.forEach((v, i) => {
      if (i % 3 !== 1 || v === -1) return;
      rows.push(Math.floor(i / 3));
      labels.push(v === 1 ? 1 : -1);
    });
    assert.equal(rows.length, 4 * 3);
    const normalized = join(dir, 'normalized.npy');
    torch.tidy(() => {
      const x = torch.tensor(makeSplit(300, 12, 3, true, 8).x, { shape: [300, 12] });
      torch.io.writeNpy(normalized, x.div(x.norm(2, 1, true).add(1e-5)));
    });
    const python1 = reference<{ weights: number[] }>('fit', { x: normalized, rows, labels, cost: 1.0 });
    const weights = readNumbers(join(layerDir, 'cls1_cost1.0_sample2_k4.npy'));
    assert.ok(relativeDistance(weights, python1.weights) < 1e-3);
  },
);

test("VISSL's SVM tools run from the command line under their names", { skip }, () => {
  const dir = tempDir();
  const features = join(dir, 'features');
  writeSplit(features, 'train', 'res5', makeSplit(120, 8, 2, true, 10));
  writeSplit(features, 'test', 'res5', makeSplit(60, 8, 2, true, 11));
  const file = svmYaml(dir, features, 'costs: {costs_list: [0.1, 1.0]}');
  const ok = spawnSync(process.execPath, [CLI, 'train_svm', `config=${file}`, 'config.SVM.cross_val_folds=2'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stderr, /AP for various layers/);
  assert.ok(existsSync(join(dir, 'out', 'res5', 'test_ap.npy')));
  const off = spawnSync(process.execPath, [CLI, 'train_svm', `config=${file}`], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, CLUSTERFIT_LIBLINEAR: '/nonexistent/clusterfit_liblinear.node' },
  });
  assert.notEqual(off.status, 0);
  assert.match(off.stderr, /needs liblinear: apt-get install liblinear-dev/);
  const wrongKey = spawnSync(process.execPath, [CLI, 'train_svm', `config=${file}`, 'config.SVM.cost=1'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.notEqual(wrongKey.status, 0);
  assert.match(wrongKey.stderr, /SVM\.cost/);
});

test(
  'train_svm_low_shot on single-label features (the shipped config): k images per class, one-vs-rest',
  { skip },
  async () => {
    const dir = tempDir();
    const features = join(dir, 'features');
    const train = makeSplit(240, 12, 3, false, 12);
    writeSplit(features, 'train', 'res5', train);
    writeSplit(features, 'test', 'res5', makeSplit(120, 12, 3, false, 13));
    const result = await run('benchmark/svm/low_shot_svm_on_features', 'train_svm_low_shot', [
      `config.SVM_FEATURES_PATH=${features}`,
      `config.CHECKPOINT.DIR=${join(dir, 'out')}`,
      'config.SVM.costs.costs_list=[0.1, 1.0]',
      'config.SVM.low_shot.sample_inds=[1, 2]',
      'config.SVM.low_shot.k_values=[2, 5, 500]',
    ]);
    const ours = result.layers.res5 as LowShotLayerResult;
    assert.deepEqual(ours.skipped, [500], 'k above the smallest class (80 images) is skipped, as VISSL skips it');
    const layerDir = join(dir, 'out', 'res5');
    const python = reference<Record<string, unknown>>('low_shot_aggregate', {
      dir: layerDir,
      k_values: [2, 5],
      sample_inds: [1, 2],
    });
    assert.deepEqual(ours.results, python);
    // The subset holds 5 images of each class; class 2's SVM is one-vs-rest on those 15 rows.
    const subset = readNumbers(join(dir, 'out', 'res5_sample1_k5.npy'));
    const rows = subset.flatMap((v, i) => (v === -1 ? [] : [i]));
    assert.equal(rows.length, 15);
    const normalized = join(dir, 'normalized.npy');
    torch.tidy(() => {
      const x = torch.tensor(train.x, { shape: [240, 12] });
      torch.io.writeNpy(normalized, x.div(x.norm(2, 1, true).add(1e-5)));
    });
    const labels = rows.map((r) => (subset[r] === 2 ? 1 : -1));
    const python1 = reference<{ weights: number[] }>('fit', { x: normalized, rows, labels, cost: 1.0 });
    const weights = readNumbers(join(layerDir, 'cls2_cost1.0_sample1_k5.npy'));
    assert.ok(relativeDistance(weights, python1.weights) < 1e-3);
  },
);
