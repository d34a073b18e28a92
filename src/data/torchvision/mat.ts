// Numeric arrays from MATLAB's level 5 MAT-files (the format of MATLAB 5 to 7, and of
// scipy.io.savemat): a 128-byte header, then one data element per variable, each an miMATRIX
// (array flags, dimensions, name, real part) or an miCOMPRESSED zlib stream holding one. MATLAB
// 7.3 files are HDF5 and are refused. Arrays are column-major; the caller reads them as such.
// Compressed variables are inflated only when asked for, and only as far as their tags say.
import { inflateBounded, inflateHead } from './inflate.js';

const MI_INT8 = 1;
const MI_UINT8 = 2;
const MI_INT32 = 5;
const MI_UINT32 = 6;
const MI_MATRIX = 14;
const MI_COMPRESSED = 15;

/** Bytes per value of the numeric data types (miINT8 ... miUINT64). */
const TYPE_SIZES: Readonly<Record<number, number>> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8 };

/** The numeric array classes (mxDOUBLE_CLASS ... mxUINT64_CLASS) by number. */
const NUMERIC_CLASSES: Readonly<Record<number, string>> = {
  6: 'double',
  7: 'single',
  8: 'int8',
  9: 'uint8',
  10: 'int16',
  11: 'uint16',
  12: 'int32',
  13: 'uint32',
  14: 'int64',
  15: 'uint64',
};

export interface MatArray {
  /** MATLAB's class: 'double', 'uint8', ... */
  className: string;
  dims: number[];
  /** The real part as stored: miUINT8 data is the bytes themselves. */
  type: number;
  data: Uint8Array;
  littleEndian: boolean;
}

