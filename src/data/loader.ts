// The data loader: a pool of worker threads decodes and crops batches, prefetching a configurable
// number ahead; the main thread collates each into one contiguous tensor and applies the batched
// photometric transforms on the training device. With no workers, batches load on the main thread
// one at a time, as PyTorch's DataLoader(num_workers=0) does (the usual setting for debugging).
// Whatever fails (an image, a whole batch, a worker thread) reaches the consumer of `epoch()` as
// an error naming the file or the config key, never as an unhandled rejection.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { pinMemory, tensor, type Device, type Tensor } from '../torch/index.js';
import type { Dataset, Sample } from './datasets.js';
import { imageAddon } from './image-addon.js';
import { applyPhotometric } from './photometric.js';
import { loadBatch } from './batch.js';
import { MAX_IMAGE_PIXELS } from './geometry.js';
import type { BatchRequest, BatchResult, Failure, WorkerConfig, WorkerReply } from './protocol.js';
import { distributedIndices } from './sampler.js';
import { requireRegularFile } from '../torch/io/file-bytes.js';
import { jpegSize } from './header.js';
import { outputSizeFor, parseTransforms, type Pipeline, type TransformConfig } from './transforms.js';

export interface LoaderOptions {
  dataset: Dataset;
  /** VISSL transform list, e.g. [{name: 'RandomResizedCrop', size: 224}, {name: 'ToTensor'}]. */
  transforms: TransformConfig[];
  /** Images per batch (per rank); the all-rotations RotNet variant yields 4 outputs per image. */
  batchSize: number;
  /** Worker threads; default: the number of cores. */
  numWorkers?: number;
  /** Batches in flight ahead of the consumer; default: 2 per worker. */
  prefetch?: number;
  seed?: number;
  shuffle?: boolean;
  /** Drop the last, smaller batch. */
  dropLast?: boolean;
  rank?: number;
  worldSize?: number;
  /** DistributedSampler's drop_last: drop the tail instead of padding to equal shares per rank. */
  dropUneven?: boolean;
  /** A missing or corrupt image: 'throw' (default) an error naming it, or 'skip' it and count it. */
  onError?: 'throw' | 'skip';
  /**
   * Decode large JPEG/WebP at 1/2, 1/4 or 1/8 size when the crop is at least 4x the output (default
   * on): much cheaper, and the pixels then differ slightly from torchvision's full decode. Off, the
   * geometric transforms give torchvision's pixels exactly.
   */
  shrinkOnLoad?: boolean;
  /** Where the batches go; photometric transforms run there. */
  device?: Device;
  /** Images with more pixels are refused before decoding (default: PIL's decompression-bomb limit). */
  maxImagePixels?: number;
  /** The config section these options came from (e.g. 'DATA.TRAIN'), so errors name its keys. */
  configKey?: string;
  /** CUDA only: collate into page-locked host memory, so the copy to the device can be asynchronous. */
  pinMemory?: boolean;
  /** CUDA only: copy to the device with non_blocking (queued behind the running step). */
  nonBlocking?: boolean;
}

/** Runs batch requests: worker threads, or the main thread itself. */
interface BatchRunner {
  run(epoch: number, samples: Sample[]): Promise<BatchResult>;
  recycle(buffer: ArrayBuffer): void;
  close(): Promise<void>;
}

function requestOf(id: number, epoch: number, samples: Sample[], buffer?: ArrayBuffer): BatchRequest {
  return {
    id,
    epoch,
    samples: samples.map(({ index, path, label, record }) => ({ index, path, label, record })),
    buffer,
  };
}

/** NUM_DATALOADER_WORKERS=0: each batch loads on this thread when it is asked for. */
class MainThreadRunner implements BatchRunner {
  private nextId = 0;
  constructor(private readonly config: WorkerConfig) {}

  run(epoch: number, samples: Sample[]): Promise<BatchResult> {
    return loadBatch(this.config, requestOf(this.nextId++, epoch, samples));
  }

