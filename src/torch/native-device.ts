// The addon's mixed-precision and CUDA-backend functions (native/src/amp.cc, cuda.cc), typed apart
// from native.ts's core surface.
import { native } from './native.js';

export interface CudaMemoryStats {
  allocatedBytes: number;
  peakAllocatedBytes: number;
  reservedBytes: number;
  peakReservedBytes: number;
}

export interface BackendFlags {
  cudnnBenchmark: boolean;
  cudnnDeterministic: boolean;
  allowTF32Matmul: boolean;
  allowTF32Conv: boolean;
}

export interface DeviceNative {
  autocastIsEnabled(deviceType: 'cpu' | 'cuda'): boolean;
  autocastSetEnabled(deviceType: 'cpu' | 'cuda', enabled: boolean): void;
  autocastGetDtype(deviceType: 'cpu' | 'cuda'): number;
  autocastSetDtype(deviceType: 'cpu' | 'cuda', dtype: number): void;
  autocastIsCacheEnabled(): boolean;
  autocastSetCacheEnabled(enabled: boolean): void;
  autocastIncrementNesting(): number;
  autocastDecrementNesting(): number;
  autocastClearCache(): void;
  opHasKernel(name: string, overload: string, deviceType: 'cpu' | 'cuda'): boolean;
  backendFlags(): BackendFlags;
  setBackendFlags(flags: Partial<BackendFlags>): void;
  cudaMemoryStats(device: number): CudaMemoryStats | undefined;
  cudaResetPeakMemoryStats(device: number): boolean;
  cudaEmptyCache(): boolean;
}

export const deviceNative = native as unknown as DeviceNative;
