// Features and targets for the SVM tests, written as VISSL's extraction writes them: shards
// rank{R}_chunk0_{split}_{layer}_{features,inds,targets}.npy, VOC07's multi-label {-1, 0, 1} targets
// (N x C: 1 present, 0 absent, -1 difficult) or single-label class ids (N x 1).
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '../../src/torch/index.js';
import { referenceScript } from '../support/reference-script.js';

export const reference = referenceScript('svm');

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'clusterfit-svm-'));
}

export interface Split {
  /** n x d float32. */
  x: Float32Array;
  /** n x columns int. */
  y: Int32Array;
  n: number;
  d: number;
  columns: number;
}

/** Deterministic pseudo-random numbers in [0, 1) (a 32-bit LCG), so fixtures need no libtorch RNG state. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/**
 * Images with `classes` classes in `d` dimensions: each class a prototype; an image's features are
 * the ReLU of its classes' prototypes plus noise. Multi-label: each class present with probability
 * 0.3 (at least one), 8% of the present ones marked difficult (-1). Single-label: one class each.
 */
export function makeSplit(n: number, d: number, classes: number, multiLabel: boolean, seed: number): Split {
  const protos = lcg(1234);
  const prototypes = Array.from({ length: classes }, () => Array.from({ length: d }, () => gaussian(protos) * 1.2));
  const rand = lcg(seed);
  const columns = multiLabel ? classes : 1;
  const x = new Float32Array(n * d);
  const y = new Int32Array(n * columns);
  for (let i = 0; i < n; i++) {
    let present: number[];
    if (multiLabel) {
      present = [];
      for (let c = 0; c < classes; c++) if (rand() < 0.3) present.push(c);
      if (present.length === 0) present.push(Math.floor(rand() * classes));
      for (let c = 0; c < classes; c++) y[i * columns + c] = present.includes(c) ? (rand() < 0.08 ? -1 : 1) : 0;
    } else {
      present = [i % classes];
      y[i] = i % classes;
    }
    for (let j = 0; j < d; j++) {
      let v = gaussian(rand) * 1.1;
      for (const c of present) v += prototypes[c]![j]!;
      x[i * d + j] = Math.max(0, v);
    }
  }
  return { x, y, n, d, columns };
}

/** The split as two VISSL shards (even and odd dataset indices), plus plain x/y .npy for Python. */
export function writeSplit(dir: string, split: string, layer: string, data: Split): { x: string; y: string } {
  mkdirSync(dir, { recursive: true });
  torch.tidy(() => {
    const x = torch.tensor(data.x, { shape: [data.n, data.d] });
    const y = torch.tensor(data.y, { shape: [data.n, data.columns] }).to('int64');
    for (const rank of [0, 1]) {
      const rows = Array.from({ length: data.n }, (_, i) => i).filter((i) => i % 2 === rank);
      const index = torch.tensor(rows, { dtype: 'int64' });
      const prefix = join(dir, `rank${rank}_chunk0_${split}_${layer}`);
      torch.io.writeNpy(`${prefix}_features.npy`, torch.indexSelect(x, 0, index));
      torch.io.writeNpy(`${prefix}_targets.npy`, torch.indexSelect(y, 0, index));
      torch.io.writeNpy(`${prefix}_inds.npy`, index);
    }
    torch.io.writeNpy(join(dir, `${split}_${layer}_x.npy`), x);
    torch.io.writeNpy(join(dir, `${split}_${layer}_y.npy`), y);
  });
  return { x: join(dir, `${split}_${layer}_x.npy`), y: join(dir, `${split}_${layer}_y.npy`) };
}
