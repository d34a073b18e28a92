// What PyTorch's pickles mean, in both directions. Reading: the allow list of torch globals
// (storage types and tensor rebuild functions, as torch.load(weights_only=True) allows) and the
// two-step rebuild: the unpickler yields TensorSpecs, which become tensors once every storage
// they name is known (legacy files store the storage bytes after the pickle). Writing: a tensor
// becomes _rebuild_tensor_v2(<storage persistent id>, offset, size, stride, requires_grad, hooks).
import { itemSize, type DType } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { asStrided } from '../ops/shape.js';
import { STANDARD_GLOBALS, tuple, type PickleCallable } from './pickle.js';
import { PyCall, PyGlobal, PyOrderedDict, PyPersistentId } from './pickle-writer.js';

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  UntypedStorage: 'uint8',
};
const STORAGE_TYPE_OF: Record<DType, string> = Object.fromEntries(
  Object.entries(STORAGE_DTYPES)
    .filter(([name]) => name !== 'UntypedStorage')
    .map(([name, dtype]) => [dtype, name]),
) as Record<DType, string>;

/** The value a storage-type global (torch.FloatStorage, ...) unpickles to. */
class StorageType {
  constructor(readonly dtype: DType) {}
}

/** A storage named by a persistent id; its bytes are found by `key` in the file. */
export interface StorageRef {
  key: string;
  dtype: DType;
  numel: number;
  /** Element offset into the root storage (legacy storage views), else 0. */
  viewOffset: number;
}

/** A tensor to be built over a storage once the storage is loaded. */
export class TensorSpec {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly strides: number[],
    public requiresGrad: boolean,
  ) {}
}

function asIntList(value: unknown, what: string): number[] {
  if (!Array.isArray(value) || !value.every((n) => typeof n === 'number'))
    throw new Error(`${what} must be a tuple of ints`);
  return value as number[];
}

function rebuildTensor(args: readonly unknown[]): TensorSpec {
  const [storage, offset, size, stride, requiresGrad] = args;
  if (typeof storage !== 'object' || storage === null || !('key' in storage)) {
    throw new Error('_rebuild_tensor expects a storage as its first argument');
  }
  if (typeof offset !== 'number') throw new Error('_rebuild_tensor: storage offset must be an int');
  return new TensorSpec(
    storage as StorageRef,
    offset,
    asIntList(size, 'size'),
    asIntList(stride, 'stride'),
    requiresGrad === true,
  );
}

function rebuildParameter(args: readonly unknown[]): TensorSpec {
  const [data, requiresGrad] = args;
  if (!(data instanceof TensorSpec)) throw new Error('_rebuild_parameter expects a tensor');
  data.requiresGrad = requiresGrad === true;
  return data;
}

const callable = (qualifiedName: string, call: PickleCallable['call']): [string, PickleCallable] => [
  qualifiedName,
  { qualifiedName, call },
];

/** The globals a PyTorch checkpoint of tensors and plain data may name; everything else is refused. */
export const TORCH_GLOBALS: ReadonlyMap<string, unknown> = new Map<string, unknown>([
  ...STANDARD_GLOBALS,
  ...Object.entries(STORAGE_DTYPES).map(([name, dtype]): [string, unknown] => [
    `torch.${name}`,
    new StorageType(dtype),
  ]),
  callable('torch._utils._rebuild_tensor', rebuildTensor),
  callable('torch._utils._rebuild_tensor_v2', rebuildTensor),
  callable('torch._utils._rebuild_parameter', rebuildParameter),
  callable('torch._utils._rebuild_parameter_with_state', rebuildParameter),
  // torch.Size(sizes): a tuple of ints, as Python's own constructor insists.
  callable('torch.Size', (args) => tuple(asIntList(args[0] ?? [], 'torch.Size(sizes)'))),
  callable('torch.device', (args) => args.join(':')),
]);

/**
 * Resolves a storage persistent id, ('storage', StorageType, key, location, numel[, view]).
 * The location is ignored: everything loads to the CPU.
 */
