// VISSL's effective LR for the shipped configs, with the worked values of the reference
// (reference/vissl-clusterfit.md, section 1b and 1c).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  VisslLrSchedule,
  inferLearningRate,
  type LrSchedulerConfig,
  type RunSetup,
} from '../../src/engine/lr-schedule.js';

const MULTISTEP = {
  name: 'multistep',
  values: [0.1, 0.01, 0.001, 0.0001, 0.00001],
  milestones: [30, 60, 90, 100],
} as const;
const AUTO_SCALE = { auto_scale: true, base_value: 0.1, base_lr_batch_size: 256 };

/** clusterfit_resnet_8gpu_imagenet.yaml's OPTIMIZER.param_schedulers.lr. */
const CLUSTERFIT: LrSchedulerConfig = {
  name: 'composite',
  auto_lr_scaling: AUTO_SCALE,
  schedulers: [
    { name: 'linear', start_value: 0.25, end_value: 0.1 },
    { ...MULTISTEP, values: [...MULTISTEP.values], milestones: [...MULTISTEP.milestones] },
  ],
  update_interval: 'epoch',
  interval_scaling: ['rescaled', 'fixed'],
  lengths: [0.047619, 0.952381],
};

/** rotnet_8gpu_resnet.yaml's OPTIMIZER.param_schedulers.lr. */
const ROTNET: LrSchedulerConfig = {
  ...MULTISTEP,
  values: [...MULTISTEP.values],
  milestones: [...MULTISTEP.milestones],
  auto_lr_scaling: AUTO_SCALE,
  update_interval: 'epoch',
};

const ONE_NODE: RunSetup = { numNodes: 1, numProcPerNode: 8, batchSizePerReplica: 32, numEpochs: 105 };
const EIGHT_NODES: RunSetup = { ...ONE_NODE, numNodes: 8 };

function stepDecay(scaled: number, epoch: number): number {
  const drops = [30, 60, 90, 100].filter((m) => m <= epoch).length;
  return Number((scaled * 0.1 ** drops).toFixed(8));
}

function closeTo(actual: number, expected: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= 1e-12 + 1e-9 * Math.abs(expected),
    `${what}: ${actual}, expected ${expected}`,
  );
}

