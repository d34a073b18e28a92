// NumPy .npy files (format versions 1.0, 2.0 and 3.0): numeric arrays as tensors, and 1-D
// unicode string arrays ('<U{n}', UTF-32LE, zero padded) as string arrays, e.g. image lists.
// `NpyReader` reads row ranges on demand, so feature files larger than memory can be used;
// `NpyWriter` appends row chunks and fills in the row count when it is closed.
import { closeSync, fstatSync, openSync } from 'node:fs';
import type { DType } from '../dtype.js';
import { itemSize } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { contiguous } from '../ops/convert.js';
import { permute } from '../ops/shape.js';
import { AtomicFile, writeFileAtomic } from './atomic-write.js';
import { readExactly, requireRegularFile, SequentialWriter, writeAll } from './file-bytes.js';
import { explainMalformed } from './malformed.js';
import { tensorFromFile, writeTensorBytes } from './storage.js';

const MAGIC = Buffer.from('\x93NUMPY', 'latin1');
/** Strings are paths and names: a width beyond this is a corrupt header, not data. */
const MAX_STRING_WIDTH = 1 << 20;
/** numpy's own limit on header length (numpy.lib.format's max_header_size is 10 000; allow more). */
const MAX_HEADER_BYTES = 1 << 20;
/** Code points per String.fromCodePoint call: spreading more as arguments overflows the stack. */
const CODE_POINTS_PER_CALL = 4096;

const DESCR_OF: Record<DType, string | undefined> = {
  float32: '<f4',
  float64: '<f8',
  float16: '<f2',
  bfloat16: undefined,
  int64: '<i8',
  int32: '<i4',
  int16: '<i2',
  int8: '|i1',
  uint8: '|u1',
  bool: '|b1',
};
const DTYPE_OF = new Map<string, DType>(
  Object.entries(DESCR_OF)
    .filter(([, descr]) => descr !== undefined)
    .map(([dtype, descr]) => [descr!.slice(1), dtype as DType]),
);

/** What a .npy header says: a tensor dtype, or a unicode string width in characters. */
export type NpyElement = { dtype: DType } | { unicode: number };

export interface NpyHeader {
  element: NpyElement;
  shape: number[];
  fortranOrder: boolean;
  /** Where the data starts. */
  dataOffset: number;
}

function parseElement(descr: string, path: string): NpyElement {
  const order = descr[0];
  if (order === '>')
    throw new Error(
      `${path}: big-endian dtype '${descr}' is not supported (convert with .astype('<${descr.slice(1)}'))`,
    );
  const body = order === '<' || order === '|' || order === '=' ? descr.slice(1) : descr;
  const unicode = /^U(\d+)$/.exec(body);
  if (unicode) {
    const width = Number(unicode[1]);
    // numpy never writes <U0 (an empty string array is <U1): such a header is corrupt.
    if (!(width >= 1 && width <= MAX_STRING_WIDTH))
      throw new Error(`${path}: string dtype '${descr}' has a width outside 1..${MAX_STRING_WIDTH} characters`);
    return { unicode: width };
  }
  const dtype = DTYPE_OF.get(body);
  if (!dtype) throw new Error(`${path}: numpy dtype '${descr}' is not supported`);
  return { dtype };
}

/** Parses the header of an open .npy file. */
function readHeader(fd: number, path: string): NpyHeader {
  const size = fstatSync(fd).size;
  const preamble = size >= 10 ? readExactly(fd, 10, 0, path) : Buffer.alloc(0);
  if (preamble.length < 10 || !preamble.subarray(0, 6).equals(MAGIC))
    throw new Error(`not a .npy file: ${path} (no \\x93NUMPY magic)`);
  const major = preamble[6]!;
  if (major < 1 || major > 3) throw new Error(`${path}: unsupported .npy format version ${major}.${preamble[7]}`);
  const prefix = major === 1 ? 10 : 12;
  const headerLength = major === 1 ? preamble.readUInt16LE(8) : readExactly(fd, 4, 8, path).readUInt32LE(0);
  if (headerLength > MAX_HEADER_BYTES || prefix + headerLength > size)
    throw new Error(`${path}: corrupt .npy header (it declares ${headerLength} bytes, the file has ${size})`);
  const text = readExactly(fd, headerLength, prefix, path).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new Error(`${path}: malformed .npy header ${JSON.stringify(text.trim())}`);
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (!shape.every((n) => Number.isSafeInteger(n) && n >= 0))
    throw new Error(`${path}: corrupt .npy header (shape (${shapeText}) is not a tuple of non-negative integers)`);
  return {
    element: parseElement(descr, path),
    shape,
    fortranOrder: fortran === 'True',
    dataOffset: prefix + headerLength,
  };
}

