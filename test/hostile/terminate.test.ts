// Terminating a worker thread while it is inside a native call (the loader does this on close, and
// a user's pool may do it at any time) must end only that thread. Its environment is shutting down,
// so a result or an error can no longer reach JS; the addons must drop them quietly instead of
// letting a C++ exception abort the whole process ("terminate called after throwing an instance of
// 'Napi::Error'", seen once in CI as a loader test killed by SIGABRT).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';

test('workers terminated in the middle of native calls end alone, with exit code 1', { timeout: 120_000 }, async () => {
  const jpeg = await sharp(Buffer.alloc(256 * 256 * 3, 90), { raw: { width: 256, height: 256, channels: 3 } })
    .jpeg()
    .toBuffer();
  // Each round kills a fresh worker at a different point of its loop. Built without the fix, this
  // test aborted in 5 of 5 runs (the loader test that first showed it: 5 of 40).
  for (let round = 0; round < 40; round++) {
    const worker = new Worker(new URL('./busy-native-worker.js', import.meta.url), {
      workerData: { jpeg, width: 256, height: 256 },
    });
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    // A worker that fails before it is busy is this test's failure, not a hang until the timeout.
    await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the busy worker exited with code ${code} before it started`)));
    });
    await new Promise((resolve) => setTimeout(resolve, round % 7));
    assert.equal(await worker.terminate(), 1);
    assert.equal(await exited, 1);
  }
});
