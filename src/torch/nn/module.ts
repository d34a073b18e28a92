// Module: the base of every layer and model, with PyTorch's registration model. Parameters,
// buffers and children are kept in insertion order, which is the order of `parameters()` and of
// the dotted names in `stateDict()`, exactly as in torch.nn.Module.
//
// Lifetime: parameters and buffers are long-lived, so they are `keep`-ed when registered; a `tidy`
// around a training step never frees them. `dispose()` frees them all.
//
// Conversions (`to`, `toChannelsLast`): a Tensor's native handle cannot be swapped under the same
// JS object, so a conversion replaces the tensor registered in the module (and disposes the old
// one) instead of PyTorch's `param.data = ...`. Layers read their parameters through getters, so
// they always see the current tensor. The rule, as PyTorch recommends anyway: move or convert the
// model first, then build the optimizer. An optimizer built before fails loudly on its first step.
import { noGrad } from '../autograd.js';
import type { DType } from '../dtype.js';
import { isDType, isFloatingPoint } from '../dtype.js';
import { keep } from '../scope.js';
import type { Device, Tensor } from '../tensor.js';

/** Any module, whatever its forward signature. */
export type AnyModule = Module<unknown[], unknown>;

/** Flat mapping from dotted names ('layer1.0.conv1.weight') to tensors, in registration order. */
export type StateDict = Record<string, Tensor>;

/** Where and in which dtype a layer creates its parameters (PyTorch's factory_kwargs). */
export interface FactoryOptions {
  device?: Device;
  dtype?: DType;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

export class Module<In extends unknown[] = [Tensor], Out = Tensor> {
  /** True in training mode (the default), false after `eval()`. */
  training = true;
  readonly #parameters = new Map<string, Tensor | null>();
  readonly #buffers = new Map<string, Tensor | null>();
  readonly #children = new Map<string, AnyModule | null>();

  /** The computation; subclasses override it. Run a module with `call`. */
  forward(..._inputs: In): Out {
    throw new Error(`${this.constructor.name} has no forward()`);
  }

  /** Runs `forward` (as calling a torch.nn.Module does). */
  call(...inputs: In): Out {
    return this.forward(...inputs);
  }

  // ---- registration ----------------------------------------------------------------------------

  /**
   * Registers `tensor` as a trainable parameter (requires_grad is set) that survives every tidy
   * scope. `null` declares an absent optional parameter, such as a layer's disabled bias.
   */
  registerParameter(name: string, tensor: Tensor | null): void {
    this.#checkFreeName(name, this.#parameters);
    if (tensor !== null) {
      if (!tensor.requiresGrad) tensor.requiresGrad_(true);
      keep(tensor);
    }
    this.#parameters.set(name, tensor);
  }

  /** Registers a non-trainable state tensor (running statistics) that survives every tidy scope. */
  registerBuffer(name: string, tensor: Tensor | null): void {
    this.#checkFreeName(name, this.#buffers);
    if (tensor !== null) keep(tensor);
    this.#buffers.set(name, tensor);
  }

  /** Registers a child module and returns it, so a subclass can also keep a typed reference. */
  registerModule<M extends AnyModule | null>(name: string, module: M): M {
    this.#checkFreeName(name, this.#children);
    this.#children.set(name, module);
    return module;
  }

  #checkFreeName(name: string, own: Map<string, unknown>): void {
    if (name === '' || name.includes('.'))
      throw new Error(`invalid name '${name}': it must be non-empty and contain no '.'`);
    const taken = [this.#parameters, this.#buffers, this.#children].some((map) => map !== own && map.has(name));
    if (taken || own.has(name)) throw new Error(`${this.constructor.name} already has a member named '${name}'`);
  }

