// A tensor's values as a TensorBoard histogram: min, max, count, sum, sum of squares and equal-width
// bucket counts, all computed by libtorch on the tensor's device (one small read-back).
import { bincount, cat, tidy, type Tensor } from '../../torch/index.js';
import type { Histogram } from './event-file.js';

export function histogramOf(values: Tensor, buckets = 30): Histogram {
  return tidy(() => {
    const x = values.detach().flatten().to('float64');
    const num = x.shape[0] as number;
    if (num === 0) return { min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit: [], bucket: [] };
    const [min, max, sum, sumSquares] = cat([
      x.min().reshape(1),
      x.max().reshape(1),
      x.sum().reshape(1),
      x.square().sum().reshape(1),
    ]).toArray() as number[];
    const totals = {
      min: min as number,
      max: max as number,
      num,
      sum: sum as number,
      sumSquares: sumSquares as number,
    };
    const width = totals.max - totals.min;
    if (width === 0) return { ...totals, bucketLimit: [totals.max], bucket: [num] };
    // Values are >= min, so the truncating cast to int64 is a floor; the maximum lands in the last bucket.
    const index = x
      .sub(totals.min)
      .mul(buckets / width)
      .clamp(0, buckets - 1)
      .to('int64');
    const bucket = bincount(index, buckets).toArray() as number[];
    const bucketLimit = bucket.map((_, i) => totals.min + (width * (i + 1)) / buckets);
    return { ...totals, bucketLimit, bucket };
  });
}
