// VISSL's SVMTrainer (vissl/utils/svm_utils/svm_trainer.py) on one layer's features: for each class
// (SVM.cls_list, or all), for each cost of the cost list, a binary LinearSVC scored by k-fold
// cross-validation on the training set (scikit-learn's cross_val_score: stratified folds without
// shuffling, "average_precision" on decision values), then fitted on the whole training set; each
// class's cost is the one with the highest cross-validated AP (the first on a tie, as np.argmax);
// its model scores the test set with VISSL's VOC07 AP. Files, in the layer's folder as VISSL writes
// them: AP_cls{c}_cost{C}.npy (cross-validated AP), cls{c}_cost{C}.npy (the model: see
// model-files.ts), crossval_ap.npy (classes x costs), chosen_cost.npy, test_ap.npy (classes x 1).
// A model whose two files exist is not trained again unless SVM.force_retrain (VISSL's resume).
//
// Every fold and final fit of every class and cost is one liblinear problem; they all go to the
// addon in one call and run in parallel on its thread pool (VISSL runs a Python thread per class).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { sklearnAveragePrecision, visslAveragePrecision } from './average-precision.js';
import { CLASS_WEIGHTS, clsCost, costsList, linearSvcOptions, type SvmSettings } from './config.js';
import { stratifiedFolds } from './folds.js';
import { trainLinearSvms, type SvmProblem } from './liblinear.js';
import { decisionValues, readModel, readValues, writeMatrix, writeModel, type LinearModel } from './model-files.js';
import { binaryTargets, isMultiLabel, targetClasses, type TargetMatrix } from './targets.js';

/** One split's features as the SVMs see them (normalised when SVM.normalize) and its targets. */
export interface SvmSplit {
  /** n x d float32, row-major. */
  x: Float32Array;
  n: number;
  d: number;
  targets: TargetMatrix;
}

export interface SvmTrainerOptions {
  settings: SvmSettings;
  /** The layer's output folder ({CHECKPOINT.DIR}/{layer}). */
  outputDir: string;
  threads: number;
  log?: (message: string) => void;
}

export interface SvmLayerResult {
  classes: number[];
  costs: number[];
  /** classes x costs cross-validated AP. */
  crossvalAp: number[][];
  chosenCost: number[];
  /** Test AP per class (0..1). */
  testAp: number[];
  /** 100 x the mean test AP, rounded to 3 decimals as train_svm.py reports it. */
  meanAp: number;
  /** Fits that stopped at liblinear's iteration cap (see docs/vissl-compat.md). */
  notConverged: number;
}

/** The classes to train: SVM.cls_list (checked against the targets), or every class. */
function classesToTrain(settings: SvmSettings, targets: TargetMatrix): number[] {
  const all = targetClasses(targets);
  if (settings.cls_list.length === 0) return all;
  const listed = settings.cls_list.map(Number);
  const unknown = listed.filter((c) => !all.includes(c));
  if (unknown.length > 0) {
    throw new Error(
      `SVM.cls_list names classes ${unknown.join(', ')}, which the training targets do not have (${all.length} classes)`,
    );
  }
  return listed;
}

