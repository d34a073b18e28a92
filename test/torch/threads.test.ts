// Worker threads may load the addon too: each JS thread has its own tensor handles (which is what
// lets the per-op path run without a lock), and a raw handle taken to another thread is refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import * as torch from '../../src/torch/index.js';

// Runs in the worker (CommonJS eval): uses the library there, then tries the main thread's handle.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const torch = await import(workerData.torch);
  const { native } = await import(workerData.native);
  const before = torch.memoryStats().liveTensors;
  const sum = torch.tidy(() => torch.ones([4]).add(1).sum().item());
  let foreign = 'accepted';
  try {
    native.shape(workerData.handle);
  } catch (error) {
    foreign = error.message;
  }
  const kept = torch.ones([2]); // never disposed: freed with the worker's table when it exits
  parentPort.postMessage({ sum, before, after: torch.memoryStats().liveTensors, foreign, kept: kept.numel });
})();
`;

test('a worker thread has its own handles and refuses the main thread’s', async () => {
  const mine = torch.ones([3]);
  const liveBefore = torch.memoryStats().liveTensors;
  const worker = new Worker(workerSource, {
    eval: true,
    workerData: {
      torch: new URL('../../src/torch/index.js', import.meta.url).href,
      native: new URL('../../src/torch/native.js', import.meta.url).href,
      handle: mine.handle,
    },
  });
  const result = await new Promise<Record<string, unknown>>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await new Promise((resolve) => worker.once('exit', resolve));
  assert.equal(result.sum, 8);
  assert.equal(result.before, 0, 'a new thread starts with no tensors of its own');
  assert.equal(result.after, 1);
  assert.match(String(result.foreign), /Tensor of another thread \(in shape\)/);
  // The worker's exit freed its table without touching this thread's tensors.
  assert.equal(torch.memoryStats().liveTensors, liveBefore);
  assert.deepEqual(mine.toArray(), [1, 1, 1]);
  mine.dispose();
});
