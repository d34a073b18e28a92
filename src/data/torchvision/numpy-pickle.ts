// NumPy arrays inside pickles (torchvision's CIFAR batches), rebuilt as data. A pickled ndarray is
// numpy.core.multiarray._reconstruct(ndarray, (0,), 'b') followed by BUILD with (version, shape,
// dtype, is_fortran, raw bytes), its dtype numpy.dtype('u1', False, True) followed by BUILD with
// (version, byte order, ...). These three names are the only globals allowed beside plain data:
// nothing is ever called, an array only takes the shape, type and bytes its state declares, and
// object arrays (whose items are pickles of anything) are refused.
import { STANDARD_GLOBALS, type PickleCallable } from '../../torch/io/pickle.js';

/** A dtype of plain numbers: its kind ('b' bool, 'i' int, 'u' unsigned, 'f' float) and item size. */
export class NumpyDtype {
  /** '<' little-endian, '>' big-endian, '|' not applicable (one byte), '=' native. */
  byteOrder = '|';
  constructor(
    readonly kind: 'b' | 'i' | 'u' | 'f',
    readonly itemSize: number,
  ) {}

  /** numpy's short name, e.g. 'u1', 'f8'. */
  get name(): string {
    return `${this.kind}${this.itemSize}`;
  }
}

/** An ndarray: its shape, dtype and raw bytes in C (row-major) or Fortran (column-major) order. */
export class NdArray {
  shape: number[] = [];
  dtype: NumpyDtype | null = null;
  fortranOrder = false;
  bytes: Uint8Array = new Uint8Array(0);
}

/** The value `numpy.ndarray` unpickles to: only ever an argument of _reconstruct. */
const NDARRAY_TYPE = Object.freeze({ numpy: 'ndarray' });

function dtypeOf(args: readonly unknown[]): NumpyDtype {
  const descr = args[0];
  const match = typeof descr === 'string' ? /^([biuf])(\d{1,2})$/.exec(descr) : null;
  if (match === null) {
    throw new Error(
      `numpy dtype ${JSON.stringify(descr)} is not a plain number type (object and structured arrays are refused)`,
    );
  }
  return new NumpyDtype(match[1] as NumpyDtype['kind'], Number(match[2]));
}

/** dtype.__setstate__: (version, byte order, subarray, names, fields, elsize, alignment, flags). */
function buildDtype(instance: unknown, state: unknown): void {
  if (!(instance instanceof NumpyDtype) || !Array.isArray(state)) throw new Error('numpy dtype: unexpected state');
  const [, byteOrder, subarray, names] = state as unknown[];
  if (subarray !== null || (names !== null && names !== undefined))
    throw new Error('numpy dtype: sub-array and structured dtypes are refused');
  if (typeof byteOrder !== 'string' || !['<', '>', '|', '='].includes(byteOrder))
    throw new Error(`numpy dtype: unknown byte order ${JSON.stringify(byteOrder)}`);
  instance.byteOrder = byteOrder;
}

/** ndarray.__setstate__: (version, shape, dtype, is_fortran, raw data); version 0 files omit the first. */
function buildArray(instance: unknown, state: unknown): void {
  if (!(instance instanceof NdArray) || !Array.isArray(state)) throw new Error('numpy array: unexpected state');
  const items = state.length === 5 ? (state as unknown[]).slice(1) : (state as unknown[]);
  const [shape, dtype, fortran, raw] = items;
  if (!Array.isArray(shape) || !shape.every((n) => Number.isInteger(n) && (n as number) >= 0))
    throw new Error('numpy array: the shape is not a tuple of sizes');
  if (!(dtype instanceof NumpyDtype)) throw new Error('numpy array: the dtype is not a plain number type');
  // Python 2 pickles hold the bytes as a str (read as latin-1), Python 3 ones as bytes.
  const bytes = typeof raw === 'string' ? new Uint8Array(Buffer.from(raw, 'latin1')) : raw;
  if (!(bytes instanceof Uint8Array)) throw new Error('numpy array: the data is not raw bytes (an object array?)');
  const expected = (shape as number[]).reduce((a, b) => a * b, dtype.itemSize);
  if (bytes.length !== expected) {
    throw new Error(
      `numpy array: ${bytes.length} bytes of data for shape (${shape.join(', ')}) of ${dtype.name}, which needs ${expected}`,
    );
  }
  Object.assign(instance, { shape: [...(shape as number[])], dtype, fortranOrder: fortran === true, bytes });
}

function callable(
  qualifiedName: string,
  call: PickleCallable['call'],
  build: PickleCallable['build'],
): [string, PickleCallable] {
  return [qualifiedName, { qualifiedName, call, build }];
}

function reconstruct(args: readonly unknown[]): NdArray {
  if (args[0] !== NDARRAY_TYPE) throw new Error('numpy _reconstruct is only accepted for numpy.ndarray');
  return new NdArray();
}

/** The globals a pickle of plain data and NumPy arrays may name; everything else is refused. */
export const NUMPY_GLOBALS: ReadonlyMap<string, unknown> = new Map<string, unknown>([
  ...STANDARD_GLOBALS,
  ['numpy.ndarray', NDARRAY_TYPE],
  // numpy 2 moved numpy.core to numpy._core; pickles name whichever wrote them.
  callable('numpy.core.multiarray._reconstruct', reconstruct, buildArray),
  callable('numpy._core.multiarray._reconstruct', reconstruct, buildArray),
  callable('numpy.dtype', dtypeOf, buildDtype),
]);