  /** The parameter registered under `name` (null for an absent optional one). */
  getParameter(name: string): Tensor | null {
    if (!this.#parameters.has(name)) throw new Error(`${this.constructor.name} has no parameter '${name}'`);
    return this.#parameters.get(name) ?? null;
  }

  /** The buffer registered under `name` (null for an absent optional one). */
  getBuffer(name: string): Tensor | null {
    if (!this.#buffers.has(name)) throw new Error(`${this.constructor.name} has no buffer '${name}'`);
    return this.#buffers.get(name) ?? null;
  }

  /** The child registered under `name`. */
  getModule(name: string): AnyModule | null {
    if (!this.#children.has(name)) throw new Error(`${this.constructor.name} has no submodule '${name}'`);
    return this.#children.get(name) ?? null;
  }

  // ---- traversal -------------------------------------------------------------------------------

  *namedChildren(): Generator<[string, AnyModule]> {
    for (const [name, child] of this.#children) if (child !== null) yield [name, child];
  }

  *children(): Generator<AnyModule> {
    for (const [, child] of this.namedChildren()) yield child;
  }

  /** This module and all below it, depth first, each once, with dotted names ('' for this one). */
  *namedModules(prefix = '', seen = new Set<AnyModule>()): Generator<[string, AnyModule]> {
    if (seen.has(this as AnyModule)) return;
    seen.add(this as AnyModule);
    yield [prefix, this as AnyModule];
    for (const [name, child] of this.namedChildren()) yield* child.namedModules(join(prefix, name), seen);
  }

  *modules(): Generator<AnyModule> {
    for (const [, module] of this.namedModules()) yield module;
  }

  /** Parameters with dotted names; a parameter shared by two modules is listed once. */
  *namedParameters(options: { recurse?: boolean } = {}): Generator<[string, Tensor]> {
    yield* this.#namedMembers((m) => m.#parameters, options.recurse ?? true);
  }

  parameters(options: { recurse?: boolean } = {}): Tensor[] {
    return Array.from(this.namedParameters(options), ([, p]) => p);
  }

  *namedBuffers(options: { recurse?: boolean } = {}): Generator<[string, Tensor]> {
    yield* this.#namedMembers((m) => m.#buffers, options.recurse ?? true);
  }

  buffers(options: { recurse?: boolean } = {}): Tensor[] {
    return Array.from(this.namedBuffers(options), ([, b]) => b);
  }

  *#namedMembers(members: (m: AnyModule) => Map<string, Tensor | null>, recurse: boolean): Generator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    const modules: Iterable<[string, AnyModule]> = recurse ? this.namedModules() : [['', this as AnyModule]];
    for (const [prefix, module] of modules) {
      for (const [name, tensor] of members(module)) {
        if (tensor === null || seen.has(tensor)) continue;
        seen.add(tensor);
        yield [join(prefix, name), tensor];
      }
    }
  }

  // ---- modes -----------------------------------------------------------------------------------

  /**
   * Sets training mode on this module and, through each child's own train(), every descendant, as
   * torch.nn.Module.train: a child that overrides train (a frozen trunk that stays in eval mode)
   * keeps its rule when an ancestor switches modes.
   */
  train(mode = true): this {
    this.training = mode;
    for (const child of this.children()) child.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Clears (setToNone, the PyTorch 2 default) or zeroes every parameter's gradient. */
  zeroGrad(options: { setToNone?: boolean } = {}): void {
    for (const p of this.parameters()) clearGrad(p, options.setToNone ?? true);
  }

  // ---- state dict ------------------------------------------------------------------------------

  /**
   * Every parameter and buffer under its dotted PyTorch name: this module's parameters, then its
   * buffers, then each child's, as torch.nn.Module.state_dict. The values are new detached handles
   * on the same storage: the caller owns (disposes) them; the model's tensors are unaffected.
   */
  stateDict(): StateDict {
    const out: StateDict = {};
    for (const [name, tensor] of this.#stateEntries()) out[name] = tensor.detach();
    return out;
  }

  /** The tensors behind the state dict, without new handles. */
  *#stateEntries(prefix = ''): Generator<[string, Tensor]> {
    for (const members of [this.#parameters, this.#buffers]) {
      for (const [name, tensor] of members) if (tensor !== null) yield [join(prefix, name), tensor];
    }
    for (const [name, child] of this.namedChildren()) yield* child.#stateEntries(join(prefix, name));
  }

  /**
   * Copies `state` into this module's tensors in place (their identity is kept). Shape mismatches
   * always throw; with `strict` (the default) missing and unexpected keys throw too, otherwise they
   * are returned. The caller keeps ownership of `state`.
   */
  loadStateDict(state: StateDict, options: { strict?: boolean } = {}): LoadStateDictResult {
    const strict = options.strict ?? true;
    const own = new Map(this.#stateEntries());
    const missingKeys = [...own.keys()].filter((key) => !(key in state));
    const unexpectedKeys = Object.keys(state).filter((key) => !own.has(key));
    const mismatches: string[] = [];
    for (const [key, target] of own) {
      const source = state[key];
      if (source !== undefined && !sameShape(source.shape, target.shape)) {
        mismatches.push(
          `size mismatch for ${key}: copying a param with shape [${source.shape.join(', ')}], the shape in the current model is [${target.shape.join(', ')}]`,
        );
      }
    }
    const errors = [...mismatches];
    if (strict && unexpectedKeys.length > 0)
      errors.unshift(`Unexpected key(s) in state_dict: ${unexpectedKeys.join(', ')}`);
    if (strict && missingKeys.length > 0) errors.unshift(`Missing key(s) in state_dict: ${missingKeys.join(', ')}`);
    if (errors.length > 0) {
      throw new Error(`Error(s) in loading state_dict for ${this.constructor.name}:\n  ${errors.join('\n  ')}`);
    }
    noGrad(() => {
      for (const [key, target] of own) {
        const source = state[key];
        if (source !== undefined) target.copy_(source);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  // ---- conversion and lifetime -----------------------------------------------------------------

  /**
   * Moves every parameter and buffer to a device, or casts the floating-point ones to a dtype (as
   * module.to in PyTorch: integer buffers such as num_batches_tracked keep their dtype). The
   * tensors are replaced (see the note at the top of this file): build optimizers afterwards.
   */
  to(target: Device | DType): this {
    const isDtype = isDType(target);
    return this.#apply((t) => {
      if (isDtype && !isFloatingPoint(t.dtype)) return null;
      return t.to(target);
    });
  }

  /** Lays out every 4-d parameter and buffer as NHWC (channels-last), as model.to(memory_format=...). */
  toChannelsLast(): this {
    return this.#apply((t) => (t.ndim === 4 ? t.contiguous('channelsLast') : null));
  }

  /** Replaces each parameter and buffer by `convert(tensor)`; null leaves it as it is. */
  #apply(convert: (t: Tensor) => Tensor | null): this {
    noGrad(() => {
      for (const module of this.modules()) {
        for (const members of [module.#parameters, module.#buffers]) {
          for (const [name, tensor] of members) {
            if (tensor === null) continue;
            const converted = convert(tensor);
            if (converted === null) continue;
            // Converted under noGrad, the copy is a fresh leaf: carry over whether it trains.
            if (tensor.requiresGrad) converted.requiresGrad_(true);
            members.set(name, keep(converted));
            tensor.dispose();
          }
        }
      }
    });
    return this;
  }

  /** Frees every parameter and buffer of this module and its descendants. */
  dispose(): void {
    for (const module of this.modules()) {
      for (const members of [module.#parameters, module.#buffers]) for (const t of members.values()) t?.dispose();
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Drops a tensor's gradient, or zeroes it in place. */
export function clearGrad(p: Tensor, setToNone: boolean): void {
  if (setToNone) {
    p.grad = null;
    return;
  }
  const grad = p.grad;
  if (grad === null) return;
  grad.zero_();
  grad.dispose();
}

function join(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}.${name}`;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}
