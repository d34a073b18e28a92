// dtype, device and memory-format conversion.
import { dtypeCode, isDType, MEMORY_FORMAT, type DType, type MemoryFormat } from '../dtype.js';
import { op } from '../dispatch.js';
import { wrap, type Device, type Tensor } from '../tensor.js';

const TO_DTYPE = op('aten::to.dtype', ['self', 'dtype', 'non_blocking', 'copy', 'memory_format']);
const TO_DEVICE = op('aten::to.device', ['self', 'device', 'dtype', 'non_blocking', 'copy', 'memory_format']);
const CLONE = op('aten::clone', ['self', 'memory_format']);
const CONTIGUOUS = op('aten::contiguous', ['self', 'memory_format']);

export interface ToOptions {
  /** Convert the dtype too, when `target` is a device. */
  dtype?: DType;
  /** Asynchronous host-device copy (needs pinned memory to be truly asynchronous). */
  nonBlocking?: boolean;
  /** Always copy, even when nothing changes. */
  copy?: boolean;
  memoryFormat?: MemoryFormat;
}

/** `tensor.to(dtype)` or `tensor.to(device)`; returns `self` (a new handle) when nothing changes. */
export function to(self: Tensor, target: DType | Device, options: ToOptions = {}): Tensor {
  const memoryFormat = options.memoryFormat === undefined ? undefined : MEMORY_FORMAT[options.memoryFormat];
  if (isDType(target)) {
    return wrap(
      TO_DTYPE.callHandle(
        self.handle,
        dtypeCode(target as DType),
        options.nonBlocking ?? false,
        options.copy ?? false,
        memoryFormat,
      ),
    );
  }
  const dtype = dtypeCode(options.dtype ?? self.dtype);
  return wrap(
    TO_DEVICE.callHandle(self.handle, target, dtype, options.nonBlocking ?? false, options.copy ?? false, memoryFormat),
  );
}

export function clone(self: Tensor, memoryFormat?: MemoryFormat): Tensor {
  return wrap(CLONE.callHandle(self.handle, memoryFormat === undefined ? undefined : MEMORY_FORMAT[memoryFormat]));
}

/** A tensor laid out in `memoryFormat` ('channelsLast' for NHWC convolutions). */
export function contiguous(self: Tensor, memoryFormat: MemoryFormat = 'contiguous'): Tensor {
  return wrap(CONTIGUOUS.callHandle(self.handle, MEMORY_FORMAT[memoryFormat]));
}

const PIN_MEMORY = op('aten::pin_memory', ['self']);
const IS_PINNED = op('aten::is_pinned', ['self']);

/** A copy of a CPU tensor in page-locked memory (needs CUDA), so copies to the GPU can be asynchronous. */
export function pinMemory(self: Tensor): Tensor {
  return wrap(PIN_MEMORY.callHandle(self.handle));
}

/** Whether a CPU tensor lives in page-locked memory (false without CUDA). */
export function isPinned(self: Tensor): boolean {
  return IS_PINNED.call(self.handle) as boolean;
}
