// Loads the native addon (native/, built by scripts/build-native.mjs) and describes its surface.
// Nothing outside src/torch talks to it directly.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** An opaque reference to one native at::Tensor (a small integer naming a slot of the addon's table). */
export type Handle = number & { readonly __handle: unique symbol };

export interface MemoryStats {
  /** Tensor handles alive on the JS side of this thread. */
  liveTensors: number;
  /** Distinct storages those handles hold. */
  liveStorages: number;
  /** Bytes of CPU storages held by live handles (each storage counted once). */
  cpuBytes: number;
  /** Bytes of accelerator storages held by live handles. */
  deviceBytes: number;
  /** Handles that were never disposed and were freed by the garbage collector instead. */
  reclaimedByGc: number;
  /**
   * Bytes libtorch's CPU allocator holds now, for every purpose (storages without handles too,
   * such as the activations an autograd graph saved): what V8 is told as external memory.
   */
  allocatorCpuBytes: number;
}

export interface OpSchemaInfo {
  schema: string;
  args: { name: string; type: string; hasDefault: boolean; kwargOnly: boolean; supported: boolean }[];
  returns: number;
}

export interface NativeAddon {
  fromBuffer(view: ArrayBufferView, shape: readonly number[], dtype: number): Handle;
  toBuffer(h: Handle): ArrayBuffer;
  /** Reads `length` bytes of the open file `fd` from `position` into a contiguous CPU tensor's
   * memory; returns the bytes read (fewer only at the end of the file). */
  readFile(h: Handle, fd: number, position: number, length: number): number;
  shape(h: Handle): number[];
  strides(h: Handle): number[];
  storageOffset(h: Handle): number;
  dtype(h: Handle): number;
  device(h: Handle): string;
  isContiguous(h: Handle, memoryFormat: number): boolean;
  /** Drops the handle's reference; `byGc` marks a release by the garbage-collection safety net. */
  dispose(h: Handle, byGc?: boolean): void;
  /** Drops the first `count` handles of `handles` (as `dispose` each, in one call). */
  disposeMany(handles: Float64Array, count: number): void;
  isDisposed(h: Handle): boolean;
  sameTensor(a: Handle, b: Handle): boolean;
  memoryStats(): MemoryStats;
  /** Bytes libtorch's CPU allocator has allocated so far (the churn, not what is held). */
  cpuBytesEverAllocated(): number;

  /** self = beta * self + alpha * mat1 @ mat2 through oneDNN's sgemm; false (nothing done) where
   * that does not apply (see native/src/gemm.cc). */
  fastAddmm_(self: Handle, mat1: Handle, mat2: Handle, beta: number, alpha: number): boolean;
  hasFastGemm(): boolean;
  pairDots(a: Handle, b: Handle, aRows: Handle, bRows: Handle): Handle;
  findAtMost_(values: Handle, decrease: Handle, limit: Handle, skip: Handle): Handle;
  /** OpenBLAS's openblas_get_corename(), or undefined when the BLAS is not OpenBLAS. */
  blasCoreName(): string | undefined;

  resolveOp(name: string, overload: string): number;
  call(id: number, ...args: unknown[]): unknown;
  callDiscard(id: number, ...args: unknown[]): void;
  opSchema(name: string, overload: string): OpSchemaInfo | null;

  backward(tensors: Handle[], grads: (Handle | null)[], retainGraph: boolean | undefined, createGraph: boolean): void;
  grad(
    outputs: Handle[],
    inputs: Handle[],
    gradOutputs: (Handle | null)[],
    retainGraph: boolean | undefined,
    createGraph: boolean,
    allowUnused: boolean,
  ): (Handle | null)[];
  getGrad(h: Handle): Handle | null;
  setGrad(h: Handle, grad: Handle | null): void;
  requiresGrad(h: Handle): boolean;
  isLeaf(h: Handle): boolean;
  gradFnName(h: Handle): string | null;
  setGradEnabled(enabled: boolean): void;
  isGradEnabled(): boolean;
  enterInferenceMode(): void;
  exitInferenceMode(): void;
  isInferenceMode(): boolean;
  isInference(h: Handle): boolean;

  manualSeed(seed: number): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  cudaDeviceCount(): number;
  cudaSynchronize(device?: number): void;
  buildInfo(): { torchVersion: string; cuda: boolean; parallelInfo: string };
  scalarTypes(): Record<string, number>;
}

function load(): NativeAddon {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const file = process.env.CLUSTERFIT_NATIVE ?? join(root, 'build', 'Release', 'clusterfit_native.node');
  // Installed as a package, the install step builds it (`npm rebuild` reruns that); in a clone, npm run build.
  const build = root.split(sep).includes('node_modules') ? 'npm rebuild clusterfit' : 'npm run build:native';
  const help = `run '${build}' (it says what is missing, e.g. libtorch: apt-get install libtorch-dev)`;
  if (!existsSync(file)) throw new Error(`the clusterfit native addon is not built (${file} is missing): ${help}`);
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(file) as NativeAddon;
  } catch (error) {
    throw new Error(`the clusterfit native addon ${file} does not load (${(error as Error).message}): ${help}`);
  }
  // The addon's exports object gets its properties one by one from C++, which leaves it in V8's
  // slow dictionary mode: every `native.call` would be a hash lookup. A literal copy is fast.
  return { ...addon };
}

export const native: NativeAddon = load();
