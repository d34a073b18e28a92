// VISSL's low-shot SVM benchmark (tools/train_svm_low_shot.py, svm_low_shot_trainer.py and
// extra_scripts/create_low_shot_samples.py) on one layer's features. For each independent sample s
// (SVM.low_shot.sample_inds) and each k (k_values), a subset of the training set:
// - multi-label (VOC07): per class, k images where it is present and (C - 1) k where it is absent;
// - single-label (Places205, our extractions): k images of every class; a k above the smallest
//   class is skipped, as VISSL skips it.
// SVMs of every class and cost are trained on the subset (no cross-validation), tested on the whole
// test set, and each (s, k) gets the mean AP over classes per cost (test_ap_sample{s}_k{k}.npy,
// 1 x costs). Per k, mean/min/max/std over the samples (test_ap_{stat}.npy, k_values x costs); the
// reported figures are at the cost with the highest mean, x 100, rounded to 2 decimals.
//
// VISSL samples with Python's unseeded `random.sample`; here a Mersenne Twister seeded from
// SEED_VALUE, s and k picks the subsets, so a run is repeatable and every layer gets the same ones.
// The subset is written as VISSL writes it for VOC07 ({layer}_sample{s}_k{k}.npy: the training
// targets with -1 for every image left out), for single-label datasets too (VISSL extracts their
// subsets' features again; the features of an image do not change, so they are selected here).
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Mt19937 } from '../../cluster/random.js';
import * as torch from '../../torch/index.js';
import { writeNpy } from '../../torch/io/index.js';
import { CLASS_WEIGHTS, clsCost, costsList, linearSvcOptions, type SvmSettings } from './config.js';
import { trainLinearSvms, type SvmProblem } from './liblinear.js';
import { readModel, writeMatrix, writeModel, type LinearModel } from './model-files.js';
import type { SvmSplit } from './svm-trainer.js';
import { testModels } from './svm-trainer.js';
import { binaryTargets, isMultiLabel, targetClasses, type TargetMatrix } from './targets.js';

/** `count` distinct entries of `from`, drawn by a partial Fisher-Yates shuffle. */
function sample(from: number[], count: number, rng: Mt19937): number[] {
  const pool = [...from];
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor((rng.next() / 4294967296) * (pool.length - i));
    [pool[i], pool[j]] = [pool[j] as number, pool[i] as number];
  }
  return pool.slice(0, count);
}

/**
 * One low-shot subset of `targets`: the same shape, -1 for every row left out. Throws, naming the
 * class, when a multi-label class has too few images (Python's random.sample does too).
 */
export function lowShotTargets(targets: TargetMatrix, k: number, seed: number): TargetMatrix {
  const rng = new Mt19937(seed >>> 0);
  const out = new Int32Array(targets.values.length).fill(-1);
  const { rows, columns, values } = targets;
  if (isMultiLabel(targets)) {
    for (let c = 0; c < columns; c++) {
      for (const [symbol, count] of [
        [1, k],
        [0, (columns - 1) * k],
      ] as const) {
        const candidates: number[] = [];
        for (let r = 0; r < rows; r++) if (values[r * columns + c] === symbol) candidates.push(r);
        if (candidates.length < count) {
          throw new Error(
            `low-shot k=${k}: class ${c} has ${candidates.length} ${symbol === 1 ? 'positive' : 'negative'} training images, fewer than the ${count} to sample`,
          );
        }
        for (const r of sample(candidates, count, rng)) out[r * columns + c] = symbol;
      }
    }
  } else {
    for (const cls of targetClasses(targets)) {
      const members: number[] = [];
      for (let r = 0; r < rows; r++) if (values[r] === cls) members.push(r);
      for (const r of sample(members, k, rng)) out[r] = cls;
    }
  }
  return { rows, columns, values: out };
}

/** The smallest number of training images of a class (single-label), above which k is skipped. */
function smallestClass(targets: TargetMatrix): number {
  const counts = new Map<number, number>();
  for (const v of targets.values) if (v !== -1) counts.set(v, (counts.get(v) ?? 0) + 1);
  return Math.min(...counts.values());
}

export interface LowShotStats {
  mean: number;
  min: number;
  max: number;
  std: number;
}

export interface LowShotLayerResult {
  costs: number[];
  /** Per k (`k=4`), VISSL's figures at the cost with the best mean. */
  results: Record<string, LowShotStats>;
  /** k values skipped (single-label: more than the smallest class has). */
  skipped: number[];
  notConverged: number;
}

export interface LowShotOptions {
  settings: SvmSettings;
  /** The layer's output folder ({CHECKPOINT.DIR}/{layer}); the subsets go in its parent, as VISSL's. */
  outputDir: string;
  layer: string;
  seed: number;
  threads: number;
  log?: (message: string) => void;
}

function seedOf(base: number, s: number, k: number): number {
  return (Math.imul(base >>> 0, 1000003) + Math.imul(s, 10007) + k) >>> 0;
}

