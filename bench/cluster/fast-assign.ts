// The reduced-precision assignment's rechecks (src/cluster/fast-assign.ts): on L2-normalised
// clustered features with centroids after a few k-means iterations, how many rows the TF32 and
// bfloat16 top-2 gap settles, how many are rescored in float32 among the top-m candidates and how
// many are searched again in float32 against every centroid, and the seconds per assignment pass
// next to the float32 search's. On a CPU there are no tensor cores ('tf32' multiplies in float32
// there, with TF32's error bound), so the times show the rechecks' overhead, not the speed-up.
//
//   node dist/bench/cluster/fast-assign.js                                  # 20000x2048x1000, m = 8,16,32
//   node dist/bench/cluster/fast-assign.js --sizes 20000x512x2000 --candidates 16 --device cuda
//
// The features: --modes Gaussian centres (seeded), each point a centre plus unit noise, then
// L2-normalised as the cluster_features engine does; K well above --modes gives many near-ties.
import { parseArgs } from 'node:util';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { assign, chunkRows, kmeans, l2Normalize } from '../../src/cluster/index.js';
import { prepareCentroids } from '../../src/cluster/assign.js';
import { assignChunkFast, prepareFast, type FastCentroids } from '../../src/cluster/fast-assign.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '20000x2048x1000' },
    modes: { type: 'string', default: '100' },
    candidates: { type: 'string', default: '8,16,32' },
    threads: { type: 'string', default: '2' },
    device: { type: 'string', default: 'cpu' },
  },
});
const [n, d, k] = values.sizes!.split('x').map(Number) as [number, number, number];
const modes = Number(values.modes);
const device = values.device!;
torch.setNumThreads(Number(values.threads));
const sync = (): void => (device.startsWith('cuda') ? torch.cuda.synchronize() : undefined);

torch.manualSeed(1);
const x = torch.tidy(() => {
  const centres = torch.randn([modes, d]).mul(3);
  return l2Normalize(torch.indexSelect(centres, 0, torch.randint(0, modes, [n])).add(torch.randn([n, d]))).to(device);
});
const { centroids } = kmeans(x, k, { niter: 3, seed: 1, warn: () => undefined });
const rows = chunkRows(k, {}, device);

function timed<T>(run: () => T): [T, number] {
  sync();
  const start = performance.now();
  const result = run();
  sync();
  return [result, (performance.now() - start) / 1000];
}

const [exact, float32Seconds] = timed(() => assign(x, centroids));
console.log(`${n} x ${d} -> ${k} (${modes} modes, ${device}): float32 search ${float32Seconds.toFixed(2)} s/pass`);
const exactLabels = exact.labels.toArray();
const prepared = prepareCentroids(centroids);
for (const precision of ['tf32', 'bfloat16'] as const) {
  for (const m of values.candidates!.split(',').map(Number)) {
    const fast: FastCentroids = prepareFast(centroids, precision, m);
    const counts = { rescored: 0, researched: 0 };
    const labels = torch.empty([n], { dtype: 'int64', device });
    const [, seconds] = timed(() => {
      for (let first = 0; first < n; first += rows) {
        const length = Math.min(rows, n - first);
        torch.tidy(() => {
          const part = assignChunkFast(torch.narrow(x, 0, first, length), prepared, fast);
          torch.narrow(labels, 0, first, length).copy_(part.labels);
          counts.rescored += part.rechecked.rescored;
          counts.researched += part.rechecked.researched;
        });
      }
    });
    const differ = labels.toArray().filter((label, i) => label !== exactLabels[i]).length;
    const percent = (count: number): string => `${((100 * count) / n).toFixed(2)}%`;
    console.log(
      `  ${precision}, m = ${fast.candidates}: final ${percent(n - counts.rescored - counts.researched)}, ` +
        `rescored ${percent(counts.rescored)}, re-searched ${percent(counts.researched)}; ` +
        `${seconds.toFixed(2)} s/pass (${(seconds / float32Seconds).toFixed(2)}x float32); ` +
        `${differ} labels differ from float32`,
    );
    [labels, fast.roundedT].forEach((t: Tensor) => t.dispose());
  }
}
