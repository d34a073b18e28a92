// VISSL's SVM settings (the `SVM` section of its defaults.yaml) and what its trainers derive from
// them: the cost list, the feature normalisation, the LinearSVC arguments, the file names.
import { l2Normalize } from '../../cluster/pca.js';
import type { Tensor } from '../../torch/index.js';
import * as torch from '../../torch/index.js';
import type { LinearSvcOptions } from './liblinear.js';

export interface SvmSettings {
  normalize: boolean;
  cls_list: readonly number[];
  loss: string;
  penalty: string;
  dual: boolean;
  max_iter: number;
  cross_val_folds: number;
  costs: { costs_list: readonly number[]; base: number; power_range: readonly number[] };
  force_retrain: boolean;
  low_shot: { dataset_name: string; sample_inds: readonly number[]; k_values: readonly number[] };
}

/**
 * SVMTrainer._get_costs_list: costs_list, then base^p for p in range(power_range[0],
 * power_range[1]) when base > 0.
 */
export function costsList(costs: SvmSettings['costs']): number[] {
  const list = [...costs.costs_list];
  if (costs.base > 0) {
    const [start, end] = costs.power_range as [number, number];
    for (let p = start; p < end; p++) list.push(costs.base ** p);
  }
  if (list.length === 0) throw new Error('SVM.costs: no cost to try (costs_list is empty and base <= 0)');
  list.forEach((c) => {
    if (!(c > 0) || !Number.isFinite(c)) throw new Error(`SVM.costs: every cost must be > 0, got ${c}`);
  });
  return list;
}

/**
 * The LinearSVC VISSL builds for every class and cost: class_weight {1: 2, -1: 1},
 * intercept_scaling 1, tol 1e-4, and the config's penalty, loss and dual.
 */
export const CLASS_WEIGHTS = { weightPositive: 2, weightNegative: 1 } as const;

export function linearSvcOptions(settings: SvmSettings, threads: number): LinearSvcOptions {
  return {
    penalty: settings.penalty,
    loss: settings.loss,
    dual: settings.dual,
    tol: 0.0001,
    interceptScaling: 1.0,
    threads,
  };
}

/** SVMTrainer._normalize_features when SVM.normalize is set: x / (||x|| + 1e-5) per row, in float32. */
export function svmFeatures(features: Tensor, normalize: boolean): Float32Array {
  return torch.tidy(() => {
    const x = features.to('float32').to('cpu');
    return (normalize ? l2Normalize(x) : x).contiguous().data() as Float32Array;
  });
}

/** Python's str(float(x)), which VISSL's file names carry: 1.0, 0.01, 1e-05, 1e+16. */
export function pythonFloat(x: number): string {
  const magnitude = Math.abs(x);
  if (x === 0 || (magnitude >= 1e-4 && magnitude < 1e16)) {
    const text = String(x);
    return Number.isInteger(x) ? `${text}.0` : text;
  }
  const [mantissa, exponent] = x.toExponential().split('e') as [string, string];
  const sign = exponent.startsWith('-') ? '-' : '+';
  return `${mantissa}e${sign}${exponent.replace(/^[+-]/, '').padStart(2, '0')}`;
}

/** The part of VISSL's model and AP file names that names a class and cost: `0_cost0.1`. */
export function clsCost(cls: number, cost: number): string {
  return `${cls}_cost${pythonFloat(cost)}`;
}
