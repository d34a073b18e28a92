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
      imagesPerEpoch: 44 * 64,
      batchSize: 64,
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
      imagesPerEpoch: 100,
      batchSize: 10,
      imagesThisRun: 50,
      seconds: 5,
    });
    assert.deepEqual(p, { imagesDone: 250, imagesTotal: 400, rate: 10, etaSeconds: 15 });
  });

  it('counts exactly when the last batch is smaller: 1400 images in 44 steps of 32 is 1400, not 1408', () => {
    const at = (epoch: number, step: number) =>
      runProgress({
        epoch,
        step,
        stepsPerEpoch: 44,
        numEpochs: 2,
        imagesPerEpoch: 1400,
        batchSize: 32,
        imagesThisRun: 1,
        seconds: 1,
      });
    assert.deepEqual([at(0, 43).imagesDone, at(0, 44).imagesDone, at(1, 0).imagesDone], [1376, 1400, 1400]);
    assert.equal(at(1, 44).imagesDone, 2800);
    // The total never moves within a run (it jumped from 42240 to 42000 at each epoch end).
    assert.deepEqual(new Set([at(0, 1), at(0, 44), at(1, 3)].map((p) => p.imagesTotal)), new Set([2800]));
  });

  it('has no ETA before any time has passed', () => {
    const p = runProgress({
      epoch: 0,
      step: 0,
      stepsPerEpoch: 1,
      numEpochs: 1,
      imagesPerEpoch: 1,
      batchSize: 1,
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