  recycle(): void {}

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export interface Batch {
  /** N x 3 x H x W: float32 when the transforms include ToTensor (LAB after ImgPil2LabTensor), else uint8. */
  images: Tensor;
  /** N int64 labels (dataset labels, cluster ids, or rotation indices). */
  labels: Tensor;
  /** The dataset index of each image. */
  indices: Int32Array;
  dispose(): void;
}

/** Worker threads with their own message routing; each is referenced only while it has work, so an
 * idle pool never keeps the process alive. */
class WorkerPool implements BatchRunner {
  private readonly workers: {
    worker: Worker;
    pending: Map<number, { resolve: (r: BatchResult) => void; reject: (e: Error) => void }>;
  }[];
  private nextId = 0;
  private failed: Error | null = null;
  private closing = false;

  constructor(count: number, config: WorkerConfig) {
    this.workers = Array.from({ length: count }, () => {
      const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: config });
      const pending = new Map<number, { resolve: (r: BatchResult) => void; reject: (e: Error) => void }>();
      worker.on('message', (reply: WorkerReply) => {
        const waiting = pending.get(reply.id);
        if ('error' in reply) waiting?.reject(new Error(`a loader worker could not load a batch: ${reply.error}`));
        else waiting?.resolve(reply);
        pending.delete(reply.id);
        if (pending.size === 0 && !this.closing) worker.unref();
      });
      worker.on('error', (error) => {
        this.failed = error;
        for (const { reject } of pending.values()) reject(new Error(`a loader worker died: ${error.message}`));
        pending.clear();
      });
      // A thread that exits without an error event (killed for memory, process.exit in native
      // code, terminated) would leave its batches waiting forever, and so would any batch sent to
      // it later: a dead worker never answers, and an exited one keeps no event loop alive.
      worker.on('exit', (code) => {
        if (this.closing) return;
        this.failed ??= new Error(`exited with code ${code}`);
        for (const { reject } of pending.values()) reject(new Error(`a loader worker died: exited with code ${code}`));
        pending.clear();
      });
      worker.unref();
      return { worker, pending };
    });
  }

  /** Pixel buffers the consumer is done with, handed back to the workers to fill again. */
  private readonly spare: ArrayBuffer[] = [];

  recycle(buffer: ArrayBuffer): void {
    if (this.spare.length < this.workers.length * 2) this.spare.push(buffer);
  }

  run(epoch: number, samples: Sample[]): Promise<BatchResult> {
    if (this.failed) return Promise.reject(new Error(`a loader worker died: ${this.failed.message}`));
    const slot = this.workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const buffer = this.spare.pop();
    const request = requestOf(this.nextId++, epoch, samples, buffer);
    return new Promise((resolve, reject) => {
      slot.pending.set(request.id, { resolve, reject });
      slot.worker.ref();
      slot.worker.postMessage(request, buffer ? [buffer] : []);
    });
  }

  async close(): Promise<void> {
    // An idle worker is unref'd; without ref() (kept even if a last result arrives now) the process
    // could run out of work and exit before the worker's exit event settles terminate(), leaving
    // the caller's await forever pending.
    this.closing = true;
    await Promise.all(
      this.workers.map(({ worker }) => {
        worker.ref();
        return worker.terminate();
      }),
    );
  }
}

/** A batch's pixels live in one ArrayBuffer. */
const MAX_BATCH_BYTES = 2 ** 31 - 1;

/** A PNG's width and height from its header, or null. */
function pngSize(bytes: Buffer): { width: number; height: number } | null {
  const signature =
    bytes.length >= 24 && bytes.readUInt32BE(0) === 0x89504e47 && bytes.toString('latin1', 12, 16) === 'IHDR';
  return signature ? { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) } : null;
}

/**
 * The output size of transforms whose size follows the input (VISSL's `Resize: 224` without a crop,
 * for datasets of square images): the first image's; a worker names any image that comes out different.
 */
