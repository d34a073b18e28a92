// The trained SVMs on disk. VISSL pickles each scikit-learn LinearSVC (cls{c}_cost{C}.pickle); a
// pickle runs code when it is loaded and needs scikit-learn's class to be read at all. Here each
// model is a float64 .npy of d + 1 values, coef_ then intercept_ (decision = x . w[:-1] + w[-1]),
// which numpy (np.load, allow_pickle=False) and PyTorch (torch.from_numpy) open safely, one file
// per class and cost under VISSL's name with .npy for .pickle.
import { existsSync } from 'node:fs';
import * as torch from '../../torch/index.js';
import { NpyReader, writeNpy } from '../../torch/io/index.js';

export interface LinearModel {
  weights: Float64Array;
  bias: number;
}

export function writeModel(path: string, model: LinearModel): void {
  const values = new Float64Array(model.weights.length + 1);
  values.set(model.weights);
  values[model.weights.length] = model.bias;
  torch.tidy(() => writeNpy(path, torch.tensor(values, { dtype: 'float64' })));
}

/** The model at `path`, or null when there is none (or it is not d + 1 values). */
export function readModel(path: string, d: number): LinearModel | null {
  if (!existsSync(path)) return null;
  const values = Float64Array.from(readNumbers(path));
  if (values.length !== d + 1) return null;
  return { weights: values.subarray(0, d), bias: values[d] as number };
}

/** A float64 .npy of `rows` x `columns` values (VISSL's AP and cost matrices). */
export function writeMatrix(path: string, values: ArrayLike<number>, shape: number[]): void {
  torch.tidy(() => writeNpy(path, torch.tensor(Float64Array.from(values), { dtype: 'float64', shape })));
}

/** The values of a small .npy as numbers, or null when it does not exist. */
export function readValues(path: string): number[] | null {
  if (!existsSync(path)) return null;
  return readNumbers(path);
}

function readNumbers(path: string): number[] {
  const reader = new NpyReader(path);
  try {
    return torch.tidy(() => reader.read().to('float64').reshape(-1).toArray());
  } finally {
    reader.close();
  }
}

/**
 * Decision values of models on feature rows: `x` (n x d float32, row-major, already normalised as
 * for training) times each model, in float64 as scikit-learn's decision_function computes them.
 * Returns n x models.length, row-major.
 */
export function decisionValues(x: Float32Array, n: number, d: number, models: readonly LinearModel[]): Float64Array {
  const w = new Float64Array(d * models.length);
  const b = new Float64Array(models.length);
  models.forEach((m, j) => {
    for (let i = 0; i < d; i++) w[i * models.length + j] = m.weights[i] as number;
    b[j] = m.bias;
  });
  return torch.tidy(() => {
    const features = torch.tensor(x, { shape: [n, d] }).to('float64');
    const weights = torch.tensor(w, { dtype: 'float64', shape: [d, models.length] });
    return torch
      .mm(features, weights)
      .add(torch.tensor(b, { dtype: 'float64' }))
      .contiguous()
      .data() as Float64Array;
  });
}
