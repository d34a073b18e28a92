// torch.backends and torch.cuda's memory functions: the cuDNN and TF32 switches (process-wide) and
// the CUDA caching allocator's statistics.
import { deviceNative, type BackendFlags, type CudaMemoryStats } from './native-device.js';

export type { BackendFlags, CudaMemoryStats };

/** The current switches; PyTorch's defaults are benchmark false, TF32 off for matmul, on for cuDNN. */
export function flags(): BackendFlags {
  return deviceNative.backendFlags();
}

/**
 * Sets the given switches (torch.backends.cudnn.benchmark, .deterministic,
 * torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32); others stay.
 */
export function setFlags(flags: Partial<BackendFlags>): void {
  deviceNative.setBackendFlags(flags);
}

/** Runs `fn` with some switches set, restoring them afterwards. */
export function withFlags<T>(flags: Partial<BackendFlags>, fn: () => T): T {
  const previous = deviceNative.backendFlags();
  deviceNative.setBackendFlags(flags);
  try {
    return fn();
  } finally {
    deviceNative.setBackendFlags(previous);
  }
}

/**
 * The caching allocator's bytes on a CUDA device (torch.cuda.memory_allocated, max_memory_allocated,
 * memory_reserved, max_memory_reserved), or null where this build cannot read them.
 */
export function cudaMemoryStats(device = 0): CudaMemoryStats | null {
  return deviceNative.cudaMemoryStats(device) ?? null;
}

/** Starts the peak counters afresh (torch.cuda.reset_peak_memory_stats); false when unavailable. */
export function cudaResetPeakMemoryStats(device = 0): boolean {
  return deviceNative.cudaResetPeakMemoryStats(device);
}

/** Returns the allocator's unused cached blocks to the driver (torch.cuda.empty_cache). */
export function cudaEmptyCache(): boolean {
  return deviceNative.cudaEmptyCache();
}
