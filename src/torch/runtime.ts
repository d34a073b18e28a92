// Process-wide settings and facts: seeds, threads, CUDA, memory, the BLAS in use.
import { readFileSync } from 'node:fs';
import { native, type MemoryStats } from './native.js';

/** Seeds the CPU generator and every CUDA device's generator. */
export function manualSeed(seed: number): void {
  native.manualSeed(seed);
}

/** Intra-op threads libtorch uses for CPU kernels. */
export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}

export function getNumThreads(): number {
  return native.getNumThreads();
}

/**
 * Live tensor handles of the calling thread (each worker thread has its own) and the bytes their
 * storages hold; constant across a leak-free loop.
 */
export function memoryStats(): MemoryStats {
  return native.memoryStats();
}

/** What the addon was built against. */
export function buildInfo(): { torchVersion: string; cuda: boolean } {
  const { torchVersion, cuda } = native.buildInfo();
  return { torchVersion, cuda };
}

/** The kernel family OpenBLAS picked for this CPU (e.g. 'Haswell'), or null when libtorch's BLAS
 * is not OpenBLAS. */
export function blasCore(): string | null {
  return native.blasCoreName() ?? null;
}

// OpenBLAS's kernel families without AVX2 and FMA. OpenBLAS picks one by CPU model number, and
// on virtual machines that report a generic model it falls back to 'Prescott' (SSE3) even on an
// AVX-512 CPU: measured on the 2-core benchmark machine, 45 against 143 GFLOP/s with
// OPENBLAS_CORETYPE=SkylakeX.
const PRE_AVX2_CORES = new Set(['prescott', 'core2', 'penryn', 'dunnington', 'nehalem', 'atom', 'sandybridge']);

/**
 * A warning naming the fix when OpenBLAS runs kernels far older than this CPU supports (every
 * matrix product through it then runs several times slower); null when it does not, or when
 * that cannot be told (another BLAS, no /proc/cpuinfo).
 */
export function blasWarning(): string | null {
  const core = blasCore();
  if (core === null || !PRE_AVX2_CORES.has(core.toLowerCase())) return null;
  let flags: Set<string>;
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '';
    flags = new Set(line.trim().split(/\s+/));
  } catch {
    return null;
  }
  const better = flags.has('avx512f') ? 'SkylakeX' : flags.has('avx2') && flags.has('fma') ? 'Haswell' : null;
  if (better === null) return null;
  return (
    `OpenBLAS picked its '${core}' kernels, though this CPU has ${better === 'SkylakeX' ? 'AVX-512' : 'AVX2'}: ` +
    `matrix products through it run several times slower. Start with OPENBLAS_CORETYPE=${better} in the environment ` +
    `(torch.gemm_ goes through oneDNN and is not affected)`
  );
}

export const cuda = {
  /** True when this build has CUDA and a device is visible. */
  isAvailable(): boolean {
    return native.buildInfo().cuda && native.cudaDeviceCount() > 0;
  },
  deviceCount(): number {
    return native.buildInfo().cuda ? native.cudaDeviceCount() : 0;
  },
  /** Waits for all kernels on a device (default: the current one) to finish. */
  synchronize(device?: number): void {
    native.cudaSynchronize(device);
  },
};
