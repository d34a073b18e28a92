// Labels new images with the nearest cluster of a finished run: the same model, layer, transforms
// and normalisation as the run's cluster stage (read from the cluster_config.yaml it saved), then
// each image's nearest centroid, written as the cluster stage writes a split (`_labels.npy`,
// `_images.npy`, `_distances.npy`, `_cluster_sizes.npy`). The images are a folder (searched
// recursively) or a .npy list of paths.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { assign, faissAssign, l2Normalize } from '../cluster/index.js';
import { loadConfig } from '../config/index.js';
import { loadFeatures } from '../engine/feature-files.js';
import { readNpy, writeNpy } from '../torch/io/index.js';
import { all, isfinite, tidy, type Tensor } from '../torch/index.js';
import { requireRegularFile } from '../torch/io/file-bytes.js';
import { writeAssignment, type ClusterResult } from './cluster.js';
import { prepareOutputDir, startTask, type TaskOptions } from './context.js';
import { extractTask } from './extract.js';
import { relocate } from './run-paths.js';

export interface AssignOptions extends TaskOptions {
  /** A finished run: its cluster stage's folder, or a pipeline folder with clusters/ in it. */
  run: string;
  /** A folder of images (searched recursively), or a .npy array of image paths. */
  images: string;
  /** Where the labels (and the features of the new images) are written. */
  outputDir: string;
}

export interface AssignResult {
  /** `<prefix>_labels.npy`: int64, one per image, in the order of `imagesFile`. */
  labels: string;
  imagesFile: string;
  images: number;
  numClusters: number;
  /** Images per cluster. */
  sizes: number[];
}

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.tif', '.tiff']);

function clusterDirOf(run: string): string {
  const dir = resolve(run);
  for (const candidate of [dir, join(dir, 'clusters')]) {
    if (existsSync(join(candidate, 'cluster_config.yaml'))) return candidate;
  }
  throw new Error(`${dir} is not a finished run: it has no cluster_config.yaml (nor clusters/cluster_config.yaml)`);
}

function imagesIn(folder: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (IMAGE_EXTENSIONS.has(extname(entry.name).toLowerCase())) found.push(path);
    }
  };
  walk(folder);
  return found;
}

/** The images as a .npy list of paths: the one given, or one written for a folder's images. */
function imageList(images: string, out: string): string {
  const path = resolve(images);
  if (!existsSync(path)) throw new Error(`images: '${path}' does not exist (give a folder of images or a .npy list)`);
  if (!statSync(path).isDirectory()) return path;
  const files = imagesIn(path);
  if (files.length === 0)
    throw new Error(`images: the folder '${path}' has no image (${[...IMAGE_EXTENSIONS].join(' ')})`);
  const list = join(out, 'assign_input_images.npy');
  writeNpy(list, files);
  return list;
}

function set(key: string, value: unknown): string {
  return `config.${key}=${JSON.stringify(value)}`;
}

export async function assignTask(options: AssignOptions): Promise<AssignResult> {
  const clusterDir = clusterDirOf(options.run);
  const clusters = loadClusterResult(clusterDir);
  // Checked before any work: a damaged run folder is named before features are extracted.
  const centroids = loadCentroids(clusters);
  try {
    return await labelImages(options, clusterDir, clusters, centroids);
  } finally {
    centroids.dispose();
  }
}