/** The header text, padded with spaces so the data starts 64-byte aligned (as numpy does). */
function formatHeader(descr: string, shape: number[], minLength = 0): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let text = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const version = text.length + 11 > 0xffff ? 2 : 1;
  const prefix = version === 1 ? 10 : 12;
  text = text.padEnd(Math.max(minLength - prefix - 1, text.length));
  text += ' '.repeat((64 - ((prefix + text.length + 1) % 64)) % 64) + '\n';
  const out = Buffer.alloc(prefix + text.length);
  MAGIC.copy(out);
  out[6] = version;
  out[7] = 0;
  if (version === 1) out.writeUInt16LE(text.length, 8);
  else out.writeUInt32LE(text.length, 8);
  out.write(text, prefix, 'latin1');
  return out;
}

function descrOf(dtype: DType): string {
  const descr = DESCR_OF[dtype];
  if (!descr) throw new Error(`numpy has no ${dtype} dtype: convert the tensor (e.g. to float32) before writing .npy`);
  return descr;
}

function decodeStrings(bytes: Buffer, width: number, path: string, firstRow: number): string[] {
  const strings: string[] = [];
  for (let p = 0; p < bytes.length; p += width * 4) {
    const codePoints: number[] = [];
    for (let i = 0; i < width; i++) {
      const c = bytes.readUInt32LE(p + i * 4);
      if (c === 0) break;
      if (c > 0x10ffff) {
        const row = firstRow + p / (width * 4);
        throw new Error(
          `${path}: string ${row} holds ${c.toString(16)}, which is not a Unicode code point (corrupt file?)`,
        );
      }
      codePoints.push(c);
    }
    let text = '';
    for (let i = 0; i < codePoints.length; i += CODE_POINTS_PER_CALL)
      text += String.fromCodePoint(...codePoints.slice(i, i + CODE_POINTS_PER_CALL));
    strings.push(text);
  }
  return strings;
}

function encodeStrings(strings: readonly string[]): { width: number; bytes: Buffer } {
  const codePoints = strings.map((s) => Array.from(s, (c) => c.codePointAt(0)!));
  const width = codePoints.reduce((widest, c) => Math.max(widest, c.length), 1);
  const bytes = Buffer.alloc(strings.length * width * 4);
  codePoints.forEach((points, row) => points.forEach((c, i) => bytes.writeUInt32LE(c, (row * width + i) * 4)));
  return { width, bytes };
}

/** Reads row ranges of a .npy file on demand, with positioned reads; the file is never read whole. */
export class NpyReader {
  readonly header: NpyHeader;
  readonly #fd: number;

