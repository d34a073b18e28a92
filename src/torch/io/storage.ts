// Storages as file formats see them: a flat run of elements that several tensors may view.
// Reading builds each storage once as a 1-D tensor (in slices when large); writing finds which
// tensors share a storage so that each storage is written once and stays shared when read back.
import { itemSize, type DType } from '../dtype.js';
import { op } from '../dispatch.js';
import type { Tensor } from '../tensor.js';
import { empty, fromBytes } from '../ops/creation.js';
import { asStrided, narrow } from '../ops/shape.js';
import { contiguous } from '../ops/convert.js';
import { native } from '../native.js';
import { endOfFileError, SLICE_BYTES } from './file-bytes.js';

/** A consumer of consecutive byte pieces of one storage, as file readers deliver them. */
export type PieceSource = (sliceBytes: number, consume: (piece: Buffer, offset: number) => void) => void;

/**
 * A 1-D tensor of `numel` elements from bytes delivered piece by piece. Small storages are
 * copied once; large ones are assembled in a preallocated tensor, so no JS buffer ever holds
 * the whole storage.
 */
export function storageFromPieces(dtype: DType, numel: number, source: PieceSource): Tensor {
  const size = itemSize(dtype);
  const nbytes = numel * size;
  if (nbytes <= SLICE_BYTES) {
    let whole: Buffer | undefined;
    source(SLICE_BYTES, (piece) => (whole = piece));
    return fromBytes(checkLength(whole ?? Buffer.alloc(0), nbytes), [numel], dtype);
  }
  const storage = empty([numel], { dtype });
  try {
    let received = 0;
    source(SLICE_BYTES, (piece, offset) => {
      const part = fromBytes(piece, [piece.length / size], dtype);
      const target = narrow(storage, 0, offset / size, piece.length / size);
      target.copy_(part);
      target.dispose();
      part.dispose();
      received += piece.length;
    });
    if (received !== nbytes) throw new Error(`storage holds ${received} bytes, ${nbytes} expected`);
    return storage;
  } catch (error) {
    storage.dispose();
    throw error;
  }
}

function checkLength(bytes: Buffer, nbytes: number): Buffer {
  if (bytes.length !== nbytes) throw new Error(`storage holds ${bytes.length} bytes, ${nbytes} expected`);
  return bytes;
}

/** Tensors found to view one storage, and the element range of it they use. */
export interface StorageGroup {
  dtype: DType;
  /** Any member: the range is read through it. */
  base: Tensor;
  start: number;
  end: number;
}

/** Where one tensor lives in the storages to be written. */
export interface StoragePlace {
  group: StorageGroup;
  /** The tensor's storage offset, relative to the group's `start`. */
  offset: number;
}

// The addon exposes no storage identity or size, so both are found with ATen ops that never
// throw (a thrown c10::Error costs milliseconds for its backtrace): _has_same_storage_numel
// compares storage sizes, and is_set_to on a re-strided view compares storages themselves.
const HAS_SAME_STORAGE_NUMEL = op('aten::_has_same_storage_numel', ['self', 'other']);
const IS_SET_TO = op('aten::is_set_to', ['self', 'tensor']);

/** One past the last storage element the tensor reaches. */
function extent(t: Tensor): number {
  const shape = t.shape;
  if (shape.some((n) => n === 0)) return t.storageOffset;
  return t.strides.reduce((sum, stride, i) => sum + (shape[i]! - 1) * stride, t.storageOffset + 1);
}

function sameStorageSize(a: Tensor, b: Tensor): boolean {
  return HAS_SAME_STORAGE_NUMEL.call(a.handle, b.handle) as boolean;
}

/** Both tensors view the same storage (their storages are known to have the same size). */
function sameStorage(a: Tensor, b: Tensor): boolean {
  const probe = asStrided(a, b.shape, b.strides, b.storageOffset);
  try {
    return IS_SET_TO.call(probe.handle, b.handle) as boolean;
  } finally {
    probe.dispose();
  }
}

