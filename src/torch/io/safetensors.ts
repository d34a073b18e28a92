// safetensors files: an 8-byte little-endian header length, a JSON header mapping each name to
// {dtype, shape, data_offsets} (offsets relative to the data that follows the header), an
// optional "__metadata__" map of strings, then the raw little-endian tensor bytes.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { itemSize, type DType } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { writeFileAtomic } from './atomic-write.js';
import { readExactly, requireRegularFile, SequentialWriter } from './file-bytes.js';
import { explainMalformed } from './malformed.js';
import { tensorFromFile, writeTensorBytes } from './storage.js';

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

/** The reference implementation refuses headers over 100 MB: a larger one is not a real header. */
const MAX_HEADER_BYTES = 100_000_000;

/**
 * The tensors a header describes, validated as the reference implementation validates them:
 * known dtypes, shapes of non-negative integers, and data offsets that tile the data exactly
 * (each tensor starts where the one before ended, sized by its shape and dtype, the last ending
 * at the end of the file), so no tensor can overlap another or read header bytes as weights.
 */
function validatedEntries(header: unknown, dataBytes: number, path: string): [string, HeaderEntry][] {
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw new Error(`not a safetensors file: ${path} (the header is not a JSON object)`);
  const { __metadata__: metadata, ...entries } = header as Record<string, unknown>;
  if (
    metadata !== undefined &&
    (typeof metadata !== 'object' ||
      metadata === null ||
      Object.values(metadata).some((value) => typeof value !== 'string'))
  )
    throw new Error(`${path}: __metadata__ must map names to strings`);
  const checked = Object.entries(entries).map(([name, raw]): [string, HeaderEntry] => {
    const bad = (what: string): never => {
      throw new Error(`${path}: tensor '${name}' ${what} (corrupt or hand-made header)`);
    };
    const entry = raw as Partial<HeaderEntry> | null;
    if (typeof entry !== 'object' || entry === null) return bad('is not described by an object');
    if (typeof entry.dtype !== 'string' || !DTYPE_OF[entry.dtype])
      return bad(`has dtype ${JSON.stringify(entry.dtype)}, which is not supported`);
    const { shape, data_offsets: offsets } = entry;
    if (!Array.isArray(shape) || !shape.every((n) => Number.isSafeInteger(n) && n >= 0))
      return bad(`has shape ${JSON.stringify(shape)}, not a list of non-negative integers`);
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((n) => Number.isSafeInteger(n) && n >= 0) ||
      offsets[0]! > offsets[1]!
    )
      return bad(`has data_offsets ${JSON.stringify(offsets)}, not [begin, end] with 0 <= begin <= end`);
    const nbytes = shape.reduce((a, b) => a * b, itemSize(DTYPE_OF[entry.dtype]!));
    if (offsets[1]! - offsets[0]! !== nbytes)
      return bad(`spans ${offsets[1]! - offsets[0]!} bytes, but its shape and dtype need ${nbytes}`);
    return [name, entry as HeaderEntry];
  });
  // JSON objects do not promise an order; file order is the order of the data.
  checked.sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
  let expected = 0;
  for (const [
    name,
    {
      data_offsets: [begin, end],
    },
  ] of checked) {
    if (begin !== expected) {
      throw new Error(
        begin < expected
          ? `${path}: tensor '${name}' starts at data byte ${begin}, inside the tensor before it (overlapping data_offsets)`
          : `${path}: tensor '${name}' starts at data byte ${begin}, leaving a gap after byte ${expected}`,
      );
    }
    expected = end;
  }
  if (expected !== dataBytes) {
    throw new Error(
      `${path}: the tensors cover ${expected} bytes of data but the file holds ${dataBytes} (truncated, or a corrupt header)`,
    );
  }
  return checked;
}

export function readSafetensors(path: string): Safetensors {
  requireRegularFile(path, 'safetensors file');
  const fd = openSync(path, 'r');
  const tensors = new Map<string, Tensor>();
  try {
    const size = fstatSync(fd).size;
    const headerLength = size >= 8 ? Number(readExactly(fd, 8, 0, path).readBigUInt64LE(0)) : -1;
    if (headerLength < 2 || headerLength > MAX_HEADER_BYTES || 8 + headerLength > size)
      throw new Error(`not a safetensors file: ${path} (bad header length ${headerLength} for a ${size}-byte file)`);
    let header: unknown;
    try {
      header = JSON.parse(readExactly(fd, headerLength, 8, path).toString('utf8'));
    } catch (error) {
      throw new Error(`not a safetensors file: ${path} (the header is not JSON)`, { cause: error });
    }
    const dataStart = 8 + headerLength;
    const ordered = validatedEntries(header, size - dataStart, path);
    for (const [name, entry] of ordered) {
      // validatedEntries checked that [begin, end) holds exactly the shape's bytes.
      const [begin] = entry.data_offsets;
      tensors.set(name, tensorFromFile(fd, path, dataStart + begin, DTYPE_OF[entry.dtype]!, entry.shape));
    }
    const metadata = (header as { __metadata__?: Record<string, string> }).__metadata__ ?? {};
    return { tensors, metadata };
  } catch (error) {
    for (const t of tensors.values()) t.dispose();
    throw explainMalformed(path, error);
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