describe('VISSL LR schedule', () => {
  it('ClusterFit on 1 node x 8 GPUs x 32: warmup deleted, 0.1 / 0.01 / 1e-3 / 1e-4 / 1e-5', () => {
    const schedule = new VisslLrSchedule(CLUSTERFIT, ONE_NODE);
    assert.equal(schedule.resolved.name, 'multistep');
    assert.deepEqual(schedule.resolved.values, [0.1, 0.01, 0.001, 0.0001, 0.00001]);
    assert.equal(schedule.updateInterval, 'epoch');
    const expected = (epoch: number): number =>
      epoch < 30 ? 0.1 : epoch < 60 ? 0.01 : epoch < 90 ? 1e-3 : epoch < 100 ? 1e-4 : 1e-5;
    for (let epoch = 0; epoch < 105; epoch++) closeTo(schedule.lrAt({ epoch }), expected(epoch), `epoch ${epoch}`);
    // Epoch updates: the LR does not move inside an epoch.
    closeTo(schedule.lrAt({ epoch: 29, iteration: 4999, iterationsPerEpoch: 5000 }), 0.1, 'end of epoch 29');
    assert.deepEqual(
      CLUSTERFIT.schedulers![0],
      { name: 'linear', start_value: 0.25, end_value: 0.1 },
      'the input config is not modified',
    );
  });

  it('ClusterFit on 8 nodes: warmup 0.1 -> 0.8 over 5 epochs, then 0.8 x 0.1^k at global epochs 30/60/90/100', () => {
    const schedule = new VisslLrSchedule(CLUSTERFIT, EIGHT_NODES);
    const [warmup, steps] = schedule.resolved.schedulers!;
    assert.deepEqual(warmup, { name: 'linear', start_value: 0.1, end_value: 0.8 });
    assert.deepEqual(steps!.values, [0.8, 0.08, 0.008, 0.0008, 0.00008]);
    // The warmup is rescaled onto its 5 epochs (0.047619 x 105): epoch e starts at where = e / 5.
    for (let epoch = 0; epoch < 5; epoch++) {
      const where = epoch / 105 / 0.047619;
      closeTo(schedule.lrAt({ epoch }), 0.1 + (0.8 - 0.1) * where, `warmup epoch ${epoch}`);
    }
    for (let epoch = 5; epoch < 105; epoch++)
      closeTo(schedule.lrAt({ epoch }), stepDecay(0.8, epoch), `epoch ${epoch}`);
  });

  it('RotNet on 1 node: the multistep values scaled for the batch (and sqrt scaling)', () => {
    const schedule = new VisslLrSchedule(ROTNET, ONE_NODE);
    for (const epoch of [0, 29, 30, 59, 60, 89, 90, 99, 100, 104])
      closeTo(schedule.lrAt({ epoch }), stepDecay(0.1, epoch), `epoch ${epoch}`);
    const big = new VisslLrSchedule(ROTNET, { ...ONE_NODE, batchSizePerReplica: 64 });
    assert.deepEqual(big.resolved.values, [0.2, 0.02, 0.002, 0.0002, 0.00002]);
    const sqrt = inferLearningRate(
      { ...ROTNET, auto_lr_scaling: { ...AUTO_SCALE, scaling_type: 'sqrt' } },
      { ...ONE_NODE, batchSizePerReplica: 128 },
    );
    assert.deepEqual(sqrt.values, [0.2, 0.02, 0.002, 0.0002, 0.00002]);
  });

  it('step updates move the LR inside an epoch (linear warmup + cosine, VISSL docs example)', () => {
    const config: LrSchedulerConfig = {
      name: 'composite',
      auto_lr_scaling: { auto_scale: true, base_value: 0.3, base_lr_batch_size: 256 },
      schedulers: [
        { name: 'linear', start_value: 0.6, end_value: 4.8 },
        { name: 'cosine', start_value: 4.8, end_value: 0.0048 },
      ],
      interval_scaling: ['rescaled', 'fixed'],
      update_interval: 'step',
      lengths: [0.1, 0.9],
    };
    const setup: RunSetup = { numNodes: 2, numProcPerNode: 8, batchSizePerReplica: 64, numEpochs: 10 };
    const schedule = new VisslLrSchedule(config, setup);
    const scaled = 0.3 * ((64 * 16) / 256); // 1.2
    const start = 0.3 * ((64 * 8) / 256); // per node: 0.6
    assert.equal(schedule.updateInterval, 'step');
    const iterationsPerEpoch = 100;
    // The warmup covers epoch 0 (10% of 10 epochs), rescaled: where within it = iteration / 100.
    for (const iteration of [0, 1, 37, 99]) {
      closeTo(
        schedule.lrAt({ epoch: 0, iteration, iterationsPerEpoch }),
        start + (scaled - start) * (iteration / 100),
        `warmup step ${iteration}`,
      );
    }
    // Then the cosine runs on the global where ('fixed'), from scaled to scaled x 0.001.
    for (const [epoch, iteration] of [
      [1, 0],
      [4, 50],
      [9, 99],
    ] as const) {
      const where = (epoch * 100 + iteration) / 1000;
      const end = scaled * (0.0048 / 4.8);
      closeTo(
        schedule.lrAt({ epoch, iteration, iterationsPerEpoch }),
        end + 0.5 * (scaled - end) * (1 + Math.cos(Math.PI * where)),
        `epoch ${epoch} step ${iteration}`,
      );
    }
  });

  it('without auto scaling the config is used as written, and constant schedules scale to the LR', () => {
    const plain = new VisslLrSchedule(
      { ...ROTNET, auto_lr_scaling: { ...AUTO_SCALE, auto_scale: false }, values: [0.5, 0.05, 0.005, 0.0005, 0.00005] },
      ONE_NODE,
    );
    closeTo(plain.lrAt({ epoch: 0 }), 0.5, 'epoch 0');
    closeTo(plain.lrAt({ epoch: 100 }), 0.00005, 'epoch 100');
    const constant = inferLearningRate({ name: 'constant', value: 3, auto_lr_scaling: AUTO_SCALE }, EIGHT_NODES);
    assert.equal(constant.value, 0.8);
  });

  it('a run shortened below the milestones trains with the values it reaches', () => {
    const short = new VisslLrSchedule(ROTNET, { ...ONE_NODE, numEpochs: 1 });
    closeTo(short.lrAt({ epoch: 0 }), 0.1, 'epoch 0 of 1');
    const mid = new VisslLrSchedule(ROTNET, { ...ONE_NODE, numEpochs: 40 });
    closeTo(mid.lrAt({ epoch: 29 }), 0.1, 'epoch 29 of 40');
    closeTo(mid.lrAt({ epoch: 39 }), 0.01, 'epoch 39 of 40');
  });
});