  constructor(readonly path: string) {
    requireRegularFile(path, '.npy file');
    this.#fd = openSync(path, 'r');
    try {
      this.header = readHeader(this.#fd, path);
      if (this.header.dataOffset + this.#rowBytes() * this.rows > fstatSync(this.#fd).size) {
        throw new Error(`${path}: the file is shorter than its header says (truncated?)`);
      }
    } catch (error) {
      closeSync(this.#fd);
      throw explainMalformed(path, error);
    }
  }

  /** Rows: the first dimension (1 for a 0-d array). */
  get rows(): number {
    return this.header.shape[0] ?? 1;
  }

  /** The shape of one row. */
  get rowShape(): number[] {
    return this.header.shape.slice(1);
  }

  #rowBytes(): number {
    const element = this.header.element;
    const bytes = 'dtype' in element ? itemSize(element.dtype) : element.unicode * 4;
    return this.rowShape.reduce((a, b) => a * b, bytes);
  }

  #check(start: number, end: number): void {
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= this.rows)) {
      throw new RangeError(`${this.path}: rows [${start}, ${end}) are out of range for ${this.rows} rows`);
    }
  }

  /**
   * Rows [start, end) as a tensor of shape [end - start, ...rowShape] (numeric arrays). A
   * Fortran-ordered array can only be read whole, since its rows are not contiguous in the file.
   */
  read(start = 0, end = this.rows): Tensor {
    const element = this.header.element;
    if (!('dtype' in element)) throw new Error(`${this.path}: holds strings ('<U${element.unicode}'); use readStrings`);
    this.#check(start, end);
    const fortran = this.header.fortranOrder && this.header.shape.length > 1;
    if (fortran && (start !== 0 || end !== this.rows)) {
      throw new Error(
        `${this.path}: a Fortran-ordered array cannot be read by row ranges; save it with np.ascontiguousarray`,
      );
    }
    const shape = this.header.shape.length === 0 ? [] : [end - start, ...this.rowShape];
    const rowBytes = this.#rowBytes();
    // Fortran order is C order of the reversed shape: read that, then reverse the axes.
    const stored = tensorFromFile(
      this.#fd,
      this.path,
      this.header.dataOffset + start * rowBytes,
      element.dtype,
      fortran ? [...shape].reverse() : shape,
    );
    if (!fortran) return stored;
    const reversed = permute(
      stored,
      shape.map((_, i) => shape.length - 1 - i),
    );
    const result = contiguous(reversed);
    stored.dispose();
    reversed.dispose();
    return result;
  }

  /** Elements of rows [start, end) of a unicode string array, in row-major order. */
  readStrings(start = 0, end = this.rows): string[] {
    const element = this.header.element;
    if (!('unicode' in element)) throw new Error(`${this.path}: holds numbers (${element.dtype}); use read`);
    this.#check(start, end);
    const rowBytes = this.#rowBytes();
    return decodeStrings(
      readExactly(this.#fd, (end - start) * rowBytes, this.header.dataOffset + start * rowBytes, this.path),
      element.unicode,
      this.path,
      start,
    );
  }

  close(): void {
    closeSync(this.#fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Reads a whole .npy file: a tensor for numeric arrays, a flat string array for '<U' arrays. */
export function readNpy(path: string): Tensor | string[] {
  const reader = new NpyReader(path);
  try {
    return 'unicode' in reader.header.element ? reader.readStrings() : reader.read();
  } finally {
    reader.close();
  }
}

/** Writes a tensor, or a 1-D array of strings ('<U{n}'), as a .npy file; replaces the file atomically. */
export function writeNpy(path: string, value: Tensor | readonly string[]): void {
  writeFileAtomic(path, (fd) => {
    const out = new SequentialWriter(fd);
    if (Array.isArray(value)) {
      const { width, bytes } = encodeStrings(value as readonly string[]);
      out.write(formatHeader(`<U${width}`, [value.length]));
      out.write(bytes);
    } else {
      const t = value as Tensor;
      out.write(formatHeader(descrOf(t.dtype), t.shape));
      writeTensorBytes(t, (piece) => out.write(piece));
    }
  });
}

// Room for any row count: the final header is padded to the length reserved at creation.
const RESERVED_ROWS = Number.MAX_SAFE_INTEGER;

/**
 * Writes a numeric .npy file in row chunks (e.g. features as they are extracted). The file
 * appears under its name only at `close()`, complete, with the final row count in its header.
 */
export class NpyWriter {
  #rows = 0;
  readonly #file: AtomicFile;
  readonly #out: SequentialWriter;
  readonly #headerLength: number;
  readonly #descr: string;

  constructor(
    readonly path: string,
    readonly dtype: DType,
    readonly rowShape: number[],
  ) {
    this.#descr = descrOf(dtype);
    this.#file = new AtomicFile(path);
    this.#out = new SequentialWriter(this.#file.fd);
    const header = formatHeader(this.#descr, [RESERVED_ROWS, ...rowShape]);
    this.#headerLength = header.length;
    this.#out.write(header);
  }

  get rows(): number {
    return this.#rows;
  }

  /** Appends rows: a tensor of shape [n, ...rowShape] and this writer's dtype. */
  append(rows: Tensor): void {
    const [n, ...rowShape] = rows.shape;
    if (n === undefined || rows.dtype !== this.dtype || rowShape.join() !== this.rowShape.join()) {
      throw new Error(
        `${this.path}: cannot append a ${rows.dtype} tensor of shape [${rows.shape.join(', ')}] to rows of ${this.dtype} [${this.rowShape.join(', ')}]`,
      );
    }
    writeTensorBytes(rows, (piece) => this.#out.write(piece));
    this.#rows += n;
  }

  /** Writes the final header and moves the file into place. */
  close(): void {
    writeAll(this.#file.fd, formatHeader(this.#descr, [this.#rows, ...this.rowShape], this.#headerLength), 0);
    this.#file.commit();
  }

  /** Abandons the file: nothing appears under its name. */
  abort(): void {
    this.#file.abort();
  }
}
