// A restricted pickle virtual machine (protocols 0 to 5, without out-of-band buffers).
// Safety is by construction: there is no way to name a Python callable except through the
// `globals` table the caller passes, so a pickle asking for os.system, builtins.eval or any
// __reduce__ gadget stops at its GLOBAL opcode with an error naming it; nothing is ever called.
//
// Python values become plain JS values:
//   None -> null, bool -> boolean, int -> number (bigint beyond 2^53), float -> number,
//   str -> string, bytes/bytearray -> Uint8Array, list -> array, tuple -> frozen array,
//   dict and OrderedDict -> Map (insertion order kept, keys of any type), set/frozenset -> Set.

/** A Python callable the unpickler may use: a constructor or rebuild function on the allow list. */
export interface PickleCallable {
  readonly qualifiedName: string;
  call(args: readonly unknown[]): unknown;
  /** Applies a BUILD opcode's state to an object this callable produced; absent: BUILD is refused. */
  build?(instance: unknown, state: unknown): void;
}

export interface UnpickleOptions {
  /** Allowed globals by 'module.name': callables, or plain values (storage types, dtypes). */
  globals: ReadonlyMap<string, unknown>;
  /** Resolves a persistent id (PyTorch's storage references). */
  persistentLoad?: (pid: unknown) => unknown;
  /** Names the source in error messages. */
  source: string;
  /**
   * How Python 2 str (STRING, BINSTRING, SHORT_BINSTRING) decode, as pickle.load's `encoding`:
   * 'utf8' (default) as torch.load reads them, 'latin1' where they hold raw bytes (NumPy arrays
   * pickled by Python 2), as torchvision reads its CIFAR files.
   */
  encoding?: 'utf8' | 'latin1';
  /** What the file may hold, for the error that refuses a global (default: tensors and plain data). */
  expected?: string;
}

/** Thrown when the bytes end inside a pickle: a caller streaming a file can read more and retry. */
export class PickleTruncatedError extends Error {}

export class RefusedGlobalError extends Error {}

/** A Python tuple: a frozen array, so writers can tell it from a list. */
export function tuple(items: unknown[]): readonly unknown[] {
  return Object.freeze(items);
}

/** A Python int as JS: a number when exact, a bigint beyond 2^53. */
function pyInt(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/**
 * Little-endian two's complement, as LONG1/LONG4 store ints. Parsed from one hex string, which
 * takes linear time; shifting byte by byte would copy the growing bigint each time (quadratic:
 * a 200 KB LONG4 took most of a minute).
 */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  const bigEndian = Buffer.from(bytes).reverse();
  let value = BigInt(`0x${bigEndian.toString('hex')}`);
  if (bigEndian[0]! & 0x80) value -= 1n << BigInt(8 * bytes.length);
  return pyInt(value);
}

function makeCallable(
  qualifiedName: string,
  call: (args: readonly unknown[]) => unknown,
  build?: PickleCallable['build'],
) {
  return { qualifiedName, call, build } satisfies PickleCallable;
}

/** The optional list argument of a constructor: an error naming it when a pickle gives anything else. */
function listArgument(args: readonly unknown[], name: string): unknown[] {
  const value = args[0] ?? [];
  if (!Array.isArray(value)) throw new Error(`${name} takes a list, got ${typeof value}`);
  return value;
}

/** Globals every pickle of plain data may use; protocol 2 spells them with Python 2 module names. */
export const STANDARD_GLOBALS: ReadonlyMap<string, PickleCallable> = new Map(
  [
    // OrderedDict(); items arrive through SETITEMS. Its BUILD state (PyTorch's `_metadata` of
    // state dicts) describes module versions only and is dropped.
    makeCallable(
      'collections.OrderedDict',
      (args) =>
        new Map(
          listArgument(args, 'OrderedDict(items)').map((item) => {
            if (!Array.isArray(item) || item.length !== 2)
              throw new Error('OrderedDict(items) takes (key, value) pairs');
            return item as [unknown, unknown];
          }),
        ),
      () => {},
    ),
    makeCallable('builtins.set', (args) => new Set(listArgument(args, 'set(items)'))),
    makeCallable('builtins.frozenset', (args) => new Set(listArgument(args, 'frozenset(items)'))),
    makeCallable(
      'builtins.bytearray',
      (args) => new Uint8Array(Buffer.from(typeof args[0] === 'string' ? args[0] : '', 'latin1')),
    ),
    // Protocol 2 pickles bytes as _codecs.encode(<latin-1 str>, 'latin1').
    makeCallable('_codecs.encode', (args) => {
      if (typeof args[0] !== 'string' || args[1] !== 'latin1')
        throw new Error('_codecs.encode is only accepted for latin1 bytes');
      return new Uint8Array(Buffer.from(args[0], 'latin1'));
    }),
  ].map((c) => [c.qualifiedName, c]),
);

