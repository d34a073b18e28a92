// VISSL's HOOKS.PERF_STATS for our metrics lines: per step, the time spent waiting for the loader's
// next batch vs the step itself, and the peak memory. The step's time is taken after the device has
// finished it (a CUDA synchronize), else asynchronous kernels would count as the next data wait.
import { backends, cuda, type Device } from '../torch/index.js';

export class PerfStats {
  #dataWait = 0;
  #compute = 0;
  #steps = 0;
  #mark = performance.now();
  readonly #cudaDevice: number | null;

  constructor(device: Device) {
    this.#cudaDevice = device.startsWith('cuda') ? Number(device.split(':')[1] ?? 0) : null;
    if (this.#cudaDevice !== null) backends.cudaResetPeakMemoryStats(this.#cudaDevice);
  }

  /** The batch has arrived: the time since the last step ended was the data wait. */
  batchArrived(): void {
    const now = performance.now();
    this.#dataWait += now - this.#mark;
    this.#mark = now;
  }

  /** The step was issued: wait for the device, then count the time as compute. */
  stepDone(): void {
    if (this.#cudaDevice !== null) cuda.synchronize(this.#cudaDevice);
    const now = performance.now();
    this.#compute += now - this.#mark;
    this.#steps += 1;
    this.#mark = now;
  }

  /** Restarts the wait clock (after logging, testing or checkpointing between steps). */
  resume(): void {
    this.#mark = performance.now();
  }

  /** Means per step since the last call, and the peak memory so far; resets the means. */
  take(): Record<string, number> {
    const steps = Math.max(1, this.#steps);
    const out: Record<string, number> = {
      data_wait_s: this.#dataWait / 1000 / steps,
      compute_s: this.#compute / 1000 / steps,
    };
    if (this.#cudaDevice !== null) {
      const stats = backends.cudaMemoryStats(this.#cudaDevice);
      if (stats !== null) out.peak_gpu_mem_mb = stats.peakAllocatedBytes / 2 ** 20;
    } else {
      // The process's peak resident set: on CPU tensors, libtorch's and V8's memory together.
      out.peak_rss_mb = process.resourceUsage().maxRSS / 1024;
    }
    this.#dataWait = 0;
    this.#compute = 0;
    this.#steps = 0;
    return out;
  }
}
