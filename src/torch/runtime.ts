// Process-wide settings and facts: seeds, threads, CUDA, memory.
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
