// VISSL's DATA_LIMIT: a dataset of N samples reduced to K, drawn without replacement with a seed
// (after skipping SKIP_NUM_SAMPLES of the same draw), or balanced so that every label gets K / labels
// samples (the first K mod labels labels one more). The draw is deterministic and the same in every
// process, as VISSL's, but made with our generator, so it picks other samples than NumPy's
// np.random.choice would. The kept samples are renumbered 0..K-1 in their drawn order, as VISSL's
// dataset maps its external indices [0, K) to the drawn ones.
import type { Dataset, Sample } from './datasets.js';
import { Rng } from './rng.js';

export interface DataLimit {
  limit: number;
  seed: number;
  balanced: boolean;
  skip: number;
}

/** The first `count` of a seeded shuffle of `items` (a partial Fisher-Yates). */
function draw<T>(items: readonly T[], count: number, rng: Rng): T[] {
  const pool = [...items];
  const n = Math.min(count, pool.length);
  for (let i = 0; i < n; i++) {
    const j = i + rng.randint(0, pool.length - i);
    [pool[i], pool[j]] = [pool[j] as T, pool[i] as T];
  }
  return pool.slice(0, n);
}

/** The dataset reduced to `limit` samples (unchanged when limit < 0). */
export function limitDataset(dataset: Dataset, { limit, seed, balanced, skip }: DataLimit): Dataset {
  if (limit < 0) return dataset;
  const total = dataset.samples.length;
  if (skip + limit > total) {
    throw new Error(`DATA_LIMIT ${limit} (after skipping ${skip}) asks for more samples than the dataset's ${total}`);
  }
  let kept: Sample[];
  if (!balanced) {
    kept = draw(dataset.samples, skip + limit, new Rng(seed)).slice(skip);
  } else {
    const groups = new Map<number, Sample[]>();
    for (const s of dataset.samples) {
      const group = groups.get(s.label);
      if (group) group.push(s);
      else groups.set(s.label, [s]);
    }
    const labels = [...groups.keys()].sort((a, b) => a - b);
    const [perLabel, extra] = [Math.floor(limit / labels.length), limit % labels.length];
    const [skipPer, skipExtra] = [Math.floor(skip / labels.length), skip % labels.length];
    if (perLabel === 0) {
      throw new Error(`balanced DATA_LIMIT ${limit} must be at least the number of labels (${labels.length})`);
    }
    const rng = new Rng(seed);
    kept = labels.flatMap((label, i) => {
      const [n, s] = [perLabel + (i < extra ? 1 : 0), skipPer + (i < skipExtra ? 1 : 0)];
      return draw(groups.get(label) ?? [], s + n, rng).slice(s);
    });
  }
  return { ...dataset, samples: kept.map((s, index) => ({ ...s, index })) };
}

/** VISSL's REMOVE_IMG_PATH_PREFIX / NEW_IMG_PATH_PREFIX: a leading prefix replaced (file lists only). */
export function replacePathPrefix(dataset: Dataset, remove: string, replacement: string): Dataset {
  if (remove === '') return dataset;
  return {
    ...dataset,
    samples: dataset.samples.map((s) =>
      s.path.startsWith(remove) ? { ...s, path: replacement + s.path.slice(remove.length) } : s,
    ),
  };
}