function firstImageOutputSize(dataset: Dataset, pipeline: Pipeline): [number, number] {
  const first = dataset.samples[0];
  const fix = 'end the geometric transforms with CenterCrop, RandomResizedCrop, RandomCrop or Resize to [h, w]';
  if (first === undefined) return [1, 1];
  if (dataset.store) return outputSizeFor(pipeline.geometric, dataset.store.height, dataset.store.width);
  let bytes: Buffer;
  try {
    requireRegularFile(first.path, 'image file');
    bytes = readFileSync(first.path);
  } catch (error) {
    throw new Error(`cannot read ${first.path} (${(error as Error).message})`);
  }
  const size = jpegSize(bytes) ?? pngSize(bytes);
  if (size === null) {
    throw new Error(
      `the transforms give each image its own size, and ${first.path} is neither a JPEG nor a PNG whose size can be read up front: ${fix}`,
    );
  }
  return outputSizeFor(pipeline.geometric, size.height, size.width);
}

export class DataLoader {
  readonly pipeline: Pipeline;
  /** [height, width] of every image of a batch. */
  readonly outputSize: [number, number];
  /** Images skipped in the last epoch (onError 'skip'), with the reason. */
  skipped: Failure[] = [];
  private readonly pool: BatchRunner;
  private readonly options: Required<Omit<LoaderOptions, 'transforms' | 'configKey'>>;
  private readonly configKey: string | undefined;

