// The `extract_features` engine: a frozen model in eval mode, features of the requested layers for
// the TRAIN and (when it has data) TEST partitions, streamed to .npy shards in VISSL's layout
// (memory stays at one batch). Layers are LINEAR_EVAL_FEAT_POOL_OPS_MAP's, each with its pool op,
// or the one a caller names (the cluster step's FEATURES.LAYER_NAME).
import type { Config, Partition } from '../config/index.js';
import { barrier, isMainRank, rank, worldSize } from '../engine/distributed/ranks.js';
import { FeatureShardWriter, removeShardsOfRanksFrom, type FeatureShard } from '../engine/feature-files.js';
import { StopRequested } from '../engine/stop-signal.js';
import { Stopwatch } from '../engine/stopwatch.js';
import { FeatureExtractor, type PoolOpSpec, type SSLModel } from '../models/index.js';
import { noGrad, tidy, type Tensor } from '../torch/index.js';
import { finishedResult, recordFinished, stageFingerprint } from './finished.js';
import { startTask, type TaskContext, type TaskOptions } from './context.js';
import { datasetFromConfig, loaderFromConfig } from './data.js';
import { mixedPrecisionForInference } from './mixed-precision.js';
import { maybeAutocast } from '../engine/train-step.js';
import { initWeightsFromConfig, modelFromConfig } from './model.js';

export interface ExtractOptions extends TaskOptions {
  /** Extract these layers instead of the pool map's (flattened, pooled as the map says if listed there). */
  layers?: string[];
  /** Output folder; default EXTRACT_FEATURES.OUTPUT_DIR, else CHECKPOINT.DIR. */
  outputDir?: string;
  /** Partitions to extract; default TRAIN, and TEST when DATA.TEST has a data path. */
  partitions?: Partition[];
}

export interface ExtractResult {
  dir: string;
  /** Shards written, by partition and layer. */
  shards: Record<string, Record<string, FeatureShard[]>>;
  /** Images per partition. */
  images: Record<string, number>;
}

/** 'res5' -> pool op, from LINEAR_EVAL_FEAT_POOL_OPS_MAP. */
function poolOpsOf(cfg: Config): Record<string, PoolOpSpec> {
  const map = cfg.MODEL.FEATURE_EVAL_SETTINGS.LINEAR_EVAL_FEAT_POOL_OPS_MAP as [string, PoolOpSpec][];
  return Object.fromEntries(map.map(([layer, op]) => [layer, op]));
}

const HEADS = 'heads';

/** The model's single output, flattened (the 'heads' feature). */
function modelOutput(model: SSLModel, images: Tensor): Tensor {
  const outputs = model.forward(images);
  if (outputs.length !== 1) {
    throw new Error(
      `the model has ${outputs.length} outputs, so its output is no one feature: name the layers to extract in ` +
        'MODEL.FEATURE_EVAL_SETTINGS.LINEAR_EVAL_FEAT_POOL_OPS_MAP',
    );
  }
  return (outputs[0] as Tensor).flatten(1);
}

/**
 * Extracts features of the model the config describes (MODEL.WEIGHTS_INIT) at the layers of
 * MODEL.FEATURE_EVAL_SETTINGS (or `options.layers`) for the TRAIN and TEST images, as `.npy` files
 * VISSL and NumPy read, into EXTRACT_FEATURES.OUTPUT_DIR (or CHECKPOINT.DIR). A finished extraction
 * with the same inputs is not redone. The stage's state is recorded in `extract_state.json`.
 */
export async function extractTask(cfg: Config, options: ExtractOptions = {}): Promise<ExtractResult> {
  const outputDir = options.outputDir ?? (cfg.EXTRACT_FEATURES.OUTPUT_DIR || cfg.CHECKPOINT.DIR);
  const ctx = startTask(cfg, outputDir, 'EXTRACT_FEATURES.OUTPUT_DIR', 'extract', options);
  return ctx.record.track(
    () => extractIn(ctx, options),
    () => ({ stopped: false }),
  );
}

