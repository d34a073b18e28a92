// Training stages read back from a pipeline's metrics.jsonl: stages one after another, named by
// their checkpoint folder; a killed stage and its resumed run as one curve; the last one still open.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stagesOf } from '../../src/explore/run.js';

describe('stages from metrics.jsonl', () => {
  it('splits, names, merges a resumed stage and keeps the open one', () => {
    const root = mkdtempSync(join(tmpdir(), 'clusterfit-stages-'));
    const step = (iteration: number, loss: number): object => ({
      event: 'train',
      iteration,
      epoch: 0,
      step: iteration,
      lr: 0.1,
      loss,
      images_per_sec: 10,
    });
    const lines = [
      step(1, 5),
      step(2, 4),
      { event: 'checkpoint', path: join(root, 'rotnet', 'model_phase0.torch') },
      step(3, 3.5),
      // killed here; the resumed run starts again from iteration 3
      step(3, 3),
      step(4, 2),
      { event: 'train_epoch', epoch: 0, loss: 2.5, accuracy: [{ top1: 40 }] },
      { event: 'train_test', epoch: 0, loss: 2.7, accuracy: [{ top1: 35 }] },
      { event: 'checkpoint', path: join(root, 'rotnet', 'model_final_checkpoint_phase0.torch') },
      { event: 'train_summary', train: [], checkpoint: join(root, 'rotnet', 'model_final_checkpoint_phase0.torch') },
      { event: 'kmeans_iteration', objective: 1 },
      step(1, 9),
      '{"event":"train","itera', // a line being written
    ];
    const file = join(root, 'metrics.jsonl');
    writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'));
    const stages = stagesOf(file, root);
    assert.deepEqual(
      stages.map((s) => [s.name, s.finished]),
      [
        ['rotnet', true],
        [`${root.split('/').pop()} (training 2)`, false],
      ],
    );
    const rotnet = stages[0]!;
    assert.deepEqual(rotnet.steps.iteration, [1, 2, 3, 4]);
    assert.deepEqual(rotnet.steps.loss, [5, 4, 3, 2], 'the resumed run replaces the points it repeats');
    assert.deepEqual(rotnet.epochs, { epoch: [0], loss: [2.5], top1: [40] });
    assert.deepEqual(rotnet.tests, { epoch: [0], loss: [2.7], top1: [35] });
    assert.deepEqual(stages[1]!.steps.loss, [9]);
  });

  it('names a stage by its stage_start line from the first line: a live or stopped attempt is never a phantom stage', () => {
    const root = mkdtempSync(join(tmpdir(), 'clusterfit-stages-'));
    const step = (iteration: number): object => ({ event: 'train', iteration, lr: 0.1, loss: 1 / iteration });
    const start = { event: 'stage_start', stage: 'train', dir: join(root, 'rotnet') };
    // Three attempts of one stage, the first two stopped before any checkpoint; then the next stage, live.
    const lines = [start, step(1), start, step(1), step(2), start, step(2), step(3)];
    lines.push(
      { event: 'train_summary', train: [] },
      { event: 'stage_start', stage: 'train', dir: join(root, 'clusterfit') },
      step(1),
    );
    const file = join(root, 'metrics.jsonl');
    writeFileSync(file, lines.map((l) => JSON.stringify(l) + '\n').join(''));
    const stages = stagesOf(file, root);
    assert.deepEqual(
      stages.map((s) => [s.name, s.finished]),
      [
        ['rotnet', true],
        ['clusterfit', false],
      ],
    );
    assert.deepEqual(stages[0]!.steps.iteration, [1, 2, 3]);
  });
});
