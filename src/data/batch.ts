// One batch of the loader: reads, decodes and geometrically transforms its images straight into
// one contiguous NCHW uint8 buffer, with per-output metadata. Worker threads run it (worker.ts),
// and so does the main thread itself when the loader has no workers (NUM_DATALOADER_WORKERS=0, as
// PyTorch loads in the main process). JPEGs are decoded and transformed synchronously (the image
// addon); other images decode with sharp on libuv's threads, all samples of a batch in flight at
// once so that those threads always have work while this one transforms. Images a dataset holds
// in memory (torchvision's files) are transformed straight from its store.
import { readFileSync } from 'node:fs';
import { requireRegularFile } from '../torch/io/file-bytes.js';
import { decodeAndTransform, transformDecoded } from './geometry.js';
import { Rng, Stream } from './rng.js';
import { outputSizeFor, planGeometry } from './transforms.js';
import type { BatchRequest, BatchResult, Failure, WorkerConfig } from './protocol.js';
import type { Pixels } from './image-addon.js';

function tooManyPixels(limit: number, what: string): Error {
  return new Error(
    `${what} exceeds the limit of ${limit} pixels (a possible decompression bomb, which PIL refuses too); ` +
      'raise DATA.MAX_IMAGE_PIXELS if the image is genuine',
  );
}

/** Image `record` of the dataset's store (a view, not a copy). */
function storedImage(config: WorkerConfig, record: number): Pixels {
  const store = config.store;
  const bytes = store ? store.height * store.width * 3 : 0;
  if (!store || !(record >= 0 && (record + 1) * bytes <= store.pixels.length))
    throw new Error(`image ${record} is not in the dataset's image store`);
  return {
    data: store.pixels.subarray(record * bytes, (record + 1) * bytes),
    width: store.width,
    height: store.height,
  };
}

/** Writes the `copies` outputs of one sample at `slot` and returns their labels. */
async function transformSample(
  config: WorkerConfig,
  epoch: number,
  sample: BatchRequest['samples'][number],
  pixels: Uint8Array,
  slot: number,
): Promise<number[]> {
  const imageBytes = config.outputSize[0] * config.outputSize[1] * 3;
  const labels: number[] = [];
  const plan = (height: number, width: number): ReturnType<typeof planGeometry>['ops'][] => {
    if (height * width > config.maxImagePixels) throw tooManyPixels(config.maxImagePixels, `${width}x${height}`);
    labels.length = 0;
    const [outH, outW] = config.outputSize;
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
  if (sample.record !== undefined) {
    const image = storedImage(config, sample.record);
    transformDecoded(image, plan(image.height, image.width), pixels, slot * imageBytes, imageBytes);
    return labels;
  }
  // A FIFO would block the read forever and a link to /dev/zero never end: regular files only.
  requireRegularFile(sample.path, 'image file');
  // Images are small and the page cache usually holds them: a synchronous read costs less than
  // the thread-pool round trips of an asynchronous one, which would queue behind the decoding.
  const bytes = readFileSync(sample.path);
  if (bytes.length === 0) throw new Error('empty file (0 bytes)');
  try {
    await decodeAndTransform(
      bytes,
      plan,
      pixels,
      slot * imageBytes,
      imageBytes,
      config.shrinkOnLoad,
      config.maxImagePixels,
    );
  } catch (error) {
    // libvips' own words for the same limit, for images it decodes.
    if (/pixel limit/i.test((error as Error).message)) throw tooManyPixels(config.maxImagePixels, 'the image');
    throw error;
  }
  return labels;
}

/** Loads one batch; a failing image becomes a `Failure` naming it, never a thrown error. */
export async function loadBatch(config: WorkerConfig, request: BatchRequest): Promise<BatchResult> {
  const { copies } = config;
  const imageBytes = config.outputSize[0] * config.outputSize[1] * 3;
  const length = request.samples.length * copies * imageBytes;
  const pixels =
    request.buffer && request.buffer.byteLength >= length
      ? new Uint8Array(request.buffer, 0, length)
      : new Uint8Array(length);
  const failures: Failure[] = [];
  const settled = await Promise.all(
    request.samples.map((sample, i) =>
      transformSample(config, request.epoch, sample, pixels, i * copies).catch((error: Error) => {
        // The failure names the file already.
        const message = error.message.startsWith(`${sample.path}: `)
          ? error.message.slice(sample.path.length + 2)
          : error.message;
        failures.push({ index: sample.index, path: sample.path, message });
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
