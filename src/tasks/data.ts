// DATA.TRAIN / DATA.TEST of a config turned into a dataset and a loader. VISSL silently drops a
// label path that does not exist and falls back to other labels; here every path named in the
// config must exist, and a label file must have one label per image.
import { existsSync, statSync } from 'node:fs';
import type { Config, DataSplitConfig, Partition } from '../config/index.js';
import {
  DataLoader,
  diskFilelist,
  imageFolder,
  limitDataset,
  relabel,
  replacePathPrefix,
  torchvisionDataset,
  TORCHVISION_DATASETS,
  withLabels,
  type Dataset,
} from '../data/index.js';
import { rank, worldSize } from '../engine/distributed/ranks.js';
import type { Device } from '../torch/index.js';

const DATA_SOURCES = ['disk_folder', 'disk_filelist', 'torchvision_dataset'];
const LABEL_SOURCES = DATA_SOURCES;

function requirePath(path: string | undefined, what: string, key: string): string {
  if (path === undefined || path === '') throw new Error(`${key} is empty: give the ${what}`);
  if (!existsSync(path)) throw new Error(`${key}: ${what} '${path}' does not exist`);
  return path;
}

/** The dataset a partition config describes, with labels from LABEL_SOURCES / LABEL_TYPE, reduced
 * to DATA_LIMIT samples when that is set (in every engine, as VISSL's dataset does it). */
export function datasetFromConfig(config: DataSplitConfig, partition: Partition): Dataset {
  const { SEED, IS_BALANCED, SKIP_NUM_SAMPLES } = config.DATA_LIMIT_SAMPLING;
  return limitDataset(labelledDataset(config, partition), {
    limit: config.DATA_LIMIT,
    seed: SEED,
    balanced: IS_BALANCED,
    skip: SKIP_NUM_SAMPLES,
  });
}

function labelledDataset(config: DataSplitConfig, partition: Partition): Dataset {
  const key = (name: string): string => `DATA.${partition}.${name}`;
  if (config.DATA_SOURCES.length !== 1) {
    throw new Error(
      `${key('DATA_SOURCES')} must name exactly one source (${DATA_SOURCES.join(' or ')}); several sources are not supported`,
    );
  }
  const source = config.DATA_SOURCES[0] as string;
  const what =
    source === 'torchvision_dataset'
      ? `root folder torchvision.datasets.${config.DATASET_NAMES[0] ?? '<name>'}(root) reads (there is no dataset catalog here)`
      : 'data path';
  const dataPath = requirePath(config.DATA_PATHS[0], what, key('DATA_PATHS'));
  let dataset: Dataset;
  switch (source) {
    case 'disk_folder':
      if (!statSync(dataPath).isDirectory())
        throw new Error(
          `${key('DATA_PATHS')}: '${dataPath}' is not a folder (disk_folder expects root/<class>/<image>)`,
        );
      dataset = imageFolder(dataPath);
      break;
    case 'disk_filelist':
      dataset = replacePathPrefix(diskFilelist(dataPath), config.REMOVE_IMG_PATH_PREFIX, config.NEW_IMG_PATH_PREFIX);
      break;
    case 'torchvision_dataset': {
      // VISSL's adapter: split TRAIN reads torchvision's train split, any other its test split.
      const name = config.DATASET_NAMES[0];
      if (name === undefined)
        throw new Error(`${key('DATASET_NAMES')} is empty: name the dataset (${TORCHVISION_DATASETS.join(', ')})`);
      dataset = torchvisionDataset(name, dataPath, partition === 'TRAIN');
      break;
    }
    default:
      throw new Error(`${key('DATA_SOURCES')}: unknown source '${source}'; supported: ${DATA_SOURCES.join(', ')}`);
  }
  const labelSource = config.LABEL_SOURCES[0];
  if (labelSource === 'disk_filelist') {
    const labelPath = requirePath(config.LABEL_PATHS[0], 'label file (.npy)', key('LABEL_PATHS'));
    return withLabels(dataset, labelPath);
  }
  if ((labelSource === 'torchvision_dataset' || labelSource === 'disk_folder') && source !== labelSource) {
    // VISSL asks the data source for these labels (the class folders, or torchvision's targets) and
    // asserts that it is of the same kind; any other source would give labels that mean nothing.
    throw new Error(
      `${key('LABEL_SOURCES')}: ${labelSource} labels come with ${labelSource} data, but ${key('DATA_SOURCES')} is ${source} ` +
        `(give the labels as a file: LABEL_SOURCES: [disk_filelist] with LABEL_PATHS)`,
    );
  }
  if (labelSource !== undefined && !LABEL_SOURCES.includes(labelSource)) {
    throw new Error(
      `${key('LABEL_SOURCES')}: unknown label source '${labelSource}'; supported: ${LABEL_SOURCES.join(', ')}`,
    );
  }
  if (config.LABEL_TYPE === 'sample_index' || (labelSource === undefined && source === 'disk_filelist')) {
    return relabel(dataset, (s) => s.index);
  }
  return dataset;
}

/**
 * The loader for a partition: batch size, transforms, drop-last, prefetch depth and bad-image policy
 * from DATA.<partition>, workers and seed from DATA and SEED_VALUE.
 */
export function loaderFromConfig(
  cfg: Config,
  partition: Partition,
  dataset: Dataset,
  { shuffle, device }: { shuffle: boolean; device: Device },
): DataLoader {
  const data = cfg.DATA[partition];
  return new DataLoader({
    dataset,
    transforms: data.TRANSFORMS,
    batchSize: data.BATCHSIZE_PER_REPLICA,
    dropLast: data.DROP_LAST,
    // PREFETCH 0 keeps the loader's default depth (two batches per worker).
    ...(data.PREFETCH > 0 ? { prefetch: data.PREFETCH } : {}),
    onError: data.SKIP_BAD_IMAGES || data.ENABLE_QUEUE_DATASET ? 'skip' : 'throw',
    numWorkers: cfg.DATA.NUM_DATALOADER_WORKERS,
    maxImagePixels: cfg.DATA.MAX_IMAGE_PIXELS,
    configKey: `DATA.${partition}`,
    seed: cfg.SEED_VALUE,
    shuffle,
    device,
    // Each rank reads its share, padded to equal shares as PyTorch's DistributedSampler does.
    rank: rank(),
    worldSize: worldSize(),
    pinMemory: cfg.DATA.PIN_MEMORY,
    nonBlocking: cfg.DATA.ENABLE_ASYNC_GPU_COPY,
  });
}
