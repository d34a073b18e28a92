// The `evaluate` engine (ours): how good a frozen model's features are, per layer, measured two
// ways on features extracted once — the fast linear probe (VISSL's eval_mlp trained with the
// config's OPTIMIZER and LR schedule on cached features) and weighted kNN (NEAREST_NEIGHBOR).
// VISSL's full linear protocol (heads trained on a frozen trunk with augmentations) is the
// `train` engine with a linear-evaluation config. `nearest_neighbor` runs the kNN part only.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { lrRunSetup } from '../config/index.js';
import { isMainRank } from '../engine/distributed/ranks.js';
import { loadFeatures } from '../engine/feature-files.js';
import { knnAccuracy } from '../engine/knn.js';
import { linearProbe } from '../engine/linear-probe.js';
import { VisslLrSchedule } from '../engine/lr-schedule.js';
import { Stopwatch, type Elapsed } from '../engine/stopwatch.js';
import { tensor } from '../torch/index.js';
import { finishedResult, recordFinished, stageFingerprint } from './finished.js';
import { startTask, type TaskContext, type TaskOptions } from './context.js';
import { extractTask, type ExtractResult } from './extract.js';

export interface LayerScores {
  layer: string;
  dim: number;
  /** Fast linear probe accuracy on the test partition (percent), absent for kNN-only runs. */
  linear?: Record<string, number>;
  /** kNN accuracy with the first NEAREST_NEIGHBOR.TOPK. */
  knn: Record<string, number>;
  /** kNN accuracy for every k, when NEAREST_NEIGHBOR.TOPK is a list. */
  knnByK?: Record<number, Record<string, number>>;
}

/** NEAREST_NEIGHBOR.TOPK as a list of k. */
function neighbourCounts(topk: number | readonly number[]): number[] {
  const ks = Array.isArray(topk) ? [...topk] : [topk];
  if (ks.length === 0 || !ks.every((k) => Number.isInteger(k) && k > 0)) {
    throw new Error(`NEAREST_NEIGHBOR.TOPK must be a positive integer or a list of them, got ${JSON.stringify(topk)}`);
  }
  return ks as number[];
}

export interface EvaluateResult {
  dir: string;
  trainImages: number;
  testImages: number;
  layers: LayerScores[];
}

export interface EvaluateOptions extends TaskOptions {
  /** kNN only (the nearest_neighbor engine). */
  knnOnly?: boolean;
  /**
   * This model's features of TRAIN and TEST, already extracted as this config would extract them
   * (the pipeline's RotNet features, shared with its cluster stage): read instead of extracted again.
   */
  features?: ExtractResult;
}

/**
 * Scores the representation of the model the config describes on frozen features: a linear probe
 * per layer of MODEL.FEATURE_EVAL_SETTINGS and kNN (NEAREST_NEIGHBOR), trained on TRAIN and scored
 * on TEST; `knnOnly` is VISSL's nearest_neighbor engine. Writes `evaluation.json` into
 * CHECKPOINT.DIR, and the stage's state into `evaluate_state.json` (or `nearest_neighbor_state.json`).
 */
export async function evaluateTask(cfg: Config, options: EvaluateOptions = {}): Promise<EvaluateResult> {
  const ctx = startTask(
    cfg,
    cfg.CHECKPOINT.DIR,
    'CHECKPOINT.DIR',
    options.knnOnly ? 'nearest_neighbor' : 'evaluate',
    options,
  );
  return ctx.record.track(
    () => evaluateIn(ctx, options),
    () => ({ stopped: false }),
  );
}