/** Extracts the images' features as the run's cluster stage did and labels them with `centroids`. */
async function labelImages(
  options: AssignOptions,
  clusterDir: string,
  clusters: ClusterResult,
  centroids: Tensor,
): Promise<AssignResult> {
  const out = prepareOutputDir(options.outputDir, 'out');
  const list = imageList(options.images, out);
  const cfg = loadConfig({
    config: join(clusterDir, 'cluster_config.yaml'),
    overrides: [
      set('DATA.TRAIN.DATA_SOURCES', ['disk_filelist']),
      set('DATA.TRAIN.DATA_PATHS', [list]),
      set('DATA.TRAIN.LABEL_SOURCES', []),
      set('DATA.TRAIN.LABEL_PATHS', []),
      set('DATA.TRAIN.LABEL_TYPE', 'sample_index'),
      set('DATA.TEST.DATA_PATHS', []),
      set('CLUSTERFIT.OUTPUT_DIR', out),
      set('CLUSTERFIT.FEATURES.PATH', join(out, 'features')),
      set('CHECKPOINT.DIR', out),
    ],
  });
  const cf = cfg.CLUSTERFIT;
  if (cf.FEATURES.DIMENSIONALITY_REDUCTION > 0) {
    throw new Error(
      `the run in ${clusterDir} clustered PCA-whitened features (DIMENSIONALITY_REDUCTION ${cf.FEATURES.DIMENSIONALITY_REDUCTION}), ` +
        'whose PCA is not saved: assign works on runs clustered without PCA',
    );
  }
  const ctx = startTask(cfg, out, 'out', 'assign', options);
  const { device, logger } = ctx;
  const layer = cf.FEATURES.LAYER_NAME;
  await extractTask(cfg, {
    ...options,
    logger,
    layers: [layer],
    outputDir: cf.FEATURES.PATH,
    partitions: ['TRAIN'],
  });
  const loaded = loadFeatures(cf.FEATURES.PATH, 'train', layer);
  try {
    if (loaded.images === null) throw new Error(`the features in ${cf.FEATURES.PATH} have no image list`);
    const features = tidy(() => l2Normalize(loaded.features.to(device)));
    const onDevice = centroids.to(device);
    const assignment =
      cf.CLUSTER_BACKEND === 'faiss' ? await faissAssign(features, onDevice) : assign(features, onDevice);
    features.dispose();
    if (onDevice !== centroids) onDevice.dispose();
    const datasetName = cf.FEATURES.DATASET_NAME || cfg.DATA.TRAIN.DATASET_NAMES[0] || 'dataset';
    const prefix = join(out, `${datasetName}_assign_${layer}_N${clusters.numClusters}_D${clusters.dim}`);
    const written = writeAssignment(prefix, assignment, loaded.images, clusters.numClusters);
    const result: AssignResult = {
      ...written,
      images: loaded.indices.length,
      numClusters: clusters.numClusters,
    };
    logger.info(
      `labelled ${result.images} images with the ${clusters.numClusters} clusters of ${clusterDir} -> ${written.labels}`,
    );
    logger.metrics('assign_summary', { ...result, sizes: undefined });
    return result;
  } finally {
    loaded.features.dispose();
  }
}

/** The cluster stage's record, checked, with its centroids file found in the folder as it is now. */
function loadClusterResult(clusterDir: string): ClusterResult {
  const file = join(clusterDir, 'cluster_done.json');
  if (!existsSync(file)) {
    throw new Error(
      `the cluster stage in ${clusterDir} has not finished (no cluster_done.json): run it to the end first`,
    );
  }
  const damaged = (what: string): Error =>
    new Error(`${file}: ${what}; the file is damaged: run the cluster stage again (or restore the run folder)`);
  requireRegularFile(file, 'cluster record');
  let record: unknown;
  try {
    record = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw damaged(`not valid JSON (${(error as Error).message})`);
  }
  const result = (record as { result?: Partial<ClusterResult> } | null)?.result;
  if (typeof result !== 'object' || result === null) throw damaged("no 'result' object");
  const positive = (key: 'numClusters' | 'dim'): void => {
    const value = result[key];
    if (!Number.isSafeInteger(value) || (value as number) < 1)
      throw damaged(`result.${key} is ${JSON.stringify(value)}, not a positive integer`);
  };
  positive('numClusters');
  positive('dim');
  if (typeof result.centroids !== 'string' || result.centroids === '')
    throw damaged(`result.centroids is ${JSON.stringify(result.centroids)}, not the path of the centroids file`);
  const recordedDir = typeof result.dir === 'string' ? result.dir : clusterDir;
  return { ...(result as ClusterResult), centroids: relocate(result.centroids, recordedDir, clusterDir) };
}

/** The centroids, checked against what the cluster record claims: K rows of `dim` finite numbers. */
function loadCentroids(clusters: ClusterResult): Tensor {
  const file = clusters.centroids;
  let centroids: Tensor;
  try {
    requireRegularFile(file, 'centroids file');
    const read = readNpy(file);
    if (Array.isArray(read)) throw new Error('it holds strings, not numbers');
    centroids = read;
  } catch (error) {
    throw new Error(`cannot read the centroids: ${(error as Error).message}`, { cause: error });
  }
  const [rows, columns] = centroids.shape;
  const problem =
    centroids.shape.length !== 2 || rows !== clusters.numClusters || columns !== clusters.dim
      ? `has shape [${centroids.shape.join(', ')}], where cluster_done.json says ${clusters.numClusters} clusters of ${clusters.dim} dimensions`
      : !centroids.dtype.startsWith('float')
        ? `holds ${centroids.dtype}, not floating-point centroids`
        : !tidy(() => all(isfinite(centroids)).item())
          ? 'holds NaN or infinite values'
          : null;
  if (problem !== null) {
    centroids.dispose();
    throw new Error(`${file} ${problem}; the run folder is damaged: run the cluster stage again`);
  }
  return centroids;
}