/**
 * Groups tensors by the storage they view. Most tensors own a storage exactly as large as they
 * reach, which one comparison with an empty tensor of that size confirms; those are bucketed by
 * size, so only tensors of equal storage size are compared pairwise.
 */
export function groupByStorage(tensors: Iterable<Tensor>): Map<Tensor, StoragePlace> {
  const places = new Map<Tensor, StoragePlace>();
  const buckets = new Map<string, Tensor[]>();
  const oversized: Tensor[] = [];

  const join = (t: Tensor, candidates: Tensor[]) => {
    const match = candidates.find((c) => c.dtype === t.dtype && sameStorageSize(c, t) && sameStorage(c, t));
    const group = match
      ? places.get(match)!.group
      : { dtype: t.dtype, base: t, start: t.storageOffset, end: extent(t) };
    group.start = Math.min(group.start, t.storageOffset);
    group.end = Math.max(group.end, extent(t));
    places.set(t, { group, offset: 0 });
    candidates.push(t);
  };

  for (const t of tensors) {
    if (places.has(t)) continue;
    const reach = extent(t);
    const probe = empty([reach], { dtype: t.dtype });
    const exact = sameStorageSize(t, probe);
    probe.dispose();
    if (exact) {
      const key = `${t.dtype}:${reach}`;
      const bucket = buckets.get(key) ?? [];
      buckets.set(key, bucket);
      join(t, bucket);
    } else {
      oversized.push(t);
    }
  }
  // A tensor whose storage is larger than its reach (a slice, a narrowed view) may share it with
  // any other tensor: compare it with all of them.
  const all = [...places.keys()];
  for (const t of oversized) join(t, all);

  for (const [t, place] of places) place.offset = t.storageOffset - place.group.start;
  return places;
}

/** Bytes of a group's element range, handed over in slices (never one buffer for a huge storage). */
export function writeGroupBytes(group: StorageGroup, write: (piece: Uint8Array) => void): void {
  const flat = asStrided(group.base, [group.end - group.start], [1], group.start);
  try {
    const sliceElements = SLICE_BYTES / itemSize(group.dtype);
    for (let start = 0; start < group.end - group.start; start += sliceElements) {
      const slice = narrow(flat, 0, start, Math.min(sliceElements, group.end - group.start - start));
      const data = slice.data();
      slice.dispose();
      write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  } finally {
    flat.dispose();
  }
}

export function groupBytes(group: StorageGroup): number {
  return (group.end - group.start) * itemSize(group.dtype);
}

/** A tensor's elements in row-major order, handed over in slices. */
export function writeTensorBytes(t: Tensor, write: (piece: Uint8Array) => void): void {
  const dense = contiguous(t);
  try {
    writeGroupBytes(
      { dtype: dense.dtype, base: dense, start: dense.storageOffset, end: dense.storageOffset + dense.numel },
      write,
    );
  } finally {
    dense.dispose();
  }
}

/**
 * A tensor of `shape` whose bytes are read from the open file `fd` at `position`, straight into its
 * memory: one copy from the page cache and each page touched once, where bytes delivered in pieces
 * cost a buffer and a copy each (three page faults a page: 0.65 s for a 440 MB feature file). For
 * every raw, little-endian region of a file (.npy data, safetensors, a legacy checkpoint's
 * storages); zip entries, which are checked as they stream, come in pieces (storageFromPieces). A
 * file that ends early, or a read that fails, is an error naming `path`.
 */
export function tensorFromFile(fd: number, path: string, position: number, dtype: DType, shape: number[]): Tensor {
  const t = empty(shape, { dtype });
  try {
    const length = shape.reduce((a, b) => a * b, 1) * itemSize(dtype);
    let read: number;
    try {
      read = native.readFile(t.handle, fd, position, length);
    } catch (error) {
      throw new Error(`${path}: ${(error as Error).message}`);
    }
    if (read !== length) throw endOfFileError(path, position + read);
    return t;
  } catch (error) {
    t.dispose();
    throw error;
  }
}
