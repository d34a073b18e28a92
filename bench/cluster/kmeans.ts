// k-means benchmark: our k-means against FAISS CPU (python3-faiss's faiss.Kmeans, as VISSL runs it) on
// the same features, with the same thread count. Prints seconds, the final objective and the ratios.
//
//   node dist/bench/cluster/kmeans.js                          # the default subset (N=100k, d=256, K=1000)
//   node dist/bench/cluster/kmeans.js --sizes all              # every size of the issue (slow on 2 cores)
//   node dist/bench/cluster/kmeans.js --sizes 100000x2048x4000 --niter 20 --threads 16
//   node dist/bench/cluster/kmeans.js --device cuda --sizes 1000000x2048x16000 --niter 50 --no-peer
//   node dist/bench/cluster/kmeans.js --features feats.npy --k 1000,4000   # real features
//
// Sizes are NxDxK of a synthetic, seeded Gaussian mixture. Synthetic mixtures are easy: k-means
// settles within a few iterations, which flatters pruned assignment. --features takes real
// features instead (an N x d .npy, e.g. made with bench/cluster/cifar10-resnet56-features.yaml),
// L2-normalised as the cluster_features engine does, clustered into each K of --k.
// --pruning on|centroid|point|off|both|all: ours with pruned assignment (the default: bounds per
// point and centroid where they fit the default budget, elkan.ts), with bounds per point and
// centroid whatever their memory, with one bound per point (pruned.ts), with the full search
// FAISS runs; both is on and off, all is on, point and off; a list (on,centroid) runs each. --addon also times the FAISS addon (CLUSTER_BACKEND faiss) in this process.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import {
  faissAvailable,
  faissKmeans,
  kmeans,
  l2Normalize,
  setFaissThreads,
  type DistancePrecision,
  type IterationStats,
} from '../../src/cluster/index.js';

