// torch.amp.GradScaler: scales the loss so float16 gradients do not underflow, unscales the
// gradients before the optimizer steps, skips the step when any gradient is inf/NaN, and adapts
// the scale: times backoffFactor after a skipped step, times growthFactor after growthInterval
// finite steps in a row. The rules, state dict keys and error messages are PyTorch's.
//
// The arithmetic runs in ATen's fused kernels (_amp_foreach_non_finite_check_and_unscale_,
// _amp_update_scale_) where the device has them: CUDA always, the CPU from PyTorch 2.x. libtorch
// 1.13 has no CPU kernels for them, so there the same arithmetic runs in plain ops (float32 scale,
// gradients multiplied by the float32 reciprocal of the scale computed in float64, as PyTorch does).
import { noGrad } from '../autograd.js';
import { op } from '../dispatch.js';
import { deviceNative } from '../native-device.js';
import { keep, tidy } from '../scope.js';
import type { Device, Tensor } from '../tensor.js';
import { full, zeros } from '../ops/creation.js';
import { isfinite, logicalNot, maximum, reciprocal } from '../ops/math.js';
import { any } from '../ops/reduce.js';

/** What the scaler needs of an optimizer: its parameters (with .grad) and its step. */
export interface ScalableOptimizer {
  readonly paramGroups: readonly { readonly params: readonly Tensor[] }[];
  step(): void;
}

export interface GradScalerOptions {
  /** Where the scale lives: the device of the gradients (default 'cuda'). */
  device?: Device;
  initScale?: number;
  growthFactor?: number;
  backoffFactor?: number;
  growthInterval?: number;
  /** false makes every method a pass-through (scale 1, plain optimizer.step()). */
  enabled?: boolean;
}

/** PyTorch's GradScaler.state_dict() (empty when the scaler is disabled). */
export interface GradScalerState {
  scale?: number;
  growth_factor?: number;
  backoff_factor?: number;
  growth_interval?: number;
  _growth_tracker?: number;
}

const UNSCALE_ = op('aten::_amp_foreach_non_finite_check_and_unscale_', ['self', 'found_inf', 'inv_scale']);
const UPDATE_SCALE_ = op('aten::_amp_update_scale_', [
  'self',
  'growth_tracker',
  'found_inf',
  'scale_growth_factor',
  'scale_backoff_factor',
  'growth_interval',
]);

type Stage = 'ready' | 'unscaled' | 'stepped';

interface OptimizerState {
  stage: Stage;
  /** 1 when some gradient was inf/NaN since the last update (float32, on the scaler's device). */
  foundInf: Tensor | null;
}

function deviceTypeOf(device: Device): 'cpu' | 'cuda' {
  return device === 'cpu' || device.startsWith('cpu:') ? 'cpu' : 'cuda';
}

export class GradScaler {
  readonly device: Device;
  #enabled: boolean;
  #initScale: number;
  #growthFactor: number;
  #backoffFactor: number;
  #growthInterval: number;
  #initGrowthTracker = 0;
  /** Created on first use (as PyTorch's lazy _scale), then kept until dispose(). */
  #scale: Tensor | null = null;
  #growthTracker: Tensor | null = null;
  #perOptimizer = new Map<ScalableOptimizer, OptimizerState>();
  readonly #fused: boolean;

