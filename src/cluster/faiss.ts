// CLUSTER_BACKEND faiss: the same k-means and assignment, computed by the real FAISS library through
// the optional addon native/faiss (built by scripts/build-faiss.mjs when libfaiss-dev is
// installed). Used to compare with the reference implementation; the work runs off the main thread.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { checkFeatures, type Assignment, type Metric } from './assign.js';
import {
  checkClusterCount,
  resolveKMeansParams,
  type IterationStats,
  type KMeansOptions,
  type KMeansResult,
} from './kmeans.js';

interface FaissAddon {
  kmeans(
    x: Float32Array,
    n: number,
    d: number,
    k: number,
    options: object,
  ): Promise<{ centroids: Float32Array; iterations: IterationStats[] }>;
  search(
    x: Float32Array,
    n: number,
    centroids: Float32Array,
    k: number,
    d: number,
    innerProduct: boolean,
  ): Promise<{ labels: BigInt64Array; distances: Float32Array }>;
  setNumThreads(n: number): void;
}

const HELP = 'CLUSTER_BACKEND faiss needs FAISS: apt-get install libfaiss-dev, then npm run build';

let addon: FaissAddon | undefined;

function addonPath(): string {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  return process.env.CLUSTERFIT_FAISS ?? join(root, 'build', 'Release', 'clusterfit_faiss.node');
}

/** True when the FAISS addon is built (it loads on first use). */
export function faissAvailable(): boolean {
  return addon !== undefined || existsSync(addonPath());
}

function load(): FaissAddon {
  if (addon) return addon;
  const file = addonPath();
  if (!existsSync(file)) throw new Error(`${HELP} (${file} is not built)`);
  try {
    addon = createRequire(import.meta.url)(file) as FaissAddon;
  } catch (error) {
    throw new Error(`${HELP} (${file} does not load: ${(error as Error).message})`);
  }
  return addon;
}

/** OpenMP threads FAISS uses (as faiss.omp_set_num_threads). */
export function setFaissThreads(n: number): void {
  load().setNumThreads(n);
}

function floats(x: Tensor): Float32Array {
  return torch.tidy(() => x.to('cpu').contiguous().data() as Float32Array);
}

/** faiss.Kmeans(d, k, ...).train(x) on `x` (N x d float32); the centroids come back on x's device. */
export async function faissKmeans(x: Tensor, k: number, options: KMeansOptions = {}): Promise<KMeansResult> {
  const faiss = load();
  const [n, d] = checkFeatures(x);
  checkClusterCount(n, k);
  const params = resolveKMeansParams(options);
  const { centroids, iterations } = await faiss.kmeans(floats(x), n, d, k, params);
  iterations.forEach((stats) => options.onIteration?.(stats));
  return {
    centroids: torch.tensor(centroids, { shape: [k, d], device: x.device }),
    objective: iterations.map((s) => s.objective),
    iterations,
    trainingPoints: Math.min(n, k * params.maxPointsPerCentroid),
  };
}

/** Nearest centroid by FAISS's IndexFlatL2 (or IndexFlatIP) search, as VISSL assigns labels. */
export async function faissAssign(
  x: Tensor,
  centroids: Tensor,
  options: { metric?: Metric } = {},
): Promise<Assignment> {
  const faiss = load();
  const [n, d] = checkFeatures(x);
  const [k, dc] = checkFeatures(centroids, 'centroids');
  if (d !== dc) throw new Error(`features have ${d} dimensions but the centroids have ${dc}`);
  const found = await faiss.search(floats(x), n, floats(centroids), k, d, options.metric === 'innerProduct');
  return torch.tidy(() => ({
    labels: torch.tensor(found.labels, { device: x.device }),
    distances: torch.tensor(found.distances, { device: x.device }),
  }));
}
