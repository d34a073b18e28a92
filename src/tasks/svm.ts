// The `svm` and `svm_low_shot` engines: VISSL's tools/train_svm.py and tools/train_svm_low_shot.py.
// Features come from SVM_FEATURES_PATH (a folder of VISSL-layout shards: VISSL's own extraction, or
// ours, e.g. an `evaluate` run's features/), or are extracted first into {CHECKPOINT.DIR}/features.
// The layers are those of MODEL.FEATURE_EVAL_SETTINGS.LINEAR_EVAL_FEAT_POOL_OPS_MAP (VISSL's
// get_trunk_output_feature_names; see svmLayers when it is empty); each layer's results go to
// {CHECKPOINT.DIR}/{layer}/ as VISSL writes them (src/engine/svm/), and a summary of every layer
// to {CHECKPOINT.DIR}/svm.json or low_shot_svm.json (ours: VISSL only logs it).
// Targets: VOC07's multi-label {-1, 0, 1} rows as VISSL reads them, or single-label class ids
// (one-vs-rest per class, as VISSL's low-shot trainer does for Places205; for train_svm this is ours,
// VISSL's SVMTrainer has no single-label path).
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { isMainRank } from '../engine/distributed/ranks.js';
import { featureLayers, loadFeatures } from '../engine/feature-files.js';
import { svmFeatures, type SvmSettings } from '../engine/svm/config.js';
import { liblinearAvailable, liblinearVersion } from '../engine/svm/liblinear.js';
import { lowShotSvms, type LowShotLayerResult } from '../engine/svm/low-shot.js';
import { trainAndTestSvms, type SvmLayerResult, type SvmSplit } from '../engine/svm/svm-trainer.js';
import { startTask, type TaskOptions } from './context.js';
import { extractTask } from './extract.js';

export interface SvmResult {
  dir: string;
  featuresDir: string;
  /** Per layer: train_svm's results (lowShot false) or train_svm_low_shot's. */
  layers: Record<string, SvmLayerResult | LowShotLayerResult>;
}

/**
 * VISSL's get_trunk_output_feature_names, with its fallback to the model's output (`heads`); but
 * with SVM_FEATURES_PATH given and no pool map, every layer that folder has train features of
 * (ours: VISSL would look for `heads` there), so an evaluate run's features/ need no layer list.
 */
export function svmLayers(cfg: Config): string[] {
  const map = cfg.MODEL.FEATURE_EVAL_SETTINGS.LINEAR_EVAL_FEAT_POOL_OPS_MAP as [string, unknown][];
  if (map.length > 0) return map.map(([name]) => name);
  const found = cfg.SVM_FEATURES_PATH === '' ? [] : featureLayers(cfg.SVM_FEATURES_PATH, 'train');
  return found.length > 0 ? found : ['heads'];
}

function split(dir: string, name: 'train' | 'test', layer: string, normalize: boolean): SvmSplit {
  const loaded = loadFeatures(dir, name, layer);
  try {
    const [n, d] = loaded.features.shape as [number, number];
    return {
      x: svmFeatures(loaded.features, normalize),
      n,
      d,
      targets: { rows: n, columns: loaded.targetColumns, values: loaded.targetMatrix },
    };
  } finally {
    loaded.features.dispose();
  }
}

export async function svmTask(cfg: Config, options: TaskOptions & { lowShot?: boolean } = {}): Promise<SvmResult> {
  const tool = options.lowShot ? 'train_svm_low_shot' : 'train_svm';
  if (!cfg.MODEL.FEATURE_EVAL_SETTINGS.EVAL_MODE_ON) {
    throw new Error(
      `Feature eval mode is not ON. Can't run ${tool}. Set config.MODEL.FEATURE_EVAL_SETTINGS.EVAL_MODE_ON=True in your config or from command line.`,
    );
  }
  // Before anything is extracted: without the solver the run could not finish.
  if (!liblinearAvailable()) liblinearVersion();
  const ctx = startTask(cfg, cfg.CHECKPOINT.DIR, 'CHECKPOINT.DIR', options.lowShot ? 'svm_low_shot' : 'svm', options);
  const { dir, logger } = ctx;
  const featuresDir = cfg.SVM_FEATURES_PATH !== '' ? cfg.SVM_FEATURES_PATH : join(dir, 'features');
  if (cfg.SVM_FEATURES_PATH === '') {
    await extractTask(cfg, { ...options, logger, outputDir: featuresDir, partitions: ['TRAIN', 'TEST'] });
  }
  const result: SvmResult = { dir, featuresDir, layers: {} };
  // The SVMs train once, in the main process (VISSL trains them after its distributed extraction).
  if (!isMainRank()) return result;
  const settings = cfg.SVM as unknown as SvmSettings;
  const threads = cfg.SVM.NUM_THREADS > 0 ? cfg.SVM.NUM_THREADS : availableParallelism();
  const layers = svmLayers(cfg);
  for (const layer of layers) {
    logger.info(`${tool}: layer ${layer} (features in ${featuresDir})`);
    const train = split(featuresDir, 'train', layer, settings.normalize);
    const test = split(featuresDir, 'test', layer, settings.normalize);
    if (train.d !== test.d) {
      throw new Error(
        `${featuresDir}: the train features of ${layer} have ${train.d} values per row, the test features ${test.d}`,
      );
    }
    const outputDir = join(dir, layer);
    const log = (message: string): void => logger.info(`${layer}: ${message}`);
    const layerResult = options.lowShot
      ? await lowShotSvms(train, test, { settings, outputDir, layer, seed: cfg.SEED_VALUE, threads, log })
      : await trainAndTestSvms(train, test, { settings, outputDir, threads, log });
    if (layerResult.notConverged > 0) {
      logger.warn(
        `${layer}: ${layerResult.notConverged} SVM fits stopped at liblinear's iteration cap before reaching tol 1e-4 ` +
          '(scikit-learn would warn "Liblinear failed to converge" too)',
      );
    }
    result.layers[layer] = layerResult;
    logger.metrics(options.lowShot ? 'svm_low_shot' : 'svm', { layer, ...summary(layerResult) });
  }
  if (options.lowShot) {
    logger.info(`Results: ${JSON.stringify(Object.fromEntries(layers.map((l) => [l, summary(result.layers[l]!)])))}`);
  } else {
    logger.info(
      `AP for various layers:\n ${JSON.stringify(layers)}: ${JSON.stringify(layers.map((l) => (result.layers[l] as SvmLayerResult).meanAp))}`,
    );
  }
  writeFileSync(join(dir, options.lowShot ? 'low_shot_svm.json' : 'svm.json'), JSON.stringify(result, null, 2));
  return result;
}

function summary(r: SvmLayerResult | LowShotLayerResult): Record<string, unknown> {
  return 'meanAp' in r ? { mAP: r.meanAp, chosenCost: r.chosenCost } : { results: r.results };
}