async function evaluateIn(ctx: TaskContext, options: EvaluateOptions): Promise<EvaluateResult> {
  const { cfg, device, dir, logger } = ctx;
  if (cfg.DATA.TEST.DATA_PATHS.length === 0) throw new Error('evaluation needs test data: set DATA.TEST.DATA_PATHS');
  const stage = options.knnOnly ? 'nearest_neighbor' : 'evaluate';
  const fingerprint = stageFingerprint(cfg, stage);
  const done = finishedResult<EvaluateResult>(cfg, dir, stage, fingerprint);
  if (done) {
    logger.info(`${dir} is already evaluated; skipping\n${formatScores(done)}`);
    return done;
  }
  const nn = cfg.NEAREST_NEIGHBOR;
  const ks = neighbourCounts(nn.TOPK);
  // NEAREST_NEIGHBOR.FEATURES.PATH: features extracted before (VISSL's shard layout) are used as they are.
  const given = options.features?.dir ?? (options.knnOnly && nn.FEATURES.PATH !== '' ? nn.FEATURES.PATH : null);
  const featureDir = given ?? join(dir, 'features');
  const extracted =
    options.features ??
    (given === null
      ? await extractTask(cfg, { ...options, logger, outputDir: featureDir, partitions: ['TRAIN', 'TEST'] })
      : null);
  const layers = extracted ? Object.keys(extracted.shards.train ?? {}) : shardLayers(featureDir);
  const result: EvaluateResult = {
    dir,
    trainImages: extracted?.images.train ?? 0,
    testImages: extracted?.images.test ?? 0,
    layers: [],
  };
  const schedule = new VisslLrSchedule(cfg.OPTIMIZER.param_schedulers.lr, lrRunSetup(cfg));
  for (const layer of layers) {
    const train = loadFeatures(featureDir, 'train', layer);
    const test = loadFeatures(featureDir, 'test', layer);
    const trainSet = { features: train.features, labels: tensor(train.targets, { dtype: 'int64' }) };
    const testSet = { features: test.features, labels: tensor(test.targets, { dtype: 'int64' }) };
    try {
      const numClasses = Math.max(...train.targets, ...test.targets) + 1;
      const topk = cfg.METERS.accuracy_list_meter.topk_values;
      const scores: LayerScores = {
        layer,
        dim: train.features.shape[1] as number,
        knn: {},
      };
      const time: { knn?: Elapsed; linear?: Elapsed } = {};
      const knnTime = new Stopwatch();
      for (const k of ks) {
        const accuracy = knnAccuracy(trainSet, testSet, {
          numClasses,
          k,
          temperature: nn.SIGMA,
          normalize: nn.L2_NORM_FEATS,
          topk,
          device,
        });
        if (k === ks[0]) scores.knn = accuracy;
        if (ks.length > 1) scores.knnByK = { ...scores.knnByK, [k]: accuracy };
      }
      time.knn = knnTime.read();
      if (!options.knnOnly) {
        const linearTime = new Stopwatch();
        scores.linear = linearProbe(trainSet, testSet, {
          numClasses,
          epochs: cfg.OPTIMIZER.num_epochs,
          batchSize: cfg.DATA.TRAIN.BATCHSIZE_PER_REPLICA,
          lrAt: (epoch) => schedule.lrAt({ epoch }),
          weightDecay: cfg.OPTIMIZER.weight_decay,
          momentum: cfg.OPTIMIZER.momentum,
          nesterov: cfg.OPTIMIZER.nesterov,
          seed: cfg.SEED_VALUE,
          topk,
          device,
        }).test;
        time.linear = linearTime.read();
      }
      result.layers.push(scores);
      // The scores, and the time each evaluation took (the pipeline's time breakdown reads it).
      logger.metrics('evaluate', { ...scores, time });
    } finally {
      for (const t of [train.features, test.features, trainSet.labels, testSet.labels]) t.dispose();
    }
  }
  logger.info(formatScores(result));
  // Every rank evaluates the merged features the same way (seeded); one writes the files.
  if (isMainRank()) {
    writeFileSync(join(dir, 'evaluation.json'), JSON.stringify(result, null, 2));
    recordFinished(dir, stage, fingerprint, [join(dir, 'evaluation.json')], result);
  }
  return result;
}

/** The layers that have train features in a folder of VISSL-layout shards. */
function shardLayers(dir: string): string[] {
  if (!existsSync(dir)) throw new Error(`NEAREST_NEIGHBOR.FEATURES.PATH: '${dir}' does not exist`);
  const layers = new Set<string>();
  for (const name of readdirSync(dir)) {
    const match = /_train_(.+)_features\.npy$/.exec(name);
    if (match) layers.add(match[1]!);
  }
  if (layers.size === 0) {
    throw new Error(`NEAREST_NEIGHBOR.FEATURES.PATH: '${dir}' has no *_train_<layer>_features.npy shards`);
  }
  return [...layers].sort();
}

/** The per-layer table: `layer  dim  linear top-1  top-5  kNN top-1  top-5`. */
export function formatScores(result: EvaluateResult): string {
  const lines = [
    `${'layer'.padEnd(10)} ${'dim'.padStart(6)}  ${'linear top-1'.padStart(12)} ${'top-5'.padStart(6)}  ${'kNN top-1'.padStart(9)} ${'top-5'.padStart(6)}`,
  ];
  const pct = (v: number | undefined): string => (v === undefined ? '-' : v.toFixed(2));
  for (const s of result.layers) {
    lines.push(
      `${s.layer.padEnd(10)} ${String(s.dim).padStart(6)}  ${pct(s.linear?.top1).padStart(12)} ${pct(s.linear?.top5).padStart(6)}  ${pct(s.knn.top1).padStart(9)} ${pct(s.knn.top5).padStart(6)}`,
    );
  }
  return lines.join('\n');
}
