// A worker thread that spends its life inside native calls: JPEG decodes and geometric transforms
// in the image addon, and small tensor ops in the libtorch addon (creating handles, and errors that
// must become JS exceptions). Used by terminate.test.ts, which kills it at varied moments.
import { parentPort, workerData } from 'node:worker_threads';
import { imageAddon, transformInto } from '../../src/data/image-addon.js';
import { ones, add, sum } from '../../src/torch/index.js';

// `node --test dist/test/` also runs this file on the main thread (every file under test/ is a
// test file to it): there it has nothing to do.
if (parentPort) spin(parentPort);

function spin(port: NonNullable<typeof parentPort>): never {
  const jpeg = workerData.jpeg as Uint8Array;
  const out = new Uint8Array(64 * 64 * 3);
  const pixels = new Uint8Array(workerData.width * workerData.height * 3);
  port.postMessage('ready');
  for (;;) {
    const decoded = imageAddon().decodeJpeg(jpeg, 1, pixels);
    if (decoded?.decoded)
      transformInto(
        { data: pixels, width: decoded.width, height: decoded.height },
        [{ op: 'resize', width: 64, height: 64 }],
        out,
      );
    const a = ones([8, 8]);
    const b = add(a, a);
    sum(b).dispose();
    const mismatched = ones([3]);
    try {
      add(a, mismatched); // a shape error: raised through the native guard
    } catch {
      // expected
    }
    mismatched.dispose();
    a.dispose();
    b.dispose();
  }
}
