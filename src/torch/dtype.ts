// Element types, named as PyTorch names them (torch.float32 -> 'float32').
import { native } from './native.js';

export type DType =
  'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export type TypedArray =
  Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array;

// The c10::ScalarType enum names behind each dtype; the codes come from the addon itself.
const C10_NAMES: Record<DType, string> = {
  float32: 'Float',
  float64: 'Double',
  float16: 'Half',
  bfloat16: 'BFloat16',
  int64: 'Long',
  int32: 'Int',
  int16: 'Short',
  int8: 'Char',
  uint8: 'Byte',
  bool: 'Bool',
};

const codes = native.scalarTypes();
const CODE_OF = new Map<DType, number>();
const DTYPE_OF = new Map<number, DType>();
for (const [dtype, c10Name] of Object.entries(C10_NAMES) as [DType, string][]) {
  const code = codes[c10Name];
  if (code === undefined) throw new Error(`libtorch has no ScalarType ${c10Name}`);
  CODE_OF.set(dtype, code);
  DTYPE_OF.set(code, dtype);
}

/** True when `value` names a dtype ('float32', ...) rather than, say, a device. */
export function isDType(value: string): value is DType {
  return CODE_OF.has(value as DType);
}

export function dtypeCode(dtype: DType): number {
  const code = CODE_OF.get(dtype);
  if (code === undefined) {
    throw new TypeError(`unknown dtype '${String(dtype)}'; expected one of ${[...CODE_OF.keys()].join(', ')}`);
  }
  return code;
}

export function dtypeFromCode(code: number): DType {
  const dtype = DTYPE_OF.get(code);
  if (dtype === undefined) throw new TypeError(`tensor has a ScalarType (code ${code}) this library does not support`);
  return dtype;
}

/** The typed array that holds a dtype's elements; float16 and bfloat16 travel as raw 16-bit words. */
export function typedArrayFor(dtype: DType, buffer: ArrayBuffer): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer);
    case 'float64':
      return new Float64Array(buffer);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buffer);
    case 'int64':
      return new BigInt64Array(buffer);
    case 'int32':
      return new Int32Array(buffer);
    case 'int16':
      return new Int16Array(buffer);
    case 'int8':
      return new Int8Array(buffer);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buffer);
  }
}

/** The dtype a typed array's elements have (raw 16-bit words are read as float16 unless told otherwise). */
export function dtypeOfTypedArray(data: TypedArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint16Array) return 'float16';
  return 'uint8';
}

export function isFloatingPoint(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16';
}

export function itemSize(dtype: DType): number {
  switch (dtype) {
    case 'float64':
    case 'int64':
      return 8;
    case 'float32':
    case 'int32':
      return 4;
    case 'float16':
    case 'bfloat16':
    case 'int16':
      return 2;
    default:
      return 1;
  }
}

/** memory_format codes of c10::MemoryFormat. */
export const MEMORY_FORMAT = { contiguous: 0, preserve: 1, channelsLast: 2 } as const;
export type MemoryFormat = keyof typeof MEMORY_FORMAT;