/** The values of a numeric array as numbers (64-bit integers beyond 2^53 lose precision). */
export function matValues(array: MatArray): Float64Array {
  const size = TYPE_SIZES[array.type]!;
  const view = new DataView(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  const le = array.littleEndian;
  const read: (offset: number) => number = {
    1: (o: number) => view.getInt8(o),
    2: (o: number) => view.getUint8(o),
    3: (o: number) => view.getInt16(o, le),
    4: (o: number) => view.getUint16(o, le),
    5: (o: number) => view.getInt32(o, le),
    6: (o: number) => view.getUint32(o, le),
    7: (o: number) => view.getFloat32(o, le),
    9: (o: number) => view.getFloat64(o, le),
    12: (o: number) => Number(view.getBigInt64(o, le)),
    13: (o: number) => Number(view.getBigUint64(o, le)),
  }[array.type]!;
  return Float64Array.from({ length: array.data.length / size }, (_, i) => read(i * size));
}

class Reader {
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly source: string,
    readonly littleEndian: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  u32(at: number): number {
    if (at + 4 > this.bytes.length) this.truncated();
    return this.view.getUint32(at, this.littleEndian);
  }

  truncated(): never {
    throw new Error(`${this.source}: the MAT-file is truncated or damaged`);
  }

  /**
   * The data element at `at`: its type, data and where the next one starts (8-byte aligned inside a
   * matrix). The small element format packs up to 4 bytes of data into the tag.
   */
  element(at: number): { type: number; data: Uint8Array; next: number } {
    const first = this.u32(at);
    if (first >>> 16 !== 0) {
      const size = first >>> 16;
      if (size > 4) this.truncated();
      return { type: first & 0xffff, data: this.bytes.subarray(at + 4, at + 4 + size), next: at + 8 };
    }
    const size = this.u32(at + 4);
    const end = at + 8 + size;
    if (end > this.bytes.length) this.truncated();
    return { type: first, data: this.bytes.subarray(at + 8, end), next: at + 8 + Math.ceil(size / 8) * 8 };
  }
}

/** The array flags, dimensions and name at the start of an miMATRIX's data, and where its real part starts. */
function matrixHeader(
  reader: Reader,
  data: Uint8Array,
): { name: string; className: string | undefined; complex: boolean; shape: number[]; next: number; inner: Reader } {
  const inner = new Reader(data, reader.source, reader.littleEndian);
  const flags = inner.element(0);
  const dims = inner.element(flags.next);
  const name = inner.element(dims.next);
  if (flags.type !== MI_UINT32 || dims.type !== MI_INT32 || (name.type !== MI_INT8 && name.type !== MI_UINT8))
    inner.truncated();
  const flagWord = new Reader(flags.data, reader.source, reader.littleEndian).u32(0);
  const dimReader = new Reader(dims.data, reader.source, reader.littleEndian);
  return {
    name: Buffer.from(name.data).toString('latin1'),
    className: NUMERIC_CLASSES[flagWord & 0xff],
    complex: (flagWord & 0x800) !== 0,
    shape: Array.from({ length: Math.floor(dims.data.length / 4) }, (_, i) => dimReader.u32(i * 4)),
    next: name.next,
    inner,
  };
}

/** A variable's name and, when it is a real numeric array, the array. */
function readMatrix(reader: Reader, data: Uint8Array): { name: string; array: MatArray | null } {
  const { name: variable, className, complex, shape, next, inner } = matrixHeader(reader, data);
  if (className === undefined || complex) return { name: variable, array: null };
  const real = inner.element(next);
  const size = TYPE_SIZES[real.type];
  if (size === undefined || real.data.length !== shape.reduce((a, b) => a * b, size))
    throw new Error(
      `${reader.source}: variable '${variable}' does not hold ${shape.join('x')} numbers; the file is damaged`,
    );
  return {
    name: variable,
    array: { className, dims: shape, type: real.type, data: real.data, littleEndian: reader.littleEndian },
  };
}

/**
 * The miMATRIX inside a compressed element, or null when it is another element or a variable not
 * in `names`. Its header comes from the first inflated bytes, so a variable that is not needed is
 * never inflated, and one that is inflates no further than its own tag's size.
 */
function inflateMatrix(reader: Reader, data: Uint8Array, names: readonly string[]): Uint8Array | null {
  // The tag, the array flags, up to 100 dimensions and a name of up to 63 characters.
  const head = inflateHead(data, 'zlib', 8 + 16 + 8 + 400 + 8 + 64, reader.source);
  const tag = new Reader(head, reader.source, reader.littleEndian);
  if (tag.u32(0) !== MI_MATRIX) return null;
  const size = tag.u32(4);
  const { name } = matrixHeader(reader, head.subarray(8, Math.min(head.length, 8 + size)));
  if (!names.includes(name)) return null;
  const inflated = inflateBounded(data, 'zlib', 8 + size, reader.source);
  return new Reader(inflated, reader.source, reader.littleEndian).element(0).data;
}

/**
 * The named variables of a level 5 MAT-file that are real numeric arrays; other variables are
 * skipped. `bytes` is the whole file.
 */
export function readMatFile(bytes: Uint8Array, source: string, names: readonly string[]): Map<string, MatArray> {
  const header = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 128)).toString('latin1');
  if (header.startsWith('MATLAB 7.3'))
    throw new Error(
      `${source}: a MATLAB 7.3 (HDF5) MAT-file, which is not read here; save it as a level 5 file (MATLAB: save -v7)`,
    );
  const endian = header.slice(126, 128);
  if (bytes.length < 128 || !header.startsWith('MATLAB') || (endian !== 'IM' && endian !== 'MI'))
    throw new Error(`${source}: not a level 5 MAT-file (no 'MATLAB 5.0 MAT-file' header)`);
  const reader = new Reader(bytes, source, endian === 'IM');
  const found = new Map<string, MatArray>();
  let at = 128;
  while (at + 8 <= bytes.length && found.size < names.length) {
    const element = reader.element(at);
    // Top-level elements follow each other without padding (compressed ones are not 8-byte sized).
    at += 8 + element.data.length;
    let matrix: Uint8Array | null = element.type === MI_MATRIX ? element.data : null;
    if (element.type === MI_COMPRESSED) matrix = inflateMatrix(reader, element.data, names);
    if (matrix === null) continue;
    const { name, array } = readMatrix(reader, matrix);
    if (array !== null && names.includes(name)) found.set(name, array);
  }
  return found;
}
