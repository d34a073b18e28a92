// Runs test/cluster/reference.py (python3-faiss and numpy under /usr/bin/python3) for reference answers,
// and makes the test features.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { referenceScript } from '../support/reference-script.js';

export const reference = referenceScript('cluster');

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
