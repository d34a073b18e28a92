// k-means benchmark: our k-means against FAISS CPU (python3-faiss's faiss.Kmeans, as VISSL runs it) on
// the same deterministic features (a Gaussian mixture, written to an .npy for the peer), with the
// same thread count. Prints seconds, the final objective and the ratios.
//
//   node dist/bench/cluster/kmeans.js                          # the default subset (N=100k, d=256, K=1000)
//   node dist/bench/cluster/kmeans.js --sizes all              # every size of the issue (slow on 2 cores)
//   node dist/bench/cluster/kmeans.js --sizes 100000x2048x4000 --niter 20 --threads 16
//   node dist/bench/cluster/kmeans.js --device cuda --sizes 1000000x2048x16000 --niter 50 --no-peer
//
// Sizes are NxDxK. --addon also times the FAISS addon (CLUSTER_BACKEND faiss) in this process.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { faissAvailable, faissKmeans, kmeans, setFaissThreads } from '../../src/cluster/index.js';

const ALL_SIZES = ['100000x256x1000', '100000x256x4000', '100000x2048x1000', '100000x2048x4000'];
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000x256x1000' },
    niter: { type: 'string', default: '20' },
    threads: { type: 'string', default: '2' },
    device: { type: 'string', default: 'cpu' },
    'chunk-size': { type: 'string' },
    'no-peer': { type: 'boolean', default: false },
    addon: { type: 'boolean', default: false },
  },
});
const device = values.device!;
const onCuda = device.startsWith('cuda');
const niter = Number(values.niter);
const threads = Number(values.threads);
const chunkSize = values['chunk-size'] === undefined ? undefined : Number(values['chunk-size']);
const sizes = (values.sizes === 'all' ? ALL_SIZES : values.sizes!.split(',')).map((s) => {
  const [n, d, k] = s.split('x').map(Number);
  if (!n || !d || !k) throw new Error(`--sizes takes NxDxK items (e.g. 100000x256x1000), got '${s}'`);
  return { n, d, k };
});
const runPeer = !values['no-peer'];
torch.setNumThreads(threads);
if (values.addon && faissAvailable()) setFaissThreads(threads);

/** n points around k/2 Gaussian centres in d dimensions, seeded: the same on every run. */
function features(n: number, d: number, k: number): Tensor {
  torch.manualSeed(0);
  return torch.tidy(() => {
    const modes = Math.max(1, Math.floor(k / 2));
    const centres = torch.randn([modes, d], { device });
    const which = torch.randint(0, modes, [n], { device });
    return torch.indexSelect(centres, 0, which).add(torch.randn([n, d], { device }).mul(0.5));
  });
}

function peer(path: string, k: number): { seconds: number; objective: number; faiss: string } {
  const script = join(
    resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..'),
    'bench',
    'peers',
    'faiss_kmeans.py',
  );
  const python = process.env.CLUSTERFIT_PYTHON ?? '/usr/bin/python3';
  const result = spawnSync(python, [script, path, String(k), String(niter), String(threads)], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`FAISS peer failed (${python}): ${result.stderr}`);
  return JSON.parse(result.stdout);
}

const sync = (): void => (onCuda ? torch.cuda.synchronize() : undefined);
const dir = mkdtempSync(join(tmpdir(), 'clusterfit-bench-kmeans-'));
console.log(
  `k-means, ${niter} iterations, device ${device}, ${threads} threads; ours: libtorch ${torch.buildInfo().torchVersion}`,
);
try {
  for (const { n, d, k } of sizes) {
    const x = features(n, d, k);
    sync();
    const start = performance.now();
    const ours = kmeans(x, k, { niter, chunkSize });
    sync();
    const seconds = (performance.now() - start) / 1000;
    const objective = ours.objective.at(-1)!;
    ours.centroids.dispose();
    const flops = (2 * ours.trainingPoints * k * d * niter) / seconds / 1e9;
    let line = `N=${n} d=${d} K=${k}: ours ${seconds.toFixed(2)} s (${flops.toFixed(0)} GFLOP/s), objective ${objective.toPrecision(8)}`;
    if (runPeer) {
      const path = join(dir, 'features.npy');
      const cpu = x.cpu();
      torch.io.writeNpy(path, cpu);
      cpu.dispose();
      const faiss = peer(path, k);
      rmSync(path);
      const gap = ((objective - faiss.objective) / faiss.objective) * 100;
      line += ` | FAISS ${faiss.faiss} CPU ${faiss.seconds.toFixed(2)} s, objective ${faiss.objective.toPrecision(8)}`;
      line += ` | speed ratio FAISS/ours ${(faiss.seconds / seconds).toFixed(2)}x (>1: ours faster), objective gap ${gap.toFixed(3)}%`;
    }
    if (values.addon) {
      if (!faissAvailable())
        throw new Error('--addon needs the FAISS addon: apt-get install libfaiss-dev, then npm run build');
      const addonStart = performance.now();
      const viaAddon = await faissKmeans(x, k, { niter });
      const addonSeconds = (performance.now() - addonStart) / 1000;
      viaAddon.centroids.dispose();
      line += ` | addon ${addonSeconds.toFixed(2)} s, objective ${viaAddon.objective.at(-1)!.toPrecision(8)}`;
    }
    x.dispose();
    console.log(line);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
