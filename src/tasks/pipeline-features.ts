// When one pass over the images can serve two of the pipeline's stages: the cluster stage extracts
// the RotNet's features of the train and test images to cluster them, and the RotNet's evaluation
// extracts the same network's features of the same images again (at more layers). When both would
// read the same images through the same transforms into the same network, and the layer k-means
// clusters is one the evaluation extracts with the same pooling, the pipeline extracts once, with
// the evaluation's config, and both stages read those files. Anything else that differs between
// the two configs (a transform, a data path, the model, the device) keeps them separate.
// The shared extraction is the evaluation's, so its files also hold the images' class labels
// (`*_targets.npy`): the cluster stage uses only the features and the image list, and ClusterFit trains
// on the cluster ids, so no class label reaches either before the evaluation step.
import { isDeepStrictEqual } from 'node:util';
import type { Config, DataSplitConfig } from '../config/index.js';

/** Keys of a data split that change which labels or batches are read, not the features of an image. */
const LABEL_AND_BATCH_KEYS = ['LABEL_SOURCES', 'LABEL_PATHS', 'LABEL_TYPE', 'BATCHSIZE_PER_REPLICA'] as const;

/** What an extraction of `cfg` depends on, beyond the layers and their pooling. */
function extractionInputs(cfg: Config): unknown {
  const split = (s: DataSplitConfig): Record<string, unknown> => {
    const rest: Record<string, unknown> = { ...s };
    for (const key of LABEL_AND_BATCH_KEYS) delete rest[key];
    return rest;
  };
  const { HEAD: _head, FEATURE_EVAL_SETTINGS: _settings, ...model } = cfg.MODEL;
  return {
    train: split(cfg.DATA.TRAIN),
    test: split(cfg.DATA.TEST),
    maxImagePixels: cfg.DATA.MAX_IMAGE_PIXELS,
    model,
    machine: cfg.MACHINE,
  };
}

/** The [op, args] a pool map gives `layer`, or undefined when the map does not list it. */
function poolOpOf(cfg: Config, layer: string): unknown {
  const map = cfg.MODEL.FEATURE_EVAL_SETTINGS.LINEAR_EVAL_FEAT_POOL_OPS_MAP as [string, unknown][];
  return map.find(([name]) => name === layer)?.[1];
}

/**
 * Whether the evaluation config `evaluation`'s extraction (train and test, every layer of its pool
 * map, flattened) gives the cluster config `cluster` the features it would extract itself.
 */
export function evaluationServesClustering(cluster: Config, evaluation: Config): boolean {
  const cf = cluster.CLUSTERFIT;
  const layer = cf.FEATURES.LAYER_NAME;
  const clusterOp = poolOpOf(cluster, layer);
  return (
    cf.FEATURES.EXTRACT &&
    cf.FEATURES.DATA_PARTITION === 'TRAIN' &&
    ['TEST', ''].includes(cf.FEATURES.TEST_PARTITION) &&
    evaluation.DATA.TEST.DATA_PATHS.length > 0 &&
    evaluation.MODEL.FEATURE_EVAL_SETTINGS.SHOULD_FLATTEN_FEATS &&
    clusterOp !== undefined &&
    isDeepStrictEqual(clusterOp, poolOpOf(evaluation, layer)) &&
    isDeepStrictEqual(extractionInputs(cluster), extractionInputs(evaluation))
  );
}
