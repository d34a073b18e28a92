// Runs test/cluster/reference.py (python3-faiss and numpy under /usr/bin/python3) for reference answers,
// and makes the test features.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { PYTHON } from '../support/oracle.js';

// Compiled to dist/test/cluster; the script stays in the source tree.
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '../../../test/cluster/reference.py');

export function reference<T>(command: string, job: unknown): T {
  const run = spawnSync(PYTHON, [SCRIPT, command], {
    input: JSON.stringify(job),
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (run.status !== 0) throw new Error(`reference.py ${command} failed:\n${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'clusterfit-cluster-'));
}

/** n points in d dimensions around `modes` Gaussian centres (seeded), float32. */
export function mixture(n: number, d: number, modes: number, seed: number): Tensor {
  torch.manualSeed(seed);
  return torch.tidy(() => {
    const centres = torch.randn([modes, d]).mul(3);
    const which = torch.randint(0, modes, [n]);
    return torch.indexSelect(centres, 0, which).add(torch.randn([n, d]));
  });
}

/** Relative difference |a - b| / |b|. */
export function relative(a: number, b: number): number {
  return Math.abs(a - b) / Math.abs(b);
}
