// A minimal reader for the NumPy .npy files VISSL's disk_filelist uses: unicode string arrays
// ('<U') of image paths and integer arrays of labels. Private to src/data until src/torch/io
// offers a general .npy reader; it reads nothing else.
import { readFileSync } from 'node:fs';

export type NpyContent = { kind: 'strings'; values: string[] } | { kind: 'ints'; values: number[] };

const MAGIC = '\x93NUMPY';

function parseHeader(
  path: string,
  bytes: Buffer,
): { descr: string; fortran: boolean; shape: number[]; offset: number } {
  if (bytes.toString('latin1', 0, 6) !== MAGIC) throw new Error(`${path}: not a .npy file (bad magic)`);
  const major = bytes[6];
  const lengthBytes = major === 1 ? 2 : 4;
  const headerLength = lengthBytes === 2 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = 8 + lengthBytes;
  const header = bytes.toString('latin1', start, start + headerLength);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || shapeText === undefined) throw new Error(`${path}: unreadable .npy header ${header}`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  return { descr, fortran, shape, offset: start + headerLength };
}

const INT_READERS: Record<string, [number, (b: Buffer, at: number) => number]> = {
  '|i1': [1, (b, at) => b.readInt8(at)],
  '|u1': [1, (b, at) => b.readUInt8(at)],
  '<i2': [2, (b, at) => b.readInt16LE(at)],
  '<u2': [2, (b, at) => b.readUInt16LE(at)],
  '<i4': [4, (b, at) => b.readInt32LE(at)],
  '<u4': [4, (b, at) => b.readUInt32LE(at)],
  '<i8': [8, (b, at) => Number(b.readBigInt64LE(at))],
  '<u8': [8, (b, at) => Number(b.readBigUInt64LE(at))],
};

/** Reads a 1-d (or (n, 1)) array of unicode strings or integers. */
export function readNpy(path: string): NpyContent {
  const bytes = readFileSync(path);
  const { descr, fortran, shape, offset } = parseHeader(path, bytes);
  const count = shape.reduce((a, b) => a * b, 1);
  if (shape.length > 2 || (shape.length === 2 && shape[1] !== 1 && !fortran && shape[0] !== 1)) {
    throw new Error(`${path}: expected a 1-d array (or (n, 1)), found shape (${shape.join(', ')})`);
  }
  const unicode = /^<U(\d+)$/.exec(descr);
  if (unicode) {
    const width = Number(unicode[1]) * 4;
    const values = Array.from({ length: count }, (_, i) =>
      decodeUtf32(bytes.subarray(offset + i * width, offset + (i + 1) * width)),
    );
    return { kind: 'strings', values };
  }
  const reader = INT_READERS[descr];
  if (reader) {
    const [size, read] = reader;
    return { kind: 'ints', values: Array.from({ length: count }, (_, i) => read(bytes, offset + i * size)) };
  }
  throw new Error(
    `${path}: unsupported dtype '${descr}'. Save image lists as a unicode array (np.array(paths, dtype=str)) ` +
      `and labels as integers (np.int64); object arrays ('|O') need pickle and are not read.`,
  );
}

/** Node has no UTF-32 codec: numpy stores '<U' strings as little-endian code points. */
function decodeUtf32(bytes: Buffer): string {
  const points: number[] = [];
  for (let at = 0; at + 4 <= bytes.length; at += 4) {
    const cp = bytes.readUInt32LE(at);
    if (cp === 0) break; // numpy pads shorter strings with NULs
    points.push(cp);
  }
  return String.fromCodePoint(...points);
}
