// SGD exactly as torch.optim.SGD: per parameter, d = grad (+ weight_decay * p); with momentum the
// buffer starts as a copy of d and then becomes momentum * buf + (1 - dampening) * d; nesterov
// steps along d + momentum * buf, plain momentum along buf; finally p -= lr * step.
//
// The optimizer holds the parameter tensors themselves, so build it after the model has been moved
// or converted (nn.Module.to replaces its tensors); a stale optimizer fails on its first step.
import { noGrad } from '../autograd.js';
import { keep, tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { clearGrad } from '../nn/module.js';

export interface SGDOptions {
  lr?: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** A parameter group as given to the constructor: its own options override the defaults. */
export interface ParamGroupSpec extends SGDOptions {
  params: Tensor[];
}

/** A parameter group's live settings; the LR schedule sets `lr` before each step or epoch. */
export interface ParamGroup extends Required<SGDOptions> {
  readonly params: Tensor[];
}

/** PyTorch's optimizer.state_dict() layout, so checkpoints round-trip with torch.optim.SGD. */
export interface SGDStateDict {
  /** Keyed by the parameter's index across all groups; the buffer is null without momentum. */
  state: Record<number, { momentum_buffer: Tensor | null }>;
  param_groups: {
    lr: number;
    momentum: number;
    dampening: number;
    weight_decay: number;
    nesterov: boolean;
    maximize: boolean;
    params: number[];
  }[];
}

export class SGD {
  readonly paramGroups: ParamGroup[];
  /** Per-parameter state; a parameter has an entry once it has been stepped with a gradient. */
  readonly #momentumBuffers = new Map<Tensor, Tensor | null>();

  constructor(params: Tensor[] | ParamGroupSpec[], defaults: SGDOptions = {}) {
    const specs = isGroupList(params) ? params : [{ params }];
    if (specs.length === 0) throw new Error('SGD got an empty parameter list');
    this.paramGroups = specs.map((spec) => {
      const group = { ...DEFAULTS, ...defaults, ...spec, params: [...spec.params] };
      validate(group);
      return group;
    });
    const all = this.paramGroups.flatMap((g) => g.params);
    if (new Set(all).size !== all.length) throw new Error('some parameters appear in more than one parameter group');
  }

  /** Clears (setToNone, the PyTorch 2 default) or zeroes the gradients of every parameter. */
  zeroGrad(options: { setToNone?: boolean } = {}): void {
    for (const group of this.paramGroups) for (const p of group.params) clearGrad(p, options.setToNone ?? true);
  }

  /** One update of every parameter that has a gradient, in place and outside autograd. */
  step(): void {
    noGrad(() => {
      for (const group of this.paramGroups) {
        for (const p of group.params) {
          if (p.isDisposed) {
            throw new Error(
              'SGD.step(): a parameter was disposed or replaced (module.to / toChannelsLast); build the optimizer after moving the model',
            );
          }
          tidy(() => this.#update(p, group));
        }
      }
    });
  }

  #update(p: Tensor, group: ParamGroup): void {
    const grad = p.grad;
    if (grad === null) return;
    const { lr, momentum, dampening, weightDecay, nesterov } = group;
    let direction = weightDecay !== 0 ? grad.add(p, weightDecay) : grad;
    if (momentum !== 0) {
      let buffer = this.#momentumBuffers.get(p) ?? null;
      if (buffer === null) {
        buffer = keep(direction.clone());
        this.#momentumBuffers.set(p, buffer);
      } else {
        buffer.mul_(momentum).add_(direction, 1 - dampening);
      }
      direction = nesterov ? direction.add(buffer, momentum) : buffer;
    } else {
      this.#momentumBuffers.set(p, null);
    }
    p.add_(direction, -lr);
  }

  /** The state in PyTorch's layout; tensors are new handles the caller owns. */
  stateDict(): SGDStateDict {
    const state: SGDStateDict['state'] = {};
    const param_groups: SGDStateDict['param_groups'] = [];
    let index = 0;
    for (const group of this.paramGroups) {
      const params: number[] = [];
      for (const p of group.params) {
        if (this.#momentumBuffers.has(p))
          state[index] = { momentum_buffer: this.#momentumBuffers.get(p)?.detach() ?? null };
        params.push(index++);
      }
      const { lr, momentum, dampening, weightDecay, nesterov } = group;
      param_groups.push({ lr, momentum, dampening, weight_decay: weightDecay, nesterov, maximize: false, params });
    }
    return { state, param_groups };
  }

  /**
   * Restores group settings and momentum buffers (copied, cast to each parameter's dtype and
   * device as PyTorch does). The groups must match this optimizer's in number and sizes.
   */
  loadStateDict(dict: SGDStateDict): void {
    const groups = dict.param_groups;
    if (groups.length !== this.paramGroups.length) {
      throw new Error(
        `loaded state dict has ${groups.length} parameter groups, the optimizer has ${this.paramGroups.length}`,
      );
    }
    groups.forEach((saved, i) => {
      const size = this.paramGroups[i]!.params.length;
      if (saved.params.length !== size) {
        throw new Error(
          `loaded state dict's parameter group ${i} has ${saved.params.length} parameters, the optimizer's has ${size}`,
        );
      }
      if (saved.maximize) throw new Error('SGD with maximize=True is not supported');
    });
    const loaded = new Map<Tensor, Tensor | null>();
    groups.forEach((saved, i) => {
      const group = this.paramGroups[i]!;
      saved.params.forEach((index, j) => {
        const p = group.params[j]!;
        const entry = dict.state[index];
        if (entry === undefined) return;
        const buffer = entry.momentum_buffer;
        loaded.set(p, buffer === null ? null : keep(noGrad(() => buffer.to(p.device, { dtype: p.dtype, copy: true }))));
      });
      group.lr = saved.lr;
      group.momentum = saved.momentum;
      group.dampening = saved.dampening;
      group.weightDecay = saved.weight_decay;
      group.nesterov = saved.nesterov;
    });
    this.#disposeState();
    for (const [p, buffer] of loaded) this.#momentumBuffers.set(p, buffer);
  }

  /** Frees the momentum buffers (the parameters belong to the model). */
  dispose(): void {
    this.#disposeState();
  }

  #disposeState(): void {
    for (const buffer of this.#momentumBuffers.values()) buffer?.dispose();
    this.#momentumBuffers.clear();
  }
}

// torch.optim.SGD's defaults. PyTorch has no default lr (it is `required`): NaN fails validate()
// unless the defaults or the group give one.
const DEFAULTS = { lr: Number.NaN, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false };

function isGroupList(params: Tensor[] | ParamGroupSpec[]): params is ParamGroupSpec[] {
  return params.length > 0 && 'params' in params[0]!;
}

function validate(group: ParamGroup): void {
  if (!(group.lr >= 0)) throw new Error(`SGD needs a learning rate >= 0 (got ${group.lr})`);
  if (group.momentum < 0) throw new Error(`invalid momentum value: ${group.momentum}`);
  if (group.weightDecay < 0) throw new Error(`invalid weight_decay value: ${group.weightDecay}`);
  if (group.nesterov && (group.momentum <= 0 || group.dampening !== 0)) {
    throw new Error('Nesterov momentum requires a momentum and zero dampening');
  }
}
