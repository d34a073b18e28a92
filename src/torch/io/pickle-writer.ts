// Writes protocol 2 pickles of plain data, the protocol torch.save uses, restricted to the
// opcodes `torch.load(weights_only=True)` accepts where the data allows it.
//
// JS values map back as the unpickler maps them forward: null, booleans, integers (numbers
// that are integers, and bigints) as int, other numbers as float, strings, Uint8Array as bytes,
// arrays as lists, frozen arrays as tuples, Maps and plain objects as dicts, Sets as sets.
// A caller's `replace` hook may first substitute any object by a description of how Python
// rebuilds it (PyCall, PyGlobal, PyPersistentId, PyOrderedDict): that is how tensors are written.

const BATCH = 1000;

/** A module-level Python name, e.g. torch.FloatStorage. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
}

/** callable(*args), as REDUCE builds it. */
export class PyCall {
  constructor(
    readonly callable: PyGlobal,
    readonly args: readonly unknown[],
  ) {}
}

/** A persistent id tuple, resolved by the loader (PyTorch's storage references). */
export class PyPersistentId {
  constructor(readonly items: readonly unknown[]) {}
}

/** A collections.OrderedDict, as torch.save writes state dicts. */
export class PyOrderedDict {
  constructor(readonly entries: Iterable<[unknown, unknown]>) {}
}

const ORDERED_DICT = new PyGlobal('collections', 'OrderedDict');

/** A protocol 2 pickle of `value`; `replace` may substitute objects (returns undefined to keep them). */
export function pickle(value: unknown, replace: (value: object) => unknown = () => undefined): Buffer {
  const writer = new PickleWriter(replace);
  writer.value(value);
  return writer.finish();
}

class PickleWriter {
  readonly #chunks: Buffer[] = [Buffer.from([0x80, 2])];

  constructor(private readonly replace: (value: object) => unknown) {}

  finish(): Buffer {
    this.#chunks.push(Buffer.from([0x2e]));
    return Buffer.concat(this.#chunks);
  }

  #op(...bytes: number[]): void {
    this.#chunks.push(Buffer.from(bytes));
  }

  #raw(bytes: Buffer): void {
    this.#chunks.push(bytes);
  }

  #global(callable: PyGlobal): void {
    this.#op(0x63);
    this.#raw(Buffer.from(`${callable.module}\n${callable.name}\n`, 'latin1'));
  }

  #call(callable: PyGlobal, args: readonly unknown[]): void {
    this.#global(callable);
    this.#tuple(args);
    this.#op(0x52);
  }

  #tuple(items: readonly unknown[]): void {
    if (items.length === 0) return this.#op(0x29);
    if (items.length <= 3) {
      for (const item of items) this.value(item);
      return this.#op([0x85, 0x86, 0x87][items.length - 1]!);
    }
    this.#op(0x28);
    for (const item of items) this.value(item);
    this.#op(0x74);
  }

  #dict(entries: Iterable<[unknown, unknown]>, ordered: boolean): void {
    if (ordered) this.#call(ORDERED_DICT, []);
    else this.#op(0x7d);
    let batch: [unknown, unknown][] = [];
    const flush = () => {
      if (batch.length === 0) return;
      this.#op(0x28);
      for (const [key, value] of batch) {
        this.value(key);
        this.value(value);
      }
      this.#op(0x75);
      batch = [];
    };
    for (const entry of entries) {
      batch.push(entry);
      if (batch.length === BATCH) flush();
    }
    flush();
  }

  value(value: unknown): void {
    if (value === null || value === undefined) return this.#op(0x4e);
    if (value === true) return this.#op(0x88);
    if (value === false) return this.#op(0x89);
    if (typeof value === 'bigint') return this.#int(value);
    if (typeof value === 'number')
      return Number.isSafeInteger(value) && !Object.is(value, -0) ? this.#int(BigInt(value)) : this.#float(value);
    if (typeof value === 'string') {
      const bytes = Buffer.from(value, 'utf8');
      const header = Buffer.alloc(5);
      header[0] = 0x58; // BINUNICODE
      header.writeUInt32LE(bytes.length, 1);
      this.#raw(header);
      return this.#raw(bytes);
    }
    if (typeof value !== 'object') throw new TypeError(`cannot pickle a value of type ${typeof value}`);
    if (value instanceof PyGlobal) return this.#global(value);
    if (value instanceof PyCall) return this.#call(value.callable, value.args);
    if (value instanceof PyOrderedDict) return this.#dict(value.entries, true);
    if (value instanceof PyPersistentId) {
      this.#tuple(value.items);
      return this.#op(0x51);
    }
    const replacement = this.replace(value);
    if (replacement !== undefined) return this.value(replacement);
    if (value instanceof Uint8Array) {
      // Protocol 2 has no bytes opcode; Python writes _codecs.encode(<latin-1 str>, 'latin1').
      return this.#call(new PyGlobal('_codecs', 'encode'), [Buffer.from(value).toString('latin1'), 'latin1']);
    }
    if (Array.isArray(value)) return Object.isFrozen(value) ? this.#tuple(value) : this.#list(value);
    if (value instanceof Map) return this.#dict(value.entries(), false);
    if (value instanceof Set) return this.#call(new PyGlobal('__builtin__', 'set'), [[...value]]);
    if (Object.getPrototypeOf(value) === Object.prototype) return this.#dict(Object.entries(value), false);
    throw new TypeError(`cannot pickle a value of type ${value.constructor?.name ?? 'unknown'}`);
  }

  #int(value: bigint): void {
    if (value >= 0n && value < 256n) return this.#op(0x4b, Number(value));
    if (value >= 0n && value < 65536n) return this.#op(0x4d, Number(value) & 0xff, Number(value) >> 8);
    if (value >= -(2n ** 31n) && value < 2n ** 31n) {
      const bytes = Buffer.alloc(5);
      bytes[0] = 0x4a;
      bytes.writeInt32LE(Number(value), 1);
      return this.#raw(bytes);
    }
    // LONG1: minimal little-endian two's complement.
    const digits: number[] = [];
    let rest = value;
    for (;;) {
      digits.push(Number(rest & 0xffn));
      rest >>= 8n;
      const signBit = (digits[digits.length - 1]! & 0x80) !== 0;
      if ((rest === 0n && !signBit) || (rest === -1n && signBit)) break;
    }
    this.#op(0x8a, digits.length, ...digits);
  }

  #float(value: number): void {
    const bytes = Buffer.alloc(9);
    bytes[0] = 0x47; // BINFLOAT
    bytes.writeDoubleBE(value, 1);
    this.#raw(bytes);
  }

  #list(items: readonly unknown[]): void {
    this.#op(0x5d);
    for (let i = 0; i < items.length; i += BATCH) {
      this.#op(0x28);
      for (const item of items.slice(i, i + BATCH)) this.value(item);
      this.#op(0x65);
    }
  }
}
