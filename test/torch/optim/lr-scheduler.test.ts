// Parameter schedules against ClassyVision/fvcore's formulas.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  compositeSchedule,
  constantSchedule,
  cosineSchedule,
  linearSchedule,
  multiStepSchedule,
  stepSchedule,
} from '../../../src/torch/optim/lr-scheduler.js';

function closeTo(actual: number, expected: number): void {
  assert.ok(Math.abs(actual - expected) < 1e-12, `${actual} != ${expected}`);
}

describe('param schedules', () => {
  it('cosine: end + (start - end)(1 + cos(pi where)) / 2', () => {
    const schedule = cosineSchedule(0.1, 0.001);
    for (const where of [0, 0.1, 0.25, 0.5, 0.9, 0.999])
      closeTo(schedule(where), 0.001 + 0.5 * 0.099 * (1 + Math.cos(Math.PI * where)));
  });

  it('linear and constant', () => {
    closeTo(linearSchedule(1, 3)(0.25), 1.5);
    closeTo(constantSchedule(0.4)(0.7), 0.4);
    assert.throws(() => constantSchedule(1)(1.5), RangeError);
  });

  it('step: values in equal parts of training', () => {
    const schedule = stepSchedule([1, 0.1, 0.01]);
    assert.deepEqual([0, 0.33, 1 / 3, 0.5, 0.66, 2 / 3, 0.99].map(schedule), [1, 1, 0.1, 0.1, 0.1, 0.01, 0.01]);
  });

  it('multistep: milestones in epochs out of numEpochs, bisect_right, equispaced by default', () => {
    const schedule = multiStepSchedule({ values: [1, 0.1, 0.01, 0.001], numEpochs: 120, milestones: [30, 60, 80] });
    const at = (epoch: number): number => schedule(epoch / 120);
    assert.deepEqual([0, 29, 30, 59, 60, 79, 80, 119].map(at), [1, 1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001]);
    // Default milestones: ceil(10 / 3) = 4 -> [4, 8].
    const equispaced = multiStepSchedule({ values: [1, 2, 3], numEpochs: 10 });
    assert.deepEqual(
      [0, 3, 4, 7, 8, 9].map((e) => equispaced(e / 10)),
      [1, 1, 2, 2, 3, 3],
    );
    assert.throws(() => multiStepSchedule({ values: [1, 2], numEpochs: 10, milestones: [10] }), /milestones/);
  });

  it('composite: rescaled parts run their own [0, 1), fixed parts the global where', () => {
    const warmupThenCosine = compositeSchedule({
      schedules: [linearSchedule(0, 1), cosineSchedule(1, 0)],
      lengths: [0.2, 0.8],
      intervalScaling: ['rescaled', 'fixed'],
    });
    closeTo(warmupThenCosine(0.1), 0.5);
    closeTo(warmupThenCosine(0.6), 0.5 * (1 + Math.cos(Math.PI * 0.6)));
    const bothRescaled = compositeSchedule({
      schedules: [constantSchedule(0.42), cosineSchedule(0.42, 0.0001)],
      lengths: [0.3, 0.7],
    });
    closeTo(bothRescaled(0.29), 0.42);
    closeTo(bothRescaled(0.3), 0.42);
    closeTo(bothRescaled(0.65), 0.0001 + 0.5 * (0.42 - 0.0001) * (1 + Math.cos(Math.PI * 0.5)));
    assert.throws(() => compositeSchedule({ schedules: [constantSchedule(1)], lengths: [0.9] }), /sum to 1/);
  });
});
