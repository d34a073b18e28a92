// The whole-run ETA counts images and every epoch still to come; the logger says each warning
// once, sends messages where the caller asks and reports progress to a callback.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runProgress } from '../../src/engine/progress.js';
import { RunLogger, type ProgressEvent } from '../../src/engine/run-logger.js';

describe('runProgress', () => {
  it("counts images over the whole run: the issue's `3/44 122 img/s ETA 0s` case", () => {
    // Epoch 1 of 1, step 3 of 44 with 64 images a step, 192 images in 1.57 s (122 img/s).
    const p = runProgress({
      epoch: 0,
      step: 3,
      stepsPerEpoch: 44,
      numEpochs: 1,
      imagesPerStep: 64,
      imagesThisRun: 192,
      seconds: 192 / 122,
    });
    assert.equal(p.imagesDone, 192);
    assert.equal(p.imagesTotal, 44 * 64);
    assert.ok(Math.abs(p.rate - 122) < 1e-9);
    assert.ok(Math.abs(p.etaSeconds - ((44 - 3) * 64) / 122) < 1e-9); // 21.5 s, not 0 s
  });

  it('includes the epochs still to come, and a resumed run measures its rate from where it resumed', () => {
    // Resumed at epoch 2 of 4 (10 steps of 10 images), 5 steps done since: 50 images in 5 s.
    const p = runProgress({
      epoch: 2,
      step: 5,
      stepsPerEpoch: 10,
      numEpochs: 4,
      imagesPerStep: 10,
      imagesThisRun: 50,
      seconds: 5,
    });
    assert.deepEqual(p, { imagesDone: 250, imagesTotal: 400, rate: 10, etaSeconds: 15 });
  });

  it('has no ETA before any time has passed', () => {
    const p = runProgress({
      epoch: 0,
      step: 0,
      stepsPerEpoch: 1,
      numEpochs: 1,
      imagesPerStep: 1,
      imagesThisRun: 0,
      seconds: 0,
    });
    assert.equal(p.etaSeconds, Infinity);
  });
});

describe('RunLogger', () => {
  it('says a warning once, to the messages function the caller gave, and reports progress', () => {
    const lines: string[] = [];
    const events: ProgressEvent[] = [];
    const logger = new RunLogger({ messages: (line) => lines.push(line), onProgress: (e) => events.push(e) });
    logger.warn('OpenBLAS is slow');
    logger.warn('OpenBLAS is slow');
    logger.info('hello');
    logger.progress('train epoch 1/1', 5, 10, 2.5, 'img');
    assert.deepEqual(lines, ['warning: OpenBLAS is slow', 'hello']);
    assert.deepEqual(events, [{ label: 'train epoch 1/1', done: 5, total: 10, rate: 2.5, unit: 'img', etaSeconds: 2 }]);
  });
});