  constructor(options: LoaderOptions) {
    const numWorkers = options.numWorkers ?? availableParallelism();
    this.configKey = options.configKey;
    const key = (name: string, plain: string) => (this.configKey ? `${this.configKey}.${name}` : plain);
    if (!(Number.isInteger(numWorkers) && numWorkers >= 0))
      throw new Error(
        `loader: ${key('NUM_DATALOADER_WORKERS', 'numWorkers')} must be an integer >= 0, got ${numWorkers}`,
      );
    this.options = {
      numWorkers,
      // Without workers a batch loads when the consumer asks for it: nothing to prefetch.
      prefetch: Math.max(1, 2 * numWorkers),
      maxImagePixels: MAX_IMAGE_PIXELS,
      seed: 0,
      shuffle: true,
      dropLast: false,
      rank: 0,
      worldSize: 1,
      dropUneven: false,
      onError: 'throw',
      shrinkOnLoad: true,
      device: 'cpu',
      pinMemory: false,
      nonBlocking: false,
      ...options,
    };
    if (!(Number.isInteger(this.options.batchSize) && this.options.batchSize >= 1))
      throw new Error(
        `loader: ${key('BATCHSIZE_PER_REPLICA', 'batchSize')} must be an integer >= 1, got ${this.options.batchSize}`,
      );
    this.pipeline = parseTransforms(options.transforms);
    this.outputSize = this.pipeline.outputSize ?? firstImageOutputSize(options.dataset, this.pipeline);
    imageAddon(); // the workers need it: a missing build is reported here, not by each worker
    // sharp (images other than plain JPEGs) runs on libuv's thread pool (4 threads unless told
    // otherwise, shared by all workers); this only takes effect if nothing has used the pool yet,
    // so set it in the environment for certain.
    process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, numWorkers));
    const [height, width] = this.outputSize;
    const batchBytes = this.options.batchSize * this.pipeline.copies * height * width * 3;
    if (batchBytes > MAX_BATCH_BYTES) {
      throw new Error(
        `loader: a batch of ${this.options.batchSize} x ${this.pipeline.copies} images of ${height}x${width} needs ${batchBytes} bytes, ` +
          `more than one buffer can hold; lower ${key('BATCHSIZE_PER_REPLICA', 'batchSize')} or the output size in ${key('TRANSFORMS', 'transforms')}`,
      );
    }
    const config: WorkerConfig = {
      geometric: this.pipeline.geometric,
      outputSize: this.outputSize,
      copies: this.pipeline.copies,
      seed: this.options.seed,
      shrinkOnLoad: this.options.shrinkOnLoad,
      maxImagePixels: this.options.maxImagePixels,
      ...(options.dataset.store ? { store: options.dataset.store } : {}),
    };
    this.pool = numWorkers === 0 ? new MainThreadRunner(config) : new WorkerPool(numWorkers, config);
  }

  /** The batches of an epoch for this rank, as lists of samples. */
  private batchesOf(epoch: number): Sample[][] {
    const { dataset, batchSize, dropLast } = this.options;
    const order = distributedIndices(dataset.samples.length, { ...this.options, epoch });
    const batches: Sample[][] = [];
    for (let start = 0; start < order.length; start += batchSize) {
      const slice = order.slice(start, start + batchSize);
      if (slice.length < batchSize && dropLast) break;
      batches.push(slice.map((i) => dataset.samples[i] as Sample));
    }
    return batches;
  }

  /** Batches per epoch on this rank. */
  stepsPerEpoch(epoch = 0): number {
    return this.batchesOf(epoch).length;
  }

  /** Images per epoch on this rank (the last batch may be smaller than the others). */
  imagesPerEpoch(epoch = 0): number {
    return this.batchesOf(epoch).reduce((sum, batch) => sum + batch.length, 0);
  }

  /** The batches of `epoch`, from `startStep` on (to resume mid-epoch). Dispose each batch. */
  async *epoch(epoch: number, { startStep = 0 } = {}): AsyncGenerator<Batch> {
    const batches = this.batchesOf(epoch).slice(startStep);
    this.skipped = [];
    const inFlight: Promise<BatchResult>[] = [];
    let submitted = 0;
    const fill = (): void => {
      while (submitted < batches.length && inFlight.length < this.options.prefetch) {
        const batch = this.pool.run(epoch, batches[submitted++] as Sample[]);
        // Awaited in order below; a prefetched batch that fails before its turn (or after the
        // consumer stopped early) must not count as an unhandled rejection meanwhile.
        batch.catch(() => {});
        inFlight.push(batch);
      }
    };
    fill();
    while (inFlight.length > 0) {
      const result = await (inFlight.shift() as Promise<BatchResult>);
      fill();
      this.handleFailures(result.failures);
      if (result.indices.length > 0) yield this.collate(result, epoch);
    }
    if (this.skipped.length > 0) {
      const examples = this.skipped.slice(0, 5).map((f) => `${f.path} (${f.message})`);
      console.warn(
        `data loader: skipped ${this.skipped.length} unreadable image(s) in epoch ${epoch}: ${examples.join('; ')}`,
      );
    }
  }

  private handleFailures(failures: Failure[]): void {
    if (failures.length === 0) return;
    if (this.options.onError === 'skip') {
      this.skipped.push(...failures);
      return;
    }
    const list = failures.map((f) => `${f.path}: ${f.message}`).join('\n  ');
    const skip = this.configKey ? `${this.configKey}.SKIP_BAD_IMAGES=True` : "onError: 'skip'";
    throw new Error(
      `cannot load image(s):\n  ${list}\n(fix or remove the file, or set ${skip} to skip and count unreadable images)`,
    );
  }

  private get toCuda(): boolean {
    return (this.options.device ?? 'cpu').startsWith('cuda');
  }

  /** The collated pixels, moved to pinned memory when copying to CUDA with pinMemory. */
  private hostBatch(pixels: Tensor): Tensor {
    if (!this.toCuda || !this.options.pinMemory) return pixels;
    const pinned = pinMemory(pixels);
    pixels.dispose();
    return pinned;
  }

  private collate(result: BatchResult, epoch: number): Batch {
    const [height, width] = this.outputSize;
    const count = result.indices.length;
    const pixels = this.hostBatch(
      tensor(new Uint8Array(result.pixels, 0, count * 3 * height * width), { shape: [count, 3, height, width] }),
    );
    const keys = Array.from(result.indices, (index, i) => ({ index, copy: result.copies[i] as number }));
    const images = applyPhotometric(
      pixels,
      this.pipeline.photometric,
      keys,
      this.options.seed,
      epoch,
      this.options.device,
      { nonBlocking: this.toCuda && this.options.nonBlocking },
    );
    pixels.dispose();
    this.pool.recycle(result.pixels); // copied into the tensor: the worker may fill it again
    const labels = tensor(result.labels, { dtype: 'int64', device: this.options.device });
    return {
      images,
      labels,
      indices: result.indices,
      dispose: () => {
        images.dispose();
        labels.dispose();
      },
    };
  }

  /** Stops the worker threads. */
  close(): Promise<void> {
    return this.pool.close();
  }
}
