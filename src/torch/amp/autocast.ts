// torch.autocast: inside the scope, the operators autocast covers run in a lower precision
// (matrix products and convolutions in float16/bfloat16, reductions and losses in float32),
// decided by libtorch's own Autocast dispatch keys, so the op lists are PyTorch's exactly.
// The state is thread-local in libtorch and the scope is synchronous, like `tidy`: a scope across
// an `await` would cast unrelated work.
import { dtypeCode, dtypeFromCode, type DType } from '../dtype.js';
import { deviceNative } from '../native-device.js';

export type AutocastDeviceType = 'cpu' | 'cuda';
export type AutocastDType = Extract<DType, 'float16' | 'bfloat16'>;

export interface AutocastOptions {
  /** 'cuda' (also for 'cuda:N' devices) or 'cpu'. */
  deviceType: AutocastDeviceType;
  /** PyTorch's defaults: float16 on CUDA, bfloat16 on CPU. */
  dtype?: AutocastDType;
  /** false runs `fn` with autocast off for this device type (a region kept in float32). */
  enabled?: boolean;
  /** Reuse the lower-precision copy of each weight within the outermost scope (default true). */
  cacheEnabled?: boolean;
}

/** The autocast device type of a device string: 'cuda:1' -> 'cuda'. */
export function autocastDeviceType(device: string): AutocastDeviceType {
  if (device === 'cpu' || device.startsWith('cpu:')) return 'cpu';
  if (device === 'cuda' || device.startsWith('cuda:')) return 'cuda';
  throw new Error(`autocast supports 'cpu' and 'cuda' devices, not '${device}'`);
}

/**
 * Runs `fn` under autocast, as `with torch.autocast(device_type, dtype):`. When the outermost
 * scope exits, the cast-weight cache is cleared (as Python's __exit__ does), so no lower-precision
 * copy outlives the forward pass that made it.
 */
export function autocast<T>(options: AutocastOptions, fn: () => T): T {
  const device = options.deviceType;
  const dtype = options.dtype ?? (device === 'cuda' ? 'float16' : 'bfloat16');
  if (dtype !== 'float16' && dtype !== 'bfloat16') {
    throw new Error(`autocast: dtype must be 'float16' or 'bfloat16', got '${String(dtype)}'`);
  }
  const previousEnabled = deviceNative.autocastIsEnabled(device);
  const previousDtype = deviceNative.autocastGetDtype(device);
  const previousCache = deviceNative.autocastIsCacheEnabled();
  deviceNative.autocastSetEnabled(device, options.enabled ?? true);
  deviceNative.autocastSetDtype(device, dtypeCode(dtype));
  deviceNative.autocastSetCacheEnabled(options.cacheEnabled ?? true);
  deviceNative.autocastIncrementNesting();
  try {
    const result = fn();
    if (result instanceof Promise) {
      throw new Error('autocast() cannot take an async function: the scope would cover unrelated work');
    }
    return result;
  } finally {
    if (deviceNative.autocastDecrementNesting() === 0) deviceNative.autocastClearCache();
    deviceNative.autocastSetEnabled(device, previousEnabled);
    deviceNative.autocastSetDtype(device, previousDtype);
    deviceNative.autocastSetCacheEnabled(previousCache);
  }
}

/** Whether autocast is on for the device type on this thread (torch.is_autocast_enabled). */
export function isAutocastEnabled(deviceType: AutocastDeviceType): boolean {
  return deviceNative.autocastIsEnabled(deviceType);
}

/** The dtype autocast casts to on the device type (torch.get_autocast_dtype). */
export function getAutocastDtype(deviceType: AutocastDeviceType): DType {
  return dtypeFromCode(deviceNative.autocastGetDtype(deviceType));
}
