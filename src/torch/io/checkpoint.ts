// PyTorch checkpoints (torch.save / torch.load files) of tensors and plain data.
//
// Reading accepts both container formats: the zip archive of torch >= 1.6 (archive/data.pkl
// plus one archive/data/<key> entry per storage) and the legacy stream (magic number, protocol
// and system-info pickles, the main pickle, the list of storage keys, then each storage's element
// count and bytes). Only tensors and plain data are rebuilt (see pickle.ts and torch-pickle.ts).
//
// The result is plain JS: dicts and OrderedDicts are Maps (insertion order and non-string keys,
// such as an optimizer state's parameter indices, are kept), lists are arrays, tuples frozen
// arrays, ints numbers (bigints beyond 2^53), tensors Tensor objects on the CPU. The caller
// owns the tensors. Tensors that shared a storage in PyTorch share one here.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { Tensor } from '../tensor.js';
import { readExactly, requireRegularFile } from './file-bytes.js';
import { explainMalformed } from './malformed.js';
import { PickleTruncatedError, unpickle } from './pickle.js';
import { pickle, PyOrderedDict } from './pickle-writer.js';
import {
  groupByStorage,
  groupBytes,
  storageFromPieces,
  tensorFromFile,
  writeGroupBytes,
  type StorageGroup,
} from './storage.js';
import {
  materializeTensors,
  storageBytes,
  storageRefFromPid,
  tensorReduction,
  TORCH_GLOBALS,
  type StorageRef,
} from './torch-pickle.js';
import { ZipReader, ZipWriter } from './zip.js';
import { writeFileAtomic } from './atomic-write.js';

/** A checkpoint's pickle holds names, shapes and small values, never tensor data: a larger one is refused. */
export const MAX_PICKLE_BYTES = 256 * 1024 * 1024;

/** Loads a checkpoint written by torch.save (any version) or by `saveCheckpoint`. */
export function loadCheckpoint(path: string): unknown {
  try {
    requireRegularFile(path);
    const zip = ZipReader.open(path);
    if (zip === null) return loadLegacy(path);
    try {
      return loadZip(zip);
    } finally {
      zip.close();
    }
  } catch (error) {
    throw explainMalformed(path, error);
  }
}

function loadStorageOrExplain(path: string, ref: StorageRef, load: () => Tensor): Tensor {
  try {
    return load();
  } catch (error) {
    throw new Error(`${path}: storage '${ref.key}' could not be read: ${(error as Error).message}`, { cause: error });
  }
}

function loadZip(zip: ZipReader): unknown {
  const path = zip.path;
  const pickleName = [...zip.entries.keys()].find((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickleName === undefined)
    throw new Error(`not a PyTorch checkpoint: ${path} is a zip archive without <archive>/data.pkl`);
  const prefix = pickleName.slice(0, -'data.pkl'.length);
  const byteorder = zip.entries.get(`${prefix}byteorder`);
  if (byteorder && zip.read(byteorder, 64).toString('latin1').trim() !== 'little') {
    throw new Error(`${path}: the checkpoint was written on a big-endian machine, which is not supported`);
  }
  const source = `${path} (${pickleName})`;
  const { value } = unpickle(zip.read(zip.entry(pickleName), MAX_PICKLE_BYTES), {
    globals: TORCH_GLOBALS,
    persistentLoad: (pid) => storageRefFromPid(pid, source),
    source,
  });
  return materializeTensors(value, (ref) =>
    loadStorageOrExplain(path, ref, () => {
      const entry = zip.entry(`${prefix}data/${ref.key}`);
      if (entry.size !== storageBytes(ref))
        throw new Error(`the entry holds ${entry.size} bytes, ${storageBytes(ref)} expected`);
      return storageFromPieces(ref.dtype, ref.numel, (sliceBytes, consume) =>
        zip.readSlices(entry, sliceBytes, consume),
      );
    }),
  );
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

interface LegacyHead {
  value: unknown;
  storages: Map<string, StorageRef>;
  keys: string[];
  /** Where the storage records start. */
  end: number;
}

/** Parses the pickles at the start of a legacy file, from as much of the file as `head` holds. */
function parseLegacyHead(path: string, head: Buffer): LegacyHead {
  const plain = { globals: new Map(), source: path };
  let magic: unknown;
  let position: number;
  try {
    ({ value: magic, end: position } = unpickle(head, plain));
  } catch (error) {
    if (error instanceof PickleTruncatedError) throw error;
    magic = undefined;
    position = 0;
  }
  if (magic !== LEGACY_MAGIC) {
    throw new Error(
      `not a PyTorch checkpoint: ${path} is neither a zip archive nor a legacy torch.save file (no magic number)`,
    );
  }
  const protocol = unpickle(head, plain, position);
  if (protocol.value !== LEGACY_PROTOCOL)
    throw new Error(`${path}: unsupported legacy checkpoint protocol ${String(protocol.value)}`);
  const sysInfo = unpickle(head, plain, protocol.end);
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) {
    throw new Error(`${path}: the checkpoint was written on a big-endian machine, which is not supported`);
  }
  const storages = new Map<string, StorageRef>();
  const main = unpickle(
    head,
    {
      globals: TORCH_GLOBALS,
      persistentLoad: (pid) => {
        const ref = storageRefFromPid(pid, path);
        storages.set(ref.key, { ...ref, viewOffset: 0 });
        return ref;
      },
      source: path,
    },
    sysInfo.end,
  );
  const keys = unpickle(head, plain, main.end);
  if (!Array.isArray(keys.value) || !keys.value.every((key) => typeof key === 'string')) {
    throw new Error(`${path}: corrupt legacy checkpoint (the storage key list is not a list of strings)`);
  }
  return { value: main.value, storages, keys: keys.value as string[], end: keys.end };
}

function loadLegacy(path: string): unknown {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    // The pickles are small and come first; read more of the file only if they do not fit.
    let head: LegacyHead | undefined;
    for (let length = Math.min(size, 1 << 20); head === undefined; length = Math.min(size, length * 4)) {
      try {
        head = parseLegacyHead(path, readExactly(fd, length, 0, path));
      } catch (error) {
        if (!(error instanceof PickleTruncatedError) || length === size) throw error;
      }
    }
    // Each storage record: its element count (int64), then its bytes, in the order of `keys`.
    const locations = new Map<string, number>();
    let position = head.end;
    for (const key of head.keys) {
      const ref = head.storages.get(key);
      if (!ref) throw new Error(`${path}: corrupt legacy checkpoint (storage '${key}' is listed but never used)`);
      const count = Number(readExactly(fd, 8, position, path).readBigInt64LE(0));
      if (count !== ref.numel)
        throw new Error(`${path}: storage '${key}' has ${count} elements, ${ref.numel} expected`);
      locations.set(key, position + 8);
      position += 8 + storageBytes(ref);
    }
    return materializeTensors(head.value, (ref) =>
      loadStorageOrExplain(path, ref, () => {
        const root = head.storages.get(ref.key)!;
        const start = locations.get(ref.key);
        if (start === undefined) throw new Error('its bytes are missing from the file');
        return tensorFromFile(fd, path, start, root.dtype, [root.numel]);
      }),
    );
  } finally {
    closeSync(fd);
  }
}

