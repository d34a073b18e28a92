// Typed access to ATen operators through the addon's generic dispatcher. Each curated op declares
// the schema argument names it passes positionally; a test checks them against the loaded
// libtorch, so a renamed or reordered argument fails loudly instead of silently misbinding.
import { native, type Handle } from './native.js';

const declared: Op[] = [];
const MAX_ARGS = 9;

export class Op {
  private id = -1;

  constructor(
    /** Qualified name, e.g. 'aten::add'. */
    readonly name: string,
    /** Overload name, e.g. 'Tensor' ('' for the default overload). */
    readonly overload: string,
    /** Schema argument names, in the order the TS layer passes them. */
    readonly argNames: readonly string[],
  ) {
    if (argNames.length > MAX_ARGS) throw new Error(`${name}: the call methods pass at most ${MAX_ARGS} arguments`);
    declared.push(this);
  }

  get qualifiedName(): string {
    return this.overload ? `${this.name}.${this.overload}` : this.name;
  }

  private resolve(): number {
    this.id = native.resolveOp(this.name, this.overload);
    return this.id;
  }

  // The call methods take a fixed number of parameters rather than `...args`: a rest parameter
  // and a spread would allocate arrays on every call, which costs as much as a tiny op's kernel.
  // They pass on exactly as many values as they were given (`arguments.length`, which V8 reads
  // without creating an arguments object), so the addon never inspects unused trailing slots.
  // An undefined argument means "the schema default".

  /** Calls the operator; tensors are passed as handles, `undefined` means the schema default. */
  call(
    a?: unknown,
    b?: unknown,
    c?: unknown,
    d?: unknown,
    e?: unknown,
    f?: unknown,
    g?: unknown,
    h?: unknown,
    i?: unknown,
  ): unknown {
    const id = this.id >= 0 ? this.id : this.resolve();
    return forward(native.call, id, arguments.length, a, b, c, d, e, f, g, h, i);
  }

  /** Calls the operator for its side effect (in-place ops), creating no handle for the result. */
  callDiscard(
    a?: unknown,
    b?: unknown,
    c?: unknown,
    d?: unknown,
    e?: unknown,
    f?: unknown,
    g?: unknown,
    h?: unknown,
    i?: unknown,
  ): void {
    const id = this.id >= 0 ? this.id : this.resolve();
    forward(native.callDiscard, id, arguments.length, a, b, c, d, e, f, g, h, i);
  }

  /** Calls an operator that returns one tensor, and returns its handle. */
  callHandle(
    a?: unknown,
    b?: unknown,
    c?: unknown,
    d?: unknown,
    e?: unknown,
    f?: unknown,
    g?: unknown,
    h?: unknown,
    i?: unknown,
  ): Handle {
    const id = this.id >= 0 ? this.id : this.resolve();
    return forward(native.call, id, arguments.length, a, b, c, d, e, f, g, h, i) as Handle;
  }
}

type NativeCall = (id: number, ...args: unknown[]) => unknown;

/** Calls `fn(id, a, ...)` with the first `count` of the arguments. */
function forward(
  fn: NativeCall,
  id: number,
  count: number,
  a: unknown,
  b: unknown,
  c: unknown,
  d: unknown,
  e: unknown,
  f: unknown,
  g: unknown,
  h: unknown,
  i: unknown,
): unknown {
  switch (count) {
    case 0:
      return fn(id);
    case 1:
      return fn(id, a);
    case 2:
      return fn(id, a, b);
    case 3:
      return fn(id, a, b, c);
    case 4:
      return fn(id, a, b, c, d);
    case 5:
      return fn(id, a, b, c, d, e);
    case 6:
      return fn(id, a, b, c, d, e, f);
    case 7:
      return fn(id, a, b, c, d, e, f, g);
    case 8:
      return fn(id, a, b, c, d, e, f, g, h);
    default:
      return fn(id, a, b, c, d, e, f, g, h, i);
  }
}

/** Declares an operator by its qualified name with overload ('aten::add.Tensor') and argument names. */
export function op(qualifiedName: string, argNames: readonly string[]): Op {
  const match = /^([a-z_0-9]+::[A-Za-z_0-9]+)(?:\.([A-Za-z_0-9]+))?$/.exec(qualifiedName);
  if (!match) throw new Error(`malformed operator name '${qualifiedName}'`);
  return new Op(match[1]!, match[2] ?? '', argNames);
}

/** Every operator the TS layer declares (for the schema compatibility test). */
export function declaredOps(): readonly Op[] {
  return declared;
}