async function extractIn(ctx: TaskContext, options: ExtractOptions): Promise<ExtractResult> {
  const { cfg, device, dir, logger } = ctx;
  const poolOps = poolOpsOf(cfg);
  // As VISSL: without a pool map the feature is the whole model's output (trunk and heads), named
  // 'heads' (kNN on a projection head's output is this, with EVAL_TRUNK_AND_HEAD).
  const mapped = options.layers ?? Object.keys(poolOps);
  const layers = mapped.length > 0 ? mapped : [HEADS];
  const partitions =
    options.partitions ?? (cfg.DATA.TEST.DATA_PATHS.length > 0 ? (['TRAIN', 'TEST'] as Partition[]) : ['TRAIN']);
  const fingerprint = stageFingerprint(cfg, { layers, partitions, flatten: options.layers !== undefined });
  const done = finishedResult<ExtractResult>(cfg, dir, `extract_${layers.join('+')}`, fingerprint);
  if (done) {
    logger.info(`features of ${layers.join(', ')} are already extracted in ${dir}; skipping`);
    return done;
  }
  const model = modelFromConfig(cfg, device);
  const result: ExtractResult = { dir, shards: {}, images: {} };
  try {
    if (!initWeightsFromConfig(model, cfg, logger)) {
      // A random-init baseline is a deliberate choice (the pipeline's eval_random), so a note, not a warning.
      logger.info('MODEL.WEIGHTS_INIT.PARAMS_FILE is empty: features of a randomly initialised model');
    }
    model.eval();
    if (cfg.MODEL.CHANNELS_LAST) model.toChannelsLast();
    const trunk = model.trunk instanceof FeatureExtractor ? model.trunk.base_model : model.trunk;
    const flatten = cfg.MODEL.FEATURE_EVAL_SETTINGS.SHOULD_FLATTEN_FEATS || options.layers !== undefined;
    const inference = mixedPrecisionForInference(cfg, device);
    for (const partition of partitions) {
      const split = partition.toLowerCase();
      const dataset = datasetFromConfig(cfg.DATA[partition], partition);
      const loader = loaderFromConfig(cfg, partition, dataset, { shuffle: false, device });
      const writers = layers.map(
        (layer) => new FeatureShardWriter(dir, split, layer, cfg.EXTRACT_FEATURES.CHUNK_THRESHOLD, rank()),
      );
      if (isMainRank()) layers.forEach((layer) => removeShardsOfRanksFrom(dir, split, layer, worldSize()));
      const total = dataset.samples.length;
      let done = 0;
      const started = performance.now();
      const time = new Stopwatch();
      try {
        for await (const batch of loader.epoch(0)) {
          noGrad(() =>
            tidy(() => {
              // Under USE_AMP_FOR_INFERENCE the features come out in float16/bfloat16; files stay float32.
              const images = cfg.MODEL.CHANNELS_LAST ? batch.images.contiguous('channelsLast') : batch.images;
              const features = maybeAutocast(inference, () =>
                mapped.length > 0
                  ? trunk.features(images, layers, { poolOps, flatten })
                  : new Map([[HEADS, modelOutput(model, images)]]),
              );
              const paths = Array.from(batch.indices, (i) => dataset.samples[i]?.path ?? '');
              const labels = Array.from(batch.indices, (i) => {
                const sample = dataset.samples[i];
                return sample?.targets ?? [sample?.label ?? -1];
              });
              layers.forEach((layer, i) =>
                writers[i]?.append((features.get(layer) as Tensor).float(), batch.indices, labels, paths),
              );
            }),
          );
          done += batch.indices.length;
          batch.dispose();
          logger.progress(`extract ${split}`, done, total, done / ((performance.now() - started) / 1000), 'img');
          if (options.stop?.requested)
            throw new StopRequested('feature extraction stopped (as asked); run it again to redo it');
        }
      } catch (error) {
        writers.forEach((w) => w.abort());
        throw error;
      } finally {
        await loader.close();
        logger.endProgress();
      }
      result.shards[split] = Object.fromEntries(layers.map((layer, i) => [layer, writers[i]?.close() ?? []]));
      // Every rank's shards are complete before anyone reads the folder; each image counts once
      // (loadFeatures drops the sampler's padding).
      barrier();
      result.images[split] = worldSize() > 1 ? total : done;
      const elapsed = time.read();
      const images = result.images[split];
      logger.metrics('extract', { split, layers, images, ...elapsed, images_per_sec: images / elapsed.seconds });
      logger.info(
        `extracted ${layers.join(', ')} for ${images} ${split} images in ${elapsed.seconds.toFixed(1)} s -> ${dir}`,
      );
    }
    const files = Object.values(result.shards).flatMap((byLayer) =>
      Object.values(byLayer).flatMap((shards) => shards.flatMap((f) => [f.features, f.inds, f.targets, f.images])),
    );
    // One record for the folder: rank 0's (its shard list is enough to tell the files exist).
    if (rank() === 0) recordFinished(dir, `extract_${layers.join('+')}`, fingerprint, files, result);
    return result;
  } finally {
    model.dispose();
  }
}