/** Trains the SVMs of every class and cost on `train`, then tests the chosen ones on `test`. */
export async function trainAndTestSvms(
  train: SvmSplit,
  test: SvmSplit,
  options: SvmTrainerOptions,
): Promise<SvmLayerResult> {
  const { settings, outputDir } = options;
  const log = options.log ?? (() => {});
  mkdirSync(outputDir, { recursive: true });
  const costs = costsList(settings.costs);
  const classes = classesToTrain(settings, train.targets);
  const folds = settings.cross_val_folds;
  log(`training SVMs for ${classes.length} classes x costs ${costs.join(', ')} (${folds}-fold cross-validation)`);

  // The problems: per class and cost, one per fold then the final fit; fits with files on disk are skipped.
  const problems: SvmProblem[] = [];
  interface Job {
    cls: number;
    cost: number;
    foldOf: Int32Array;
    rows: Int32Array;
    labels: Int8Array;
    /** Index of the first of its folds + 1 problems, or -1 when loaded from disk. */
    first: number;
    loaded: { model: LinearModel; ap: number } | null;
  }
  const jobs: Job[] = [];
  for (const cls of classes) {
    const { rows, labels } = binaryTargets(train.targets, cls, true);
    const foldOf = stratifiedFolds(labels, folds);
    for (const cost of costs) {
      const name = clsCost(cls, cost);
      const model = settings.force_retrain ? null : readModel(join(outputDir, `cls${name}.npy`), train.d);
      const ap = settings.force_retrain ? null : readValues(join(outputDir, `AP_cls${name}.npy`));
      if (model && ap) {
        jobs.push({ cls, cost, foldOf, rows, labels, first: -1, loaded: { model, ap: ap[0] as number } });
        continue;
      }
      jobs.push({ cls, cost, foldOf, rows, labels, first: problems.length, loaded: null });
      for (let f = 0; f <= folds; f++) {
        const keep = f === folds ? null : Array.from(foldOf, (fold) => fold !== f);
        problems.push({
          C: cost,
          ...CLASS_WEIGHTS,
          rows: keep ? rows.filter((_, i) => keep[i]) : rows,
          labels: keep ? labels.filter((_, i) => keep[i]) : labels,
        });
      }
    }
  }
  const reused = jobs.filter((j) => j.loaded).length;
  if (reused > 0) log(`${reused} class/cost models exist in ${outputDir}; not training them again (SVM.force_retrain)`);
  const solutions = await trainLinearSvms(
    train.x,
    train.n,
    train.d,
    problems,
    linearSvcOptions(settings, options.threads),
  );
  const notConverged = solutions.filter((s) => s.maxIterReached).length;

  // Cross-validated AP: each fold's model scores its held-out rows.
  const crossval = new Map<Job, number>();
  for (const cls of classes) {
    const mine = jobs.filter((j) => j.cls === cls && j.loaded === null);
    if (mine.length === 0) continue;
    const models = mine.flatMap((j) => solutions.slice(j.first, j.first + folds));
    const scores = decisionValues(train.x, train.n, train.d, models);
    mine.forEach((job, m) => {
      let sum = 0;
      for (let f = 0; f < folds; f++) {
        const column = m * folds + f;
        const positive: boolean[] = [];
        const held: number[] = [];
        job.rows.forEach((row, i) => {
          if (job.foldOf[i] !== f) return;
          positive.push(job.labels[i] === 1);
          held.push(scores[row * models.length + column] as number);
        });
        sum += sklearnAveragePrecision(positive, held);
      }
      crossval.set(job, sum / folds);
    });
  }

  const crossvalAp: number[][] = [];
  const chosen: LinearModel[] = [];
  const chosenCost: number[] = [];
  classes.forEach((cls) => {
    const row: number[] = [];
    const models: LinearModel[] = [];
    for (const job of jobs.filter((j) => j.cls === cls)) {
      const name = clsCost(cls, job.cost);
      let model: LinearModel;
      let ap: number;
      if (job.loaded) {
        ({ model, ap } = job.loaded);
      } else {
        const fit = solutions[job.first + folds]!;
        model = { weights: fit.weights, bias: fit.bias };
        ap = crossval.get(job) as number;
        writeMatrix(join(outputDir, `AP_cls${name}.npy`), [ap], [1]);
        writeModel(join(outputDir, `cls${name}.npy`), model);
      }
      log(`cls: ${cls} cost: ${job.cost} cross-validated AP: ${ap}`);
      row.push(ap);
      models.push(model);
    }
    // np.argmax: the first maximum; a NaN (a fold without positives) wins, as it does there.
    let best = 0;
    for (let i = 0; i < row.length; i++) {
      if (Number.isNaN(row[i])) {
        best = i;
        break;
      }
      if ((row[i] as number) > (row[best] as number)) best = i;
    }
    crossvalAp.push(row);
    chosen.push(models[best] as LinearModel);
    chosenCost.push(costs[best] as number);
  });
  log(`chosen_cost: ${chosenCost.join(', ')}`);
  writeMatrix(join(outputDir, 'crossval_ap.npy'), crossvalAp.flat(), [classes.length, costs.length]);
  writeMatrix(join(outputDir, 'chosen_cost.npy'), chosenCost, [classes.length]);

  const testAp = testModels(test, classes, chosen);
  writeMatrix(join(outputDir, 'test_ap.npy'), testAp, [classes.length, 1]);
  const meanAp = Math.round(100 * 1000 * (testAp.reduce((a, b) => a + b, 0) / testAp.length)) / 1000;
  log(`mean test AP: ${meanAp}`);
  return { classes, costs, crossvalAp, chosenCost, testAp, meanAp, notConverged };
}

/**
 * VISSL's AP of each model on the test split (multi-label -1 rows left out): model m is class
 * classes[m]'s (a class may have several models, e.g. one per cost). One GEMM scores them all.
 */
export function testModels(test: SvmSplit, classes: readonly number[], models: readonly LinearModel[]): number[] {
  if (isMultiLabel(test.targets) && test.targets.columns <= Math.max(...classes)) {
    throw new Error(
      `the test targets have ${test.targets.columns} classes but the SVMs were trained for class ${Math.max(...classes)}`,
    );
  }
  const scores = decisionValues(test.x, test.n, test.d, models);
  const targetsOf = new Map<number, ReturnType<typeof binaryTargets>>();
  return classes.map((cls, m) => {
    if (!targetsOf.has(cls)) targetsOf.set(cls, binaryTargets(test.targets, cls, false));
    const { rows, labels } = targetsOf.get(cls)!;
    const positive = Array.from(labels, (l) => l === 1);
    const values = Array.from(rows, (row) => scores[row * models.length + m] as number);
    return visslAveragePrecision(positive, values);
  });
}
