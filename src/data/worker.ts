// A loader worker thread: reads, decodes and geometrically transforms the images of one batch
// straight into one contiguous NCHW uint8 buffer, handed back transferred (not copied) with
// per-output metadata. JPEGs are decoded and transformed synchronously on this thread (the image
// addon); other images decode with sharp on libuv's threads, all samples of a batch in flight at
// once so that those threads always have work while this one transforms.
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { decodeAndTransform } from './geometry.js';
import { Rng, Stream } from './rng.js';
import { outputSizeFor, planGeometry } from './transforms.js';
import type { BatchRequest, BatchResult, Failure, WorkerConfig } from './protocol.js';

const config = workerData as WorkerConfig;
const [outH, outW] = config.outputSize;
const imageBytes = outH * outW * 3;
// Parallelism comes from many images at once, not from threads inside one image's operations.
sharp.concurrency(1);
// Every image is seen once per epoch: libvips' operation cache would only hold memory.
sharp.cache(false);

/** Writes the `copies` outputs of one sample at `slot` and returns their labels. */
async function transformSample(
  epoch: number,
  sample: BatchRequest['samples'][number],
  pixels: Uint8Array,
  slot: number,
): Promise<number[]> {
  // Images are small and the page cache usually holds them: a synchronous read costs less than
  // the thread-pool round trips of an asynchronous one, which would queue behind the decoding.
  const bytes = readFileSync(sample.path);
  if (bytes.length === 0) throw new Error('empty file (0 bytes)');
  const labels: number[] = [];
  const plan = (height: number, width: number): ReturnType<typeof planGeometry>['ops'][] => {
    labels.length = 0;
    const [h, w] = outputSizeFor(config.geometric, height, width);
    if (h !== outH || w !== outW) {
      throw new Error(
        `the transforms make this ${height}x${width} image ${h}x${w}, but a batch needs one size (${outH}x${outW}, ` +
          'from the first image): end the geometric transforms with CenterCrop, RandomResizedCrop, RandomCrop or Resize to [h, w]',
      );
    }
    return Array.from({ length: config.copies }, (_, copy) => {
      const rng = new Rng(config.seed, epoch, sample.index, Stream.Geometric, copy);
      const { ops, label } = planGeometry(config.geometric, height, width, rng, copy);
      labels.push(label ?? sample.label);
      return ops;
    });
  };
  await decodeAndTransform(bytes, plan, pixels, slot * imageBytes, imageBytes, config.shrinkOnLoad);
  return labels;
}

async function run(request: BatchRequest): Promise<BatchResult> {
  const { copies } = config;
  const length = request.samples.length * copies * imageBytes;
  const pixels =
    request.buffer && request.buffer.byteLength >= length
      ? new Uint8Array(request.buffer, 0, length)
      : new Uint8Array(length);
  const failures: Failure[] = [];
  const settled = await Promise.all(
    request.samples.map((sample, i) =>
      transformSample(request.epoch, sample, pixels, i * copies).catch((error: Error) => {
        failures.push({ index: sample.index, path: sample.path, message: error.message });
        return null;
      }),
    ),
  );
  const count = settled.reduce((n, labels) => n + (labels?.length ?? 0), 0);
  const indices = new Int32Array(count);
  const copyOf = new Uint8Array(count);
  const labelOf = new Float64Array(count);
  let at = 0;
  settled.forEach((labels, i) => {
    if (labels === null) return;
    // Close the gaps failed samples leave, so the outputs are packed at the start.
    if (at !== i * copies) pixels.copyWithin(at * imageBytes, i * copies * imageBytes, (i + 1) * copies * imageBytes);
    labels.forEach((label, copy) => {
      indices[at] = request.samples[i]?.index as number;
      copyOf[at] = copy;
      labelOf[at] = label;
      at++;
    });
  });
  return { id: request.id, pixels: pixels.buffer, indices, copies: copyOf, labels: labelOf, failures };
}

parentPort?.on('message', (request: BatchRequest) => {
  void run(request).then((result) => {
    const transfer = [
      result.pixels,
      result.indices.buffer,
      result.copies.buffer,
      result.labels.buffer,
    ] as ArrayBuffer[];
    parentPort?.postMessage(result, transfer);
  });
});
