// The whole pipeline's ETA: every stage's work in images, counted from the configs, timed by the
// rates measured so far (a forward pass alone taken as 3 times a training step until measured).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Config } from '../../src/config/index.js';
import { RunLogger, type ProgressEvent } from '../../src/engine/run-logger.js';
import { PipelineEstimate, pipelineWork, workKind } from '../../src/tasks/pipeline-estimate.js';

/** The fields of a training config the estimate reads. */
function trainingConfig(epochs: number, test: boolean, every: number): Config {
  return {
    OPTIMIZER: { num_epochs: epochs },
    TEST_MODEL: test,
    TEST_EVERY_NUM_EPOCH: every,
    DATA: { TEST: { DATA_PATHS: ['test'] } },
  } as unknown as Config;
}

function event(label: string, rate: number, etaSeconds: number): ProgressEvent {
  return { label, done: 1, total: 2, rate, unit: 'img', etaSeconds };
}

describe('pipeline estimate', () => {
  it("counts each stage's images and adds the later stages to the current one's ETA", () => {
    // 3 epochs testing every 2 test twice (after epochs 2 and 3); ClusterFit does not test.
    const work = pipelineWork(
      { pretrain: trainingConfig(3, true, 2), train: trainingConfig(2, false, 1) },
      { train: 100, test: 20 },
    );
    assert.deepEqual(work, [
      { stage: 'pretrain', train: 300, forward: 40 },
      { stage: 'cluster', train: 0, forward: 120 },
      { stage: 'train', train: 200, forward: 0 },
      { stage: 'evaluate random', train: 0, forward: 120 },
      { stage: 'evaluate rotnet', train: 0, forward: 120 },
      { stage: 'evaluate clusterfit', train: 0, forward: 120 },
    ]);
    const estimate = new PipelineEstimate(work);
    assert.equal(estimate.etaSeconds(), Infinity, 'no rate measured yet');

    estimate.start('pretrain');
    // Training at 10 img/s; forward passes not measured yet: 3 x 10.
    assert.equal(estimate.observe(event('train epoch 1/3', 10, 25)), 25 + 120 / 30 + 200 / 10 + (3 * 120) / 30);

    estimate.start('cluster');
    // Extraction measured at 60 img/s: the evaluations follow it.
    assert.equal(estimate.observe(event('extract train', 60, 2)), 2 + 200 / 10 + (3 * 120) / 60);

    estimate.start('evaluate clusterfit');
    assert.equal(estimate.observe(event('extract test', 60, 0.5)), 0.5, 'the last stage: its own ETA');
  });

  it('tells training steps from forward passes by their progress labels', () => {
    assert.equal(workKind('train epoch 2/30'), 'train');
    assert.equal(workKind('train test after epoch 2'), 'forward');
    assert.equal(workKind('extract train'), 'forward');
  });

  it("puts the run's ETA on the logger's progress events while an estimate is set", () => {
    const events: ProgressEvent[] = [];
    const logger = new RunLogger({ quiet: true, onProgress: (e) => events.push(e) });
    logger.setRunEstimate((e) => e.etaSeconds + 100);
    logger.progress('train epoch 1/1', 5, 10, 2.5, 'img');
    logger.setRunEstimate(undefined);
    logger.progress('train epoch 1/1', 6, 10, 2.5, 'img');
    assert.equal(events[0]?.runEtaSeconds, 102);
    assert.equal('runEtaSeconds' in (events[1] ?? {}), false);
  });
});