export function storageRefFromPid(pid: unknown, source: string): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage') {
    const kind = Array.isArray(pid) ? String(pid[0]) : typeof pid;
    throw new Error(
      kind === 'module'
        ? `${source}: holds a whole pickled nn.Module, which cannot be loaded safely; save model.state_dict() instead`
        : `${source}: unsupported persistent id '${kind}'`,
    );
  }
  const [, type, key, , numel, view] = pid as unknown[];
  if (!(type instanceof StorageType)) throw new Error(`${source}: storage of an unsupported type`);
  if (typeof numel !== 'number') throw new Error(`${source}: storage '${String(key)}' has no element count`);
  // Legacy storage views: (view_key, offset, size), offsets in elements of the root storage.
  const viewOffset = Array.isArray(view) && typeof view[1] === 'number' ? view[1] : 0;
  return { key: String(key), dtype: type.dtype, numel, viewOffset };
}

/**
 * Replaces every TensorSpec in an unpickled tree by a tensor, each storage loaded once (by
 * `loadStorage`, as a 1-D tensor) and each tensor an as_strided view of it, so tensors that
 * shared a storage in PyTorch share it here. Containers are updated in place; tuples, being
 * frozen, are rebuilt. On failure every tensor made so far is disposed.
 */
export function materializeTensors(tree: unknown, loadStorage: (ref: StorageRef) => Tensor): unknown {
  const storages = new Map<string, Tensor>();
  const done = new Map<object, unknown>();
  const created: Tensor[] = [];

  const tensorOf = (spec: TensorSpec): Tensor => {
    let storage = storages.get(spec.storage.key);
    if (!storage) {
      storage = loadStorage(spec.storage);
      storages.set(spec.storage.key, storage);
    }
    const view = asStrided(storage, spec.shape, spec.strides, spec.storage.viewOffset + spec.offset);
    created.push(view);
    if (spec.requiresGrad) view.requiresGrad_(true);
    return view;
  };

  // Iterative (a file can nest containers deeper than the JS call stack goes): containers are
  // updated in place when left, after their items; tuples, being frozen, are rebuilt then.
  const resolve = (root: unknown): unknown => {
    const isContainer = (value: unknown): value is object =>
      typeof value === 'object' && value !== null && !(value instanceof Uint8Array);
    const resolved = (value: unknown): unknown => (isContainer(value) && done.has(value) ? done.get(value) : value);
    const entered = new Set<object>();
    const work: { value: unknown; leaving: boolean }[] = [{ value: root, leaving: false }];
    while (work.length > 0) {
      const { value, leaving } = work.pop()!;
      if (!isContainer(value)) continue;
      if (leaving) {
        if (Array.isArray(value) && Object.isFrozen(value)) done.set(value, tuple(value.map(resolved)));
        else if (Array.isArray(value)) value.forEach((item, i) => (value[i] = resolved(item)));
        else if (value instanceof Map) for (const [key, item] of value) value.set(key, resolved(item));
        else if (value instanceof Set) {
          const items = [...value].map(resolved);
          value.clear();
          for (const item of items) value.add(item);
        }
        continue;
      }
      if (entered.has(value)) continue;
      entered.add(value);
      if (value instanceof TensorSpec) {
        done.set(value, tensorOf(value));
        continue;
      }
      if (!(Array.isArray(value) && Object.isFrozen(value))) done.set(value, value);
      work.push({ value, leaving: true });
      const items = value instanceof Map ? value.values() : Array.isArray(value) || value instanceof Set ? value : [];
      for (const item of items) if (isContainer(item) && !entered.has(item)) work.push({ value: item, leaving: false });
    }
    return resolved(root);
  };

  try {
    return resolve(tree);
  } catch (error) {
    for (const t of created) t.dispose();
    throw error;
  } finally {
    for (const storage of storages.values()) storage.dispose();
  }
}

/** Bytes a storage reference needs in the file. */
export function storageBytes(ref: StorageRef): number {
  return ref.numel * itemSize(ref.dtype);
}

/** How a tensor is pickled, given where its storage is written (see storage.ts). */
export function tensorReduction(t: Tensor, storageKey: string, storageNumel: number, offset: number): PyCall {
  const storageType = STORAGE_TYPE_OF[t.dtype];
  const pid = new PyPersistentId(['storage', new PyGlobal('torch', storageType), storageKey, 'cpu', storageNumel]);
  return new PyCall(new PyGlobal('torch._utils', '_rebuild_tensor_v2'), [
    pid,
    offset,
    tuple(t.shape),
    tuple(t.strides),
    t.requiresGrad,
    new PyOrderedDict([]),
  ]);
}
