// Which sample indices a rank visits in an epoch: PyTorch's DistributedSampler, index for index.
// Shuffling uses libtorch's own generator (manual_seed(seed + epoch) then randperm(n)), the same
// generator PyTorch's sampler seeds, so the lists equal PyTorch's for the same seed and epoch.
import { manualSeed, randperm } from '../torch/index.js';

export interface SamplerOptions {
  seed: number;
  epoch: number;
  shuffle: boolean;
  rank: number;
  worldSize: number;
  /** DistributedSampler's drop_last: drop the tail instead of padding so ranks get equal shares. */
  dropUneven: boolean;
}

/**
 * torch.utils.data.DistributedSampler.__iter__. With shuffle it reseeds libtorch's global CPU
 * generator (there is no separate Generator object in src/torch yet); reseed afterwards if the
 * training loop depends on that generator's stream.
 */
export function distributedIndices(n: number, options: SamplerOptions): number[] {
  const { rank, worldSize } = options;
  if (!(worldSize >= 1 && rank >= 0 && rank < worldSize))
    throw new Error(`sampler: rank ${rank} is not in [0, world size ${worldSize})`);
  let indices: number[];
  if (options.shuffle) {
    manualSeed(options.seed + options.epoch);
    const perm = randperm(n);
    indices = perm.toArray();
    perm.dispose();
  } else {
    indices = Array.from({ length: n }, (_, i) => i);
  }
  const perRank =
    options.dropUneven && n % worldSize !== 0 ? Math.ceil((n - worldSize) / worldSize) : Math.ceil(n / worldSize);
  const total = perRank * worldSize;
  if (options.dropUneven) {
    indices = indices.slice(0, total);
  } else if (total > n) {
    const padding = total - n;
    const repeated = Array.from({ length: Math.ceil(padding / n) }, () => indices).flat();
    indices = indices.concat(repeated.slice(0, padding));
  }
  return indices.filter((_, i) => i % worldSize === rank);
}
