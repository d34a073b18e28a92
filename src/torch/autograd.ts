// Grad-mode scopes and functional gradients. Grad mode is thread-local in libtorch; all of these
// run on the JS thread, so a scope covers exactly the synchronous code inside it.
import { native } from './native.js';
import { runBackward } from './backward-errors.js';
import { Tensor } from './tensor.js';

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const previous = native.isGradEnabled();
  native.setGradEnabled(enabled);
  try {
    return fn();
  } finally {
    native.setGradEnabled(previous);
  }
}

/** Runs `fn` without recording operations for autograd (torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs `fn` with autograd recording on, even inside noGrad (torch.enable_grad). */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

/**
 * Runs `fn` in inference mode (torch.inference_mode): faster than noGrad, but the tensors it makes
 * can never be used in autograd later.
 */
export function inferenceMode<T>(fn: () => T): T {
  native.enterInferenceMode();
  try {
    return fn();
  } finally {
    native.exitInferenceMode();
  }
}

export interface GradOptions {
  /** Upstream gradients, one per output (null: ones, for scalar outputs). */
  gradOutputs?: (Tensor | null)[];
  retainGraph?: boolean;
  createGraph?: boolean;
  allowUnused?: boolean;
}

/** Gradients of `outputs` with respect to `inputs` (torch.autograd.grad); null where unused. */
export function grad(outputs: Tensor[], inputs: Tensor[], options: GradOptions = {}): (Tensor | null)[] {
  const gradOutputs = options.gradOutputs ?? outputs.map(() => null);
  const handles = native.grad(
    outputs.map((t) => t.handle),
    inputs.map((t) => t.handle),
    gradOutputs.map((t) => t?.handle ?? null),
    options.retainGraph,
    options.createGraph ?? false,
    options.allowUnused ?? false,
  );
  return handles.map((h) => (h === null ? null : new Tensor(h)));
}

/** Runs backward from several tensors at once (torch.autograd.backward). */
export function backward(
  tensors: Tensor[],
  gradients?: (Tensor | null)[],
  options: { retainGraph?: boolean } = {},
): void {
  runBackward(
    tensors.map((t) => t.handle),
    (gradients ?? tensors.map(() => null)).map((g) => g?.handle ?? null),
    options.retainGraph,
    false,
  );
}