const ALL_SIZES = ['100000x256x1000', '100000x256x4000', '100000x2048x1000', '100000x2048x4000'];
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000x256x1000' },
    features: { type: 'string' },
    k: { type: 'string', default: '1000' },
    pruning: { type: 'string', default: 'on' },
    niter: { type: 'string', default: '20' },
    threads: { type: 'string', default: '2' },
    device: { type: 'string', default: 'cpu' },
    'chunk-size': { type: 'string' },
    'no-peer': { type: 'boolean', default: false },
    // Distance arithmetic of our runs (float32 as FAISS; tf32/bfloat16: fast path, near-ties rechecked).
    precision: { type: 'string', default: 'float32' },
    // Also a plain PyTorch k-means (bench/peers/torch_kmeans.py) on --device, on its own data.
    'torch-peer': { type: 'boolean', default: false },
    addon: { type: 'boolean', default: false },
  },
});
const device = values.device!;
const onCuda = device.startsWith('cuda');
const niter = Number(values.niter);
const threads = Number(values.threads);
const chunkSize = values['chunk-size'] === undefined ? undefined : Number(values['chunk-size']);
interface Pruning {
  name: string;
  pruning: boolean;
  boundsMemory?: number;
}
const ON: Pruning = { name: 'ours, pruned', pruning: true };
const CENTROID: Pruning = { name: 'ours, pruned per centroid', pruning: true, boundsMemory: Infinity };
const POINT: Pruning = { name: 'ours, pruned per point', pruning: true, boundsMemory: 0 };
const OFF: Pruning = { name: 'ours, full search', pruning: false };
const PRUNING_WORDS: Record<string, Pruning[]> = {
  on: [ON],
  centroid: [CENTROID],
  point: [POINT],
  off: [OFF],
  both: [ON, OFF],
  all: [ON, POINT, OFF],
};
const pruningModes = values.pruning!.split(',').flatMap((word) => {
  const modes = PRUNING_WORDS[word];
  if (modes === undefined)
    throw new Error(`--pruning takes on, centroid, point, off, both or all (or a list: on,point), got '${word}'`);
  return modes;
});
const precisions = values.precision!.split(',') as DistancePrecision[];
for (const p of precisions) {
  if (!['float32', 'tf32', 'bfloat16'].includes(p))
    throw new Error(`--precision takes float32, tf32, bfloat16; got '${p}'`);
}
interface Case {
  label: string;
  k: number;
  make: () => Tensor;
}
const cases: Case[] =
  values.features === undefined
    ? (values.sizes === 'all' ? ALL_SIZES : values.sizes!.split(',')).map((s) => {
        const [n, d, k] = s.split('x').map(Number);
        if (!n || !d || !k) throw new Error(`--sizes takes NxDxK items (e.g. 100000x256x1000), got '${s}'`);
        return { label: `N=${n} d=${d} K=${k}`, k, make: () => features(n, d, k) };
      })
    : values.k!.split(',').map((item) => {
        const k = Number(item);
        if (!Number.isInteger(k) || k < 1) throw new Error(`--k takes cluster counts (e.g. 1000,4000), got '${item}'`);
        return { label: `${basename(values.features!)} K=${k}`, k, make: () => realFeatures(values.features!) };
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

/** Features from an .npy file, L2-normalised as cluster_features does; read once for all K. */
let loaded: Tensor | undefined;
function realFeatures(path: string): Tensor {
  loaded ??= torch.keep(
    torch.tidy(() => {
      const x = (torch.io.readNpy(path) as Tensor).to('float32').to(device);
      if (x.ndim !== 2) throw new Error(`--features needs an N x d matrix, ${path} has shape [${x.shape.join(', ')}]`);
      return l2Normalize(x);
    }),
  );
  return loaded.clone();
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
  `k-means, ${niter} iterations, device ${device}, ${threads} threads; ours: libtorch ${torch.buildInfo().torchVersion}, ` +
    `distances by ${torch.hasFastGemm() ? 'oneDNN sgemm' : 'addmm (system BLAS)'}; ` +
    `OpenBLAS kernels (FAISS's BLAS): ${torch.blasCore() ?? 'not OpenBLAS'}${process.env.OPENBLAS_CORETYPE ? ` (OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE})` : ''}`,
);
const slowBlas = torch.blasWarning();
if (slowBlas !== null) console.log(`note: ${slowBlas}; FAISS runs on that BLAS, so compare with it set too`);
try {
  for (const { label, k, make } of cases) {
    const x = make();
    const [n, d] = x.shape as [number, number];
    console.log(`${label} (${n} x ${d}):`);
    const runs: { name: string; seconds: number; objective: number; note: string }[] = [];
    const variants = precisions.flatMap((precision): (Pruning & { precision: DistancePrecision })[] =>
      precision === 'float32'
        ? pruningModes.map((mode) => ({ ...mode, precision }))
        : [{ ...OFF, name: `ours, ${precision}`, precision }],
    );
    for (const { name, precision, pruning, boundsMemory } of variants) {
      sync();
      const start = performance.now();
      const ours = kmeans(x, k, { niter, chunkSize, pruning, boundsMemory, precision });
      sync();
      const seconds = (performance.now() - start) / 1000;
      ours.centroids.dispose();
      const searched = ours.iterations.reduce((sum, s) => sum + (s.searched ?? 0), 0) / (ours.trainingPoints * niter);
      const flops = (2 * ours.trainingPoints * k * d * niter) / seconds / 1e9;
      // Of the rows assigned, the share final from the reduced-precision top-2 gap, rescored in
      // float32 among their nearest candidates and searched again in float32 (fast-assign.ts).
      const share = (count: (s: IterationStats) => number): string =>
        `${((100 * ours.iterations.reduce((sum, s) => sum + count(s), 0)) / (ours.trainingPoints * niter)).toFixed(2)}%`;
      const rescored = (s: IterationStats): number => s.rechecked?.rescored ?? 0;
      const researched = (s: IterationStats): number => s.rechecked?.researched ?? 0;
      runs.push({
        name,
        seconds,
        objective: ours.objective.at(-1)!,
        note:
          `${(seconds / niter).toFixed(3)} s/iteration, ${(searched * 100).toFixed(0)}% of point-centroid comparisons, ` +
          `${flops.toFixed(0)} effective GFLOP/s` +
          (precision !== 'float32'
            ? `; rows final from the ${precision} gap ${share((s) => (s.searched ?? 0) - rescored(s) - researched(s))}, ` +
              `rescored in float32 among the nearest candidates ${share(rescored)}, ` +
              `searched again in float32 ${share(researched)}`
            : ''),
      });
    }
    let faiss: { seconds: number; objective: number; faiss: string } | undefined;
    if (runPeer) {
      const path = join(dir, 'features.npy');
      const cpu = x.cpu();
      torch.io.writeNpy(path, cpu);
      cpu.dispose();
      faiss = peer(path, k);
      rmSync(path);
    }
    const reference = runs.find((r) => r.name === 'ours, full search');
    if (reference !== undefined) {
      for (const run of runs.filter(
        (r) => r.name.startsWith('ours, ') && r !== reference && !r.name.startsWith('ours, pruned'),
      )) {
        run.note += `, objective vs our float32 full search ${(((run.objective - reference.objective) / reference.objective) * 100).toFixed(4)}%`;
      }
    }
    for (const run of runs) {
      let line = `  ${run.name.padEnd(18)} ${run.seconds.toFixed(2).padStart(8)} s  objective ${run.objective.toPrecision(8)}`;
      if (faiss !== undefined) {
        const gap = ((run.objective - faiss.objective) / faiss.objective) * 100;
        line += `  speed FAISS/ours ${(faiss.seconds / run.seconds).toFixed(2)}x (>1: ours faster), objective gap ${gap.toFixed(3)}%`;
      }
      console.log(`${line}  (${run.note})`);
    }
    if (faiss !== undefined) {
      console.log(
        `  ${`FAISS ${faiss.faiss} CPU`.padEnd(18)} ${faiss.seconds.toFixed(2).padStart(8)} s  objective ${faiss.objective.toPrecision(8)}`,
      );
    }
    if (values['torch-peer']) {
      const script = join(
        dirname(fileURLToPath(import.meta.url)),
        '..',
        '..',
        '..',
        'bench',
        'peers',
        'torch_kmeans.py',
      );
      const python = process.env.CLUSTERFIT_PYTHON ?? '/usr/bin/python3';
      const result = spawnSync(python, [script, String(n), String(d), String(k), String(niter), device], {
        encoding: 'utf8',
      });
      if (result.status !== 0) throw new Error(`PyTorch k-means peer failed (${python}): ${result.stderr}`);
      const t = JSON.parse(result.stdout.trim().split('\n').pop()!) as {
        seconds: number;
        objective: number;
        torch: string;
      };
      console.log(
        `  ${`PyTorch ${t.torch} plain`.padEnd(18)} ${t.seconds.toFixed(2).padStart(8)} s  objective ${t.objective.toPrecision(8)} ` +
          `(${(t.seconds / niter).toFixed(3)} s/iteration, float32, its own data of the same shape)`,
      );
      for (const run of runs)
        console.log(`    speed PyTorch/${run.name}: ${(t.seconds / run.seconds).toFixed(2)}x (>1: ours faster)`);
    }
    if (values.addon) {
      if (!faissAvailable())
        throw new Error('--addon needs the FAISS addon: apt-get install libfaiss-dev, then npm run build');
      const addonStart = performance.now();
      const viaAddon = await faissKmeans(x, k, { niter });
      const addonSeconds = (performance.now() - addonStart) / 1000;
      viaAddon.centroids.dispose();
      console.log(
        `  ${'FAISS addon'.padEnd(18)} ${addonSeconds.toFixed(2).padStart(8)} s  objective ${viaAddon.objective.at(-1)!.toPrecision(8)}`,
      );
    }
    x.dispose();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
