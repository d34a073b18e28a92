// A loader worker thread: loads the batches it is sent (batch.ts) and hands them back transferred,
// not copied. A batch that fails as a whole (not one image: e.g. its buffer cannot be allocated)
// is answered with the error, so the loader reports it instead of waiting or dying.
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { loadBatch } from './batch.js';
import type { BatchRequest, WorkerConfig, WorkerReply } from './protocol.js';

const config = workerData as WorkerConfig;
// Parallelism comes from many images at once, not from threads inside one image's operations.
sharp.concurrency(1);
// Every image is seen once per epoch: libvips' operation cache would only hold memory.
sharp.cache(false);

parentPort?.on('message', (request: BatchRequest) => {
  loadBatch(config, request).then(
    (result) => {
      const transfer = [
        result.pixels,
        result.indices.buffer,
        result.copies.buffer,
        result.labels.buffer,
      ] as ArrayBuffer[];
      parentPort?.postMessage(result satisfies WorkerReply, transfer);
    },
    (error: unknown) => {
      parentPort?.postMessage({
        id: request.id,
        error: (error as Error).message ?? String(error),
      } satisfies WorkerReply);
    },
  );
});
