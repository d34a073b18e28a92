// A loader worker thread: reads, decodes and geometrically transforms the images of one batch and
// hands back one contiguous HWC uint8 buffer (transferred, not copied) plus per-output metadata.
import { readFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { decodeAndTransform, probe } from './geometry.js';
import { Rng, Stream } from './rng.js';
import { planGeometry } from './transforms.js';
import type { BatchRequest, BatchResult, Failure, WorkerConfig } from './protocol.js';

const config = workerData as WorkerConfig;
const [outH, outW] = config.outputSize;
const imageBytes = outH * outW * 3;
// Parallelism comes from many images at once, not from threads inside one image's operations.
sharp.concurrency(1);
// Every image is seen once per epoch: libvips' operation cache would only hold memory.
sharp.cache(false);

/** The outputs of one sample: `copies` transformed images, each with its label. */
async function transformSample(
  epoch: number,
  sample: BatchRequest['samples'][number],
): Promise<{ copy: number; label: number; data: Buffer }[]> {
  const bytes = await readFile(sample.path);
  if (bytes.length === 0) throw new Error('empty file (0 bytes)');
  const probed = await probe(bytes);
  return Promise.all(
    Array.from({ length: config.copies }, async (_, copy) => {
      const rng = new Rng(config.seed, epoch, sample.index, Stream.Geometric, copy);
      const { ops, label } = planGeometry(config.geometric, probed.height, probed.width, rng, copy);
      const image = await decodeAndTransform(bytes, probed, ops, config.shrinkOnLoad);
      if (image.width !== outW || image.height !== outH)
        throw new Error(`transformed to ${image.width}x${image.height}, expected ${outW}x${outH}`);
      return { copy, label: label ?? sample.label, data: image.data };
    }),
  );
}

async function run(request: BatchRequest): Promise<BatchResult> {
  const failures: Failure[] = [];
  const settled = await Promise.all(
    request.samples.map((sample) =>
      transformSample(request.epoch, sample).catch((error: Error) => {
        failures.push({ index: sample.index, path: sample.path, message: error.message });
        return [];
      }),
    ),
  );
  const count = settled.reduce((n, outputs) => n + outputs.length, 0);
  const pixels = new Uint8Array(count * imageBytes);
  const indices = new Int32Array(count);
  const copies = new Uint8Array(count);
  const labels = new Float64Array(count);
  let at = 0;
  settled.forEach((outputs, i) => {
    for (const output of outputs) {
      pixels.set(output.data, at * imageBytes);
      indices[at] = request.samples[i]?.index as number;
      copies[at] = output.copy;
      labels[at] = output.label;
      at++;
    }
  });
  return { id: request.id, pixels: pixels.buffer, indices, copies, labels, failures };
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