/** Python's default sys.int_max_str_digits. */
const MAX_DECIMAL_DIGITS = 4300;

const PYTHON2_MODULES: Record<string, string> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

/** Python's str repr unescaping for protocol-0 STRING/UNICODE lines (escapes only, no exotic forms). */
function unescapePython(text: string): string {
  return text.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[\\'"nrt])/g, (_, e: string) => {
    if (e.length > 1) return String.fromCodePoint(parseInt(e.slice(1), 16));
    return ({ n: '\n', r: '\r', t: '\t' } as Record<string, string>)[e] ?? e;
  });
}

/** Reads one pickle from `bytes` starting at `start`; returns the value and where the pickle ended. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions, start = 0): { value: unknown; end: number } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = start;
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const producedBy = new WeakMap<object, PickleCallable>();
  const encoding = options.encoding ?? 'utf8';
  const expected =
    options.expected ??
    'only tensors, storages, dicts, lists, tuples, sets and primitive values can be loaded (the file may be malicious, or holds objects other than tensors)';
  const fail = (message: string): never => {
    throw new Error(`${options.source}: ${message} (pickle byte ${pos})`);
  };

  const need = (n: number) => {
    if (pos + n > buffer.length)
      throw new PickleTruncatedError(`${options.source}: the pickle is truncated at byte ${buffer.length}`);
  };
  const take = (n: number): Buffer => {
    need(n);
    pos += n;
    return buffer.subarray(pos - n, pos);
  };
  const u8 = () => take(1)[0]!;
  const u16 = () => take(2).readUInt16LE(0);
  const u32 = () => take(4).readUInt32LE(0);
  const u64 = () => {
    const n = take(8).readBigUInt64LE(0);
    if (n > BigInt(buffer.length)) fail(`length ${n} exceeds the data`);
    return Number(n);
  };
  const line = (): string => {
    const end = buffer.indexOf(0x0a, pos);
    if (end < 0) throw new PickleTruncatedError(`${options.source}: the pickle is truncated at byte ${buffer.length}`);
    const text = buffer.toString('latin1', pos, end);
    pos = end + 1;
    return text;
  };
  // Decimal text parses in quadratic time; Python caps it at the same number of digits
  // (sys.int_max_str_digits) for the same reason.
  const decimalInt = (text: string): number | bigint => {
    if (text.length > MAX_DECIMAL_DIGITS)
      fail(`an integer of ${text.length} decimal digits exceeds the limit of ${MAX_DECIMAL_DIGITS}`);
    if (!/^\s*[-+]?\d+\s*$/.test(text)) fail(`'${text.slice(0, 40)}' is not an integer`);
    return pyInt(BigInt(text.trim()));
  };
  const pop = (): unknown => {
    if (stack.length === 0 || stack.length === marks[marks.length - 1]) fail('stack underflow (corrupt pickle)');
    return stack.pop();
  };
  const top = (): unknown => (stack.length === 0 ? fail('stack underflow (corrupt pickle)') : stack[stack.length - 1]);
  const popMark = (): unknown[] => {
    const mark = marks.pop();
    if (mark === undefined) fail('MARK expected (corrupt pickle)');
    return stack.splice(mark!);
  };
  const findGlobal = (module: string, name: string): unknown => {
    const qualifiedName = `${PYTHON2_MODULES[module] ?? module}.${name}`;
    if (!options.globals.has(qualifiedName)) {
      throw new RefusedGlobalError(`${options.source}: refusing to load global ${qualifiedName}: ${expected}`);
    }
    return options.globals.get(qualifiedName);
  };
  const callGlobal = (callable: unknown, args: unknown): unknown => {
    if (typeof callable !== 'object' || callable === null || !('call' in callable) || !Array.isArray(args)) {
      return fail('REDUCE of something that is not an allowed callable');
    }
    const c = callable as PickleCallable;
    let result: unknown;
    try {
      result = c.call(args);
    } catch (error) {
      return fail((error as Error).message);
    }
    if (typeof result === 'object' && result !== null) producedBy.set(result, c);
    return result;
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof Map)) fail('SETITEM on something that is not a dict');
    for (let i = 0; i + 1 < items.length; i += 2) (target as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const appendItems = (target: unknown, items: unknown[]) => {
    // One push per item: spreading millions of items as arguments overflows the call stack.
    if (Array.isArray(target) && !Object.isFrozen(target)) for (const item of items) (target as unknown[]).push(item);
    else if (target instanceof Set) for (const item of items) target.add(item);
    else fail('APPEND on something that is not a list');
  };
  const persistent = (pid: unknown) =>
    options.persistentLoad ? options.persistentLoad(pid) : fail('persistent id found but no persistent loader given');

  for (;;) {
    const opcode = u8();
    switch (opcode) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME: framing is a buffering hint only
        take(8);
        break;
      case 0x2e: // STOP
        return { value: pop(), end: pos };
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;

      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x49: {
        // INT (protocol 0): "01"/"00" are True/False
        const text = line();
        stack.push(text === '01' ? true : text === '00' ? false : decimalInt(text));
        break;
      }
      case 0x4a: // BININT
        stack.push(take(4).readInt32LE(0));
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4c: // LONG (protocol 0)
        stack.push(decimalInt(line().replace(/L$/, '')));
        break;
      case 0x8a: // LONG1
        stack.push(decodeLong(take(u8())));
        break;
      case 0x8b: // LONG4
        stack.push(decodeLong(take(u32())));
        break;
      case 0x46: // FLOAT (protocol 0)
        stack.push(parseFloat(line()));
        break;
      case 0x47: // BINFLOAT (big-endian)
        stack.push(take(8).readDoubleBE(0));
        break;

      case 0x53: // STRING (protocol 0, a quoted repr)
        stack.push(unescapePython(line().slice(1, -1)));
        break;
      case 0x54: // BINSTRING: Python 2 str, decoded as `encoding` says
        stack.push(take(u32()).toString(encoding));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(take(u8()).toString(encoding));
        break;
      case 0x56: // UNICODE (raw-unicode-escape)
        stack.push(unescapePython(line()));
        break;
      case 0x58: // BINUNICODE
        stack.push(take(u32()).toString('utf8'));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(take(u8()).toString('utf8'));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(take(u64()).toString('utf8'));
        break;
      case 0x42: // BINBYTES
        stack.push(new Uint8Array(take(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(new Uint8Array(take(u8())));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(new Uint8Array(take(u64())));
        break;

      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(tuple(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push(tuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push(tuple([pop(), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push(tuple([pop(), b, c]));
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: {
        // APPEND
        const item = pop();
        appendItems(top(), [item]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        const dict = new Map();
        setItems(dict, popMark());
        stack.push(dict);
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const set = top();
        if (!(set instanceof Set)) fail('ADDITEMS on something that is not a set');
        for (const item of items) (set as Set<unknown>).add(item);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(new Set(popMark()));
        break;

      case 0x70: // PUT
        memo.set(Number(line()), top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const index = opcode === 0x67 ? Number(line()) : opcode === 0x68 ? u8() : u32();
        if (!memo.has(index)) fail(`memo entry ${index} is missing (corrupt pickle)`);
        stack.push(memo.get(index));
        break;
      }

      case 0x63: {
        // GLOBAL
        const module = line();
        stack.push(findGlobal(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(findGlobal(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        stack.push(callGlobal(pop(), args));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args), only for allowed callables
        const args = pop();
        stack.push(callGlobal(pop(), args));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const instance = top();
        const producer = typeof instance === 'object' && instance !== null ? producedBy.get(instance) : undefined;
        if (!producer?.build) fail(`BUILD (setting object state) is only allowed for OrderedDict, not here`);
        try {
          producer!.build!(instance, state);
        } catch (error) {
          fail((error as Error).message);
        }
        break;
      }
      case 0x50: // PERSID
        stack.push(persistent(line()));
        break;
      case 0x51: // BINPERSID
        stack.push(persistent(pop()));
        break;

      default:
        // INST, OBJ, NEWOBJ_EX, EXT1/2/4 and out-of-band buffers build arbitrary objects or call
        // things by registry: never accepted.
        fail(
          `unsupported or unsafe pickle opcode 0x${opcode.toString(16).padStart(2, '0')} ('${String.fromCharCode(opcode)}')`,
        );
    }
  }
}
