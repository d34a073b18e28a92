// Weighted k-nearest-neighbour accuracy on frozen features, as VISSL's nearest-neighbour benchmark
// (after Wu et al. 2018): similarity is the dot product of (by default L2-normalised) features;
// each of the k nearest training images votes for its class with weight exp(similarity / temperature).
import {
  functional as F,
  index,
  keep,
  noGrad,
  scatterAdd,
  tidy,
  topk as topkOf,
  zeros,
  type Device,
  type Tensor,
} from '../torch/index.js';
import type { LabelledFeatures } from './linear-probe.js';

export interface KnnOptions {
  numClasses: number;
  k?: number;
  temperature?: number;
  topk?: number[];
  /** L2-normalise features first (cosine similarity); VISSL's NEAREST_NEIGHBOR.L2_NORM_FEATS. */
  normalize?: boolean;
  /** Test rows per similarity block: memory is chunk x N_train. */
  chunkSize?: number;
  device?: Device;
}

/** Test accuracy in percent for each k of `topk`, e.g. {top1, top5}. */
export function knnAccuracy(
  train: LabelledFeatures,
  test: LabelledFeatures,
  options: KnnOptions,
): Record<string, number> {
  const {
    numClasses,
    k = 200,
    temperature = 0.07,
    normalize = true,
    topk = [1, 5],
    chunkSize = 1024,
    device = 'cpu',
  } = options;
  const prepare = (x: Tensor): Tensor => {
    const values = x.to(device).to('float32');
    return normalize ? F.normalize(values, { dim: 1 }) : values;
  };
  const trainCount = train.features.shape[0] as number;
  const neighbours = Math.min(k, trainCount);
  const counts = topk.map(() => 0);
  const testCount = test.features.shape[0] as number;
  const bank = keep(tidy(() => prepare(train.features).t()));
  const bankLabels = keep(tidy(() => train.labels.to(device).to('int64')));
  try {
    for (let start = 0; start < testCount; start += chunkSize) {
      const hits = noGrad(() =>
        tidy(() => {
          const rows = Math.min(chunkSize, testCount - start);
          const queries = prepare(test.features.narrow(0, start, rows));
          const nearest = topkOf(queries.mm(bank), neighbours, { dim: 1 });
          const neighbourLabels = index(bankLabels, [nearest.indices]);
          const weights = nearest.values.div(temperature).exp();
          const votes = scatterAdd(zeros([rows, numClasses], { device }), 1, neighbourLabels, weights);
          const ranked = topkOf(votes, Math.min(Math.max(...topk), numClasses), { dim: 1 }).indices;
          const correct = ranked.eq(test.labels.narrow(0, start, rows).to(device).to('int64').unsqueeze(1));
          return topk.map((kk) => correct.narrow(1, 0, Math.min(kk, numClasses)).sum().item());
        }),
      );
      hits.forEach((h, i) => (counts[i] = (counts[i] as number) + h));
    }
  } finally {
    bank.dispose();
    bankLabels.dispose();
  }
  return Object.fromEntries(topk.map((kk, i) => [`top${kk}`, (100 * (counts[i] as number)) / testCount]));
}