/** Every tensor in a value tree, each once (iterative: a loaded tree may nest deeper than the call stack). */
function collectTensors(value: unknown): Set<Tensor> {
  const found = new Set<Tensor>();
  const seen = new Set<object>();
  const work: unknown[] = [value];
  while (work.length > 0) {
    const item = work.pop();
    if (typeof item !== 'object' || item === null || seen.has(item)) continue;
    seen.add(item);
    if (item instanceof Tensor) found.add(item);
    else if (Array.isArray(item) || item instanceof Set) for (const child of item) work.push(child);
    else if (item instanceof Map) for (const child of item.values()) work.push(child);
    else if (Object.getPrototypeOf(item) === Object.prototype)
      for (const child of Object.values(item)) work.push(child);
  }
  return found;
}

/**
 * Whether `path` holds a whole, intact checkpoint, to choose among files a crash may have cut short
 * or the disk may have damaged. A zip checkpoint's central directory (written last) must be there
 * and name data.pkl, and every entry must match its CRC-32; a legacy one is loaded in full.
 */
export function isCompleteCheckpoint(path: string): boolean {
  try {
    const zip = ZipReader.open(path);
    if (zip === null) {
      disposeTensors(loadLegacy(path));
      return true;
    }
    try {
      if (![...zip.entries.keys()].some((name) => /^[^/]+\/data\.pkl$/.test(name))) return false;
      zip.verify();
      return true;
    } finally {
      zip.close();
    }
  } catch {
    return false;
  }
}

/**
 * Frees every tensor in a value tree, such as a loaded checkpoint (whose tensors belong to the
 * caller), except those in `except`.
 */
export function disposeTensors(value: unknown, except: ReadonlySet<Tensor> = new Set()): void {
  for (const t of collectTensors(value)) if (!except.has(t)) t.dispose();
}

/** A dict whose values are all tensors: written as an OrderedDict, as PyTorch writes state dicts. */
function stateDictEntries(value: object): [unknown, unknown][] | undefined {
  const entries: [unknown, unknown][] | undefined =
    value instanceof Map
      ? [...value]
      : Object.getPrototypeOf(value) === Object.prototype
        ? Object.entries(value)
        : undefined;
  return entries && entries.length > 0 && entries.every(([, item]) => item instanceof Tensor) ? entries : undefined;
}

/**
 * Writes `value` (nested Maps/objects, arrays, frozen arrays as tuples, primitives and tensors) as
 * a zip-format checkpoint that `torch.load(path, weights_only=True)` opens. Dicts whose values are
 * all tensors become OrderedDicts; each storage is written once, so tensors sharing a storage
 * (views, tied weights) still share it in PyTorch. The file is replaced atomically.
 */
export function saveCheckpoint(path: string, value: unknown): void {
  const places = groupByStorage(collectTensors(value));
  const keys = new Map<StorageGroup, string>();
  for (const { group } of places.values()) if (!keys.has(group)) keys.set(group, String(keys.size));

  const data = pickle(value, (item) => {
    if (item instanceof Tensor) {
      const { group, offset } = places.get(item)!;
      return tensorReduction(item, keys.get(group)!, group.end - group.start, offset);
    }
    const entries = stateDictEntries(item);
    return entries ? new PyOrderedDict(entries) : undefined;
  });

  writeFileAtomic(path, (fd) => {
    const zip = new ZipWriter(fd);
    const addBytes = (name: string, bytes: Buffer) => zip.addEntry(name, bytes.length, (write) => write(bytes));
    addBytes('archive/data.pkl', data);
    addBytes('archive/byteorder', Buffer.from('little'));
    for (const [group, key] of keys) {
      zip.addEntry(`archive/data/${key}`, groupBytes(group), (write) => writeGroupBytes(group, write));
    }
    addBytes('archive/version', Buffer.from('3\n'));
    zip.finish();
  });
}
