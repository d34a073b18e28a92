// safetensors files: an 8-byte little-endian header length, a JSON header mapping each name to
// {dtype, shape, data_offsets} (offsets relative to the data that follows the header), an
// optional "__metadata__" map of strings, then the raw little-endian tensor bytes.
import { closeSync, fstatSync, openSync } from 'node:fs';
import type { DType } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { writeFileAtomic } from './atomic-write.js';
import { readExactly, readSlices, SequentialWriter } from './file-bytes.js';
import { tensorFromPieces, writeTensorBytes } from './storage.js';

const DTYPE_OF: Record<string, DType> = {
  F32: 'float32',
  F64: 'float64',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const NAME_OF = Object.fromEntries(Object.entries(DTYPE_OF).map(([name, dtype]) => [dtype, name])) as Record<
  DType,
  string
>;

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export interface Safetensors {
  /** Tensors by name, in file order. The caller owns them. */
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

export function readSafetensors(path: string): Safetensors {
  const fd = openSync(path, 'r');
  const tensors = new Map<string, Tensor>();
  try {
    const size = fstatSync(fd).size;
    const headerLength = size >= 8 ? Number(readExactly(fd, 8, 0, path).readBigUInt64LE(0)) : -1;
    if (headerLength < 2 || 8 + headerLength > size)
      throw new Error(`not a safetensors file: ${path} (bad header length)`);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(readExactly(fd, headerLength, 8, path).toString('utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`not a safetensors file: ${path} (the header is not JSON)`, { cause: error });
    }
    const dataStart = 8 + headerLength;
    const { __metadata__: metadata = {}, ...entries } = header;
    // JSON objects do not promise an order; file order is the order of the data.
    const ordered = Object.entries(entries as Record<string, HeaderEntry>).sort(
      (a, b) => a[1].data_offsets[0] - b[1].data_offsets[0],
    );
    for (const [name, entry] of ordered) {
      const dtype = DTYPE_OF[entry.dtype];
      if (!dtype) throw new Error(`${path}: tensor '${name}' has dtype ${entry.dtype}, which is not supported`);
      const [begin, end] = entry.data_offsets;
      if (dataStart + end > size || begin > end) throw new Error(`${path}: tensor '${name}' lies outside the file`);
      tensors.set(
        name,
        tensorFromPieces(dtype, entry.shape, (sliceBytes, consume) =>
          readSlices(fd, path, dataStart + begin, end - begin, sliceBytes, consume),
        ),
      );
    }
    return { tensors, metadata: metadata as Record<string, string> };
  } catch (error) {
    for (const t of tensors.values()) t.dispose();
    throw error;
  } finally {
    closeSync(fd);
  }
}

/** Writes tensors (by name, in iteration order) and optional string metadata; replaces the file atomically. */
export function writeSafetensors(
  path: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): void {
  const list = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const [name, t] of list) {
    const nbytes = t.nbytes;
    header[name] = { dtype: NAME_OF[t.dtype], shape: t.shape, data_offsets: [offset, offset + nbytes] };
    offset += nbytes;
  }
  // Padded with spaces so the data starts 8-byte aligned, as the reference implementation does.
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.length));
  writeFileAtomic(path, (fd) => {
    const out = new SequentialWriter(fd);
    out.write(length);
    out.write(headerBytes);
    for (const [, t] of list) writeTensorBytes(t, (piece) => out.write(piece));
  });
}