  constructor(options: GradScalerOptions = {}) {
    this.device = options.device ?? 'cuda';
    this.#enabled = options.enabled ?? true;
    this.#initScale = options.initScale ?? 2 ** 16;
    this.#growthFactor = options.growthFactor ?? 2.0;
    this.#backoffFactor = options.backoffFactor ?? 0.5;
    this.#growthInterval = options.growthInterval ?? 2000;
    if (!(this.#growthFactor > 1)) throw new Error('GradScaler: growthFactor should be > 1');
    if (!(this.#backoffFactor < 1)) throw new Error('GradScaler: backoffFactor should be < 1');
    if (!Number.isInteger(this.#growthInterval) || this.#growthInterval <= 0) {
      throw new Error('GradScaler: growthInterval should be a positive integer');
    }
    const deviceType = deviceTypeOf(this.device);
    this.#fused =
      deviceNative.opHasKernel(UNSCALE_.name, UNSCALE_.overload, deviceType) &&
      deviceNative.opHasKernel(UPDATE_SCALE_.name, UPDATE_SCALE_.overload, deviceType);
  }

  isEnabled(): boolean {
    return this.#enabled;
  }

  /** Whether ATen's fused AMP kernels do the work (else the plain-op fallback). */
  get usesFusedKernels(): boolean {
    return this.#fused;
  }

  #lazyInit(): Tensor {
    if (this.#scale === null) {
      this.#scale = keep(full([1], this.#initScale, { dtype: 'float32', device: this.device }));
      this.#growthTracker = keep(full([1], this.#initGrowthTracker, { dtype: 'int32', device: this.device }));
    }
    return this.#scale;
  }

  #state(optimizer: ScalableOptimizer): OptimizerState {
    let state = this.#perOptimizer.get(optimizer);
    if (!state) {
      state = { stage: 'ready', foundInf: null };
      this.#perOptimizer.set(optimizer, state);
    }
    return state;
  }

  /** outputs * scale (the loss to call backward on). */
  scale(outputs: Tensor): Tensor {
    if (!this.#enabled) return outputs;
    const scale = this.#lazyInit();
    return outputs.mul(scale.to(outputs.device, { nonBlocking: true }));
  }

  /** Divides the optimizer's gradients by the scale in place and records whether any is inf/NaN. */
  unscale_(optimizer: ScalableOptimizer): void {
    if (!this.#enabled) return;
    const state = this.#state(optimizer);
    if (state.stage === 'unscaled') {
      throw new Error('unscale_() has already been called on this optimizer since the last update().');
    }
    if (state.stage === 'stepped') throw new Error('unscale_() is being called after step().');
    const scale = this.#lazyInit();
    const foundInf = keep(zeros([1], { dtype: 'float32', device: this.device }));
    noGrad(() =>
      tidy(() => {
        const invScale = reciprocal(scale.double()).float();
        const grads: Tensor[] = [];
        for (const group of optimizer.paramGroups) {
          for (const param of group.params) {
            const grad = param.grad;
            if (grad === null) continue;
            if (grad.dtype === 'float16') throw new Error('Attempting to unscale FP16 gradients.');
            grads.push(grad);
          }
        }
        if (grads.length === 0) return;
        if (this.#fused) {
          UNSCALE_.callDiscard(
            grads.map((g) => g.handle),
            foundInf.handle,
            invScale.handle,
          );
        } else {
          for (const grad of grads) {
            foundInf.copy_(maximum(foundInf, any(logicalNot(isfinite(grad))).float()));
            grad.mul_(invScale);
          }
        }
      }),
    );
    state.foundInf?.dispose();
    state.foundInf = foundInf;
    state.stage = 'unscaled';
  }

  /**
   * Unscales (if unscale_ was not called) and steps the optimizer unless a gradient was inf/NaN.
   * Returns whether the optimizer stepped.
   */
  step(optimizer: ScalableOptimizer): boolean {
    if (!this.#enabled) {
      optimizer.step();
      return true;
    }
    const state = this.#state(optimizer);
    if (state.stage === 'stepped') throw new Error('step() has already been called since the last update().');
    if (state.stage === 'ready') this.unscale_(optimizer);
    const found = state.foundInf === null ? 0 : state.foundInf.item();
    state.stage = 'stepped';
    if (found !== 0) return false;
    optimizer.step();
    return true;
  }

  /**
   * Updates the scale for the next iteration: backoff if any optimizer saw inf/NaN since the last
   * update, growth after growthInterval clean steps; or sets `newScale` as given.
   */
  update(newScale?: number): void {
    if (!this.#enabled) return;
    const scale = this.#lazyInit();
    const tracker = this.#growthTracker as Tensor;
    if (newScale !== undefined) {
      scale.fill_(newScale);
    } else {
      const found = [...this.#perOptimizer.values()].map((s) => s.foundInf).filter((t): t is Tensor => t !== null);
      if (found.length === 0) throw new Error('No inf checks were recorded prior to update.');
      noGrad(() =>
        tidy(() => {
          let combined = found[0] as Tensor;
          for (const f of found.slice(1)) combined = combined.add(f);
          if (this.#fused) {
            UPDATE_SCALE_.callDiscard(
              scale.handle,
              tracker.handle,
              combined.handle,
              this.#growthFactor,
              this.#backoffFactor,
              this.#growthInterval,
            );
          } else {
            this.#updateOnHost(scale, tracker, combined.item() !== 0);
          }
        }),
      );
    }
    for (const state of this.#perOptimizer.values()) state.foundInf?.dispose();
    this.#perOptimizer.clear();
  }

  // _amp_update_scale_'s kernel, step for step, in float32 like the kernel's arithmetic.
  #updateOnHost(scale: Tensor, tracker: Tensor, foundInf: boolean): void {
    const current = scale.item();
    if (foundInf) {
      scale.fill_(Math.fround(current * this.#backoffFactor));
      tracker.fill_(0);
      return;
    }
    const successful = tracker.item() + 1;
    if (successful === this.#growthInterval) {
      const grown = Math.fround(current * this.#growthFactor);
      if (Number.isFinite(grown)) scale.fill_(grown);
      tracker.fill_(0);
    } else {
      tracker.fill_(successful);
    }
  }

  /** The current scale (1 when disabled; the initial scale before the first use). */
  getScale(): number {
    if (!this.#enabled) return 1.0;
    return this.#scale === null ? this.#initScale : this.#scale.item();
  }

  getGrowthFactor(): number {
    return this.#growthFactor;
  }

  getBackoffFactor(): number {
    return this.#backoffFactor;
  }

  getGrowthInterval(): number {
    return this.#growthInterval;
  }

  #growthTrackerValue(): number {
    return this.#growthTracker === null ? this.#initGrowthTracker : this.#growthTracker.item();
  }

  /** PyTorch's state_dict(): scale, factors, interval and the growth tracker; {} when disabled. */
  stateDict(): GradScalerState {
    if (!this.#enabled) return {};
    return {
      scale: this.getScale(),
      growth_factor: this.#growthFactor,
      backoff_factor: this.#backoffFactor,
      growth_interval: this.#growthInterval,
      _growth_tracker: this.#growthTrackerValue(),
    };
  }

  loadStateDict(state: GradScalerState): void {
    if (!this.#enabled) return;
    if (Object.keys(state).length === 0) {
      throw new Error(
        'The source state dict is empty, possibly because it was saved from a scaler that was not enabled.',
      );
    }
    const need = (key: keyof GradScalerState): number => {
      const value = state[key];
      if (typeof value !== 'number') throw new Error(`GradScaler state dict: '${key}' is missing or not a number`);
      return value;
    };
    this.#initScale = need('scale');
    this.#growthFactor = need('growth_factor');
    this.#backoffFactor = need('backoff_factor');
    this.#growthInterval = need('growth_interval');
    this.#initGrowthTracker = need('_growth_tracker');
    this.#scale?.fill_(this.#initScale);
    this.#growthTracker?.fill_(this.#initGrowthTracker);
  }

  /** Frees the scale, the growth tracker and any pending inf flags. */
  dispose(): void {
    this.#scale?.dispose();
    this.#growthTracker?.dispose();
    this.#scale = null;
    this.#growthTracker = null;
    for (const state of this.#perOptimizer.values()) state.foundInf?.dispose();
    this.#perOptimizer.clear();
  }
}
