// Containers: Sequential (a chain, children named '0', '1', ...), ModuleList (indexed) and
// ModuleDict (named, in insertion order), as in torch.nn. Their children's parameters appear in
// state dicts under the index or key, e.g. '0.weight' or 'conv1.weight'.
import type { Tensor } from '../tensor.js';
import { Module, type AnyModule } from './module.js';

/** Runs its children in order, each on the previous one's output. */
export class Sequential extends Module {
  readonly #layers: Module[] = [];

  constructor(...layers: Module[]) {
    super();
    for (const layer of layers) this.append(layer);
  }

  append(layer: Module): this {
    this.#layers.push(this.registerModule(String(this.#layers.length), layer));
    return this;
  }

  at(index: number): Module | undefined {
    return this.#layers.at(index);
  }

  get length(): number {
    return this.#layers.length;
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.#layers[Symbol.iterator]();
  }

  override forward(input: Tensor): Tensor {
    return this.#layers.reduce((x, layer) => layer.call(x), input);
  }
}

/** Holds modules by index; it has no forward of its own. */
export class ModuleList<M extends AnyModule = AnyModule> extends Module {
  readonly #items: M[] = [];

  constructor(modules: Iterable<M> = []) {
    super();
    for (const module of modules) this.append(module);
  }

  append(module: M): this {
    this.#items.push(this.registerModule(String(this.#items.length), module));
    return this;
  }

  at(index: number): M | undefined {
    return this.#items.at(index);
  }

  get length(): number {
    return this.#items.length;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.#items[Symbol.iterator]();
  }
}

/** Holds modules by name, in insertion order; it has no forward of its own. */
export class ModuleDict<M extends AnyModule = AnyModule> extends Module {
  readonly #items = new Map<string, M>();

  constructor(modules: Iterable<[string, M]> | Record<string, M> = []) {
    super();
    const entries = Symbol.iterator in modules ? modules : Object.entries(modules);
    for (const [name, module] of entries) this.set(name, module);
  }

  set(name: string, module: M): this {
    this.#items.set(name, this.registerModule(name, module));
    return this;
  }

  get(name: string): M | undefined {
    return this.#items.get(name);
  }

  has(name: string): boolean {
    return this.#items.has(name);
  }

  keys(): IterableIterator<string> {
    return this.#items.keys();
  }

  values(): IterableIterator<M> {
    return this.#items.values();
  }

  entries(): IterableIterator<[string, M]> {
    return this.#items.entries();
  }

  get size(): number {
    return this.#items.size;
  }
}
