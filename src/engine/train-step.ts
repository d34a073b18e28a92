// One optimisation step, with or without mixed precision: the forward pass (under autocast when AMP
// is on), the loss, backward (of the scaled loss when a GradScaler is used), the optimizer step
// (skipped by the scaler when a gradient is inf/NaN) and the scale update. PyTorch's AMP recipe:
//   with autocast(): loss = loss_fn(model(x), y)
//   scaler.scale(loss).backward(); scaler.step(opt); scaler.update()
import { amp, type Tensor } from '../torch/index.js';
import type { AnyModule } from '../torch/nn/index.js';
import type { SGD } from '../torch/optim/index.js';
import type { LossFunction } from './loss.js';

/** How a run uses mixed precision; `scaler` is null with bfloat16 (its range needs no scaling). */
export interface MixedPrecision {
  deviceType: amp.AutocastDeviceType;
  dtype: amp.AutocastDType;
  scaler: amp.GradScaler | null;
}

export interface StepResult {
  outputs: Tensor[];
  loss: Tensor;
  /** False when the scaler skipped the optimizer step (an inf/NaN gradient). */
  stepped: boolean;
}

function outputsOf(result: unknown): Tensor[] {
  return Array.isArray(result) ? (result as Tensor[]) : [result as Tensor];
}

/** Runs `fn` under autocast when `mixed` is given, else plainly. */
export function maybeAutocast<T>(mixed: MixedPrecision | null | undefined, fn: () => T): T {
  return mixed ? amp.autocast({ deviceType: mixed.deviceType, dtype: mixed.dtype }, fn) : fn();
}

/** One training step; call it inside the caller's tidy scope (its tensors belong to that scope). */
export function trainStep(
  parts: { model: AnyModule; loss: LossFunction; optimizer: SGD; mixed?: MixedPrecision | null },
  input: Tensor,
  labels: Tensor,
): StepResult {
  const { model, optimizer, mixed } = parts;
  const { outputs, loss } = maybeAutocast(mixed, () => {
    const out = outputsOf(model.call(input));
    return { outputs: out, loss: parts.loss(out, labels) };
  });
  optimizer.zeroGrad();
  const scaler = mixed?.scaler ?? null;
  if (scaler === null) {
    loss.backward();
    optimizer.step();
    return { outputs, loss, stepped: true };
  }
  scaler.scale(loss).backward();
  const stepped = scaler.step(optimizer);
  scaler.update();
  return { outputs, loss, stepped };
}