export async function lowShotSvms(
  train: SvmSplit,
  test: SvmSplit,
  options: LowShotOptions,
): Promise<LowShotLayerResult> {
  const { settings, outputDir, layer } = options;
  const log = options.log ?? (() => {});
  mkdirSync(outputDir, { recursive: true });
  const costs = costsList(settings.costs);
  const samples = settings.low_shot.sample_inds.map(Number);
  const multi = isMultiLabel(train.targets);
  const limit = multi ? Infinity : smallestClass(train.targets);
  const kValues = settings.low_shot.k_values.map(Number);
  const skipped = kValues.filter((k) => k > limit);
  if (skipped.length > 0) log(`skipping k ${skipped.join(', ')}: the smallest class has ${limit} training images`);
  const ks = kValues.filter((k) => k <= limit);
  if (ks.length === 0) throw new Error(`SVM.low_shot.k_values: every k is above the smallest class (${limit} images)`);

  interface Job {
    file: string;
    problem: number;
    model: LinearModel | null;
  }
  const jobs = new Map<string, Job>();
  const key = (s: number, k: number, cls: number, cost: number): string => `${s}/${k}/${cls}/${cost}`;
  const problems: SvmProblem[] = [];
  const classesOf = new Map<string, number[]>();
  for (const s of samples) {
    for (const k of ks) {
      const subset = lowShotTargets(train.targets, k, seedOf(options.seed, s, k));
      torch.tidy(() =>
        writeNpy(
          join(dirname(outputDir), `${layer}_sample${s}_k${k}.npy`),
          torch.tensor(subset.values, { dtype: 'int32', shape: [subset.rows, subset.columns] }),
        ),
      );
      const classes = targetClasses(subset);
      classesOf.set(`${s}/${k}`, classes);
      for (const cls of classes) {
        const { rows, labels } = binaryTargets(subset, cls, false);
        for (const cost of costs) {
          const file = join(outputDir, `cls${clsCost(cls, cost)}_sample${s}_k${k}.npy`);
          const model = settings.force_retrain ? null : readModel(file, train.d);
          jobs.set(key(s, k, cls, cost), { file, problem: model ? -1 : problems.length, model });
          if (!model) problems.push({ C: cost, ...CLASS_WEIGHTS, rows, labels });
        }
      }
    }
  }
  log(
    `training ${problems.length} low-shot SVMs (samples ${samples.join(', ')}; k ${ks.join(', ')}; costs ${costs.join(', ')})`,
  );
  const solutions = await trainLinearSvms(
    train.x,
    train.n,
    train.d,
    problems,
    linearSvcOptions(settings, options.threads),
  );
  for (const job of jobs.values()) {
    if (job.model) continue;
    const fit = solutions[job.problem]!;
    job.model = { weights: fit.weights, bias: fit.bias };
    writeModel(job.file, job.model);
  }

  // Per (s, k): the mean test AP over classes, per cost.
  const byK = new Map<number, number[][]>();
  for (const s of samples) {
    for (const k of ks) {
      const classes = classesOf.get(`${s}/${k}`) as number[];
      const models = costs.flatMap((cost) =>
        classes.map((cls) => jobs.get(key(s, k, cls, cost))?.model as LinearModel),
      );
      const ap = testModels(
        test,
        costs.flatMap(() => classes),
        models,
      );
      const row = costs.map(
        (_, j) => ap.slice(j * classes.length, (j + 1) * classes.length).reduce((a, b) => a + b, 0) / classes.length,
      );
      writeMatrix(join(outputDir, `test_ap_sample${s}_k${k}.npy`), row, [1, costs.length]);
      byK.set(k, [...(byK.get(k) ?? []), row]);
    }
  }
  return {
    costs,
    ...aggregate(byK, ks, costs, outputDir, log),
    skipped,
    notConverged: solutions.filter((x) => x.maxIterReached).length,
  };
}

/** SVMLowShotTrainer.aggregate_stats: per k and cost, mean/min/max/std (numpy's, ddof 0) over the samples. */
function aggregate(
  byK: Map<number, number[][]>,
  ks: number[],
  costs: number[],
  outputDir: string,
  log: (message: string) => void,
): { results: Record<string, LowShotStats> } {
  const stats = { mean: [] as number[][], min: [] as number[][], max: [] as number[][], std: [] as number[][] };
  for (const k of ks) {
    const rows = byK.get(k) as number[][];
    const column = (c: number): number[] => rows.map((r) => r[c] as number);
    const mean = costs.map((_, c) => column(c).reduce((a, b) => a + b, 0) / rows.length);
    stats.mean.push(mean);
    stats.min.push(costs.map((_, c) => Math.min(...column(c))));
    stats.max.push(costs.map((_, c) => Math.max(...column(c))));
    stats.std.push(
      costs.map((_, c) => Math.sqrt(column(c).reduce((a, v) => a + (v - (mean[c] as number)) ** 2, 0) / rows.length)),
    );
  }
  for (const [name, matrix] of Object.entries(stats)) {
    writeMatrix(join(outputDir, `test_ap_${name}.npy`), matrix.flat(), [ks.length, costs.length]);
  }
  const round2 = (v: number): number => Math.round(v * 100) / 100;
  const results: Record<string, LowShotStats> = {};
  ks.forEach((k, i) => {
    const mean = stats.mean[i] as number[];
    const best = mean.indexOf(Math.max(...mean));
    const at = (name: keyof typeof stats): number => round2(100 * ((stats[name][i] as number[])[best] as number));
    results[`k=${k}`] = { mean: at('mean'), min: at('min'), max: at('max'), std: at('std') };
    log(`k-value: ${k} mean/min/max/std: ${at('mean')} / ${at('min')} / ${at('max')} / ${at('std')}`);
  });
  return { results };
}
