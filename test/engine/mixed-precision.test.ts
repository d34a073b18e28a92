// MODEL.AMP_PARAMS from config to the training step: apex settings mapped with warnings that say
// what runs instead, the step under autocast with a GradScaler, and the scaler's state carried
// through a checkpoint so a resumed run continues the same scale sequence.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from '../../src/engine/checkpoint.js';
import { RunLogger } from '../../src/engine/run-logger.js';
import { trainStep, type MixedPrecision } from '../../src/engine/train-step.js';
import {
  mixedPrecisionForInference,
  mixedPrecisionForTraining,
  restoreScaler,
  scalerCheckpointFields,
} from '../../src/tasks/mixed-precision.js';
import {
  amp,
  backends,
  functional as F,
  manualSeed,
  randint,
  randn,
  tidy,
  type Tensor,
} from '../../src/torch/index.js';
import * as nn from '../../src/torch/nn/index.js';
import { SGD } from '../../src/torch/optim/index.js';

const dir = mkdtempSync(join(tmpdir(), 'clusterfit-amp-'));
after(() => rmSync(dir, { recursive: true, force: true }));

class TinyModel extends nn.Module {
  readonly trunk = this.registerModule('trunk', new nn.Linear(8, 8));
  readonly heads = this.registerModule('heads', new nn.Linear(8, 3));
  override forward(x: Tensor): Tensor {
    return this.heads.call(this.trunk.call(x).relu());
  }
}

function quietLogger(): { logger: RunLogger; warnings: string[] } {
  const warnings: string[] = [];
  const logger = new RunLogger({ quiet: true, progressBar: false });
  logger.warn = (message: string) => void warnings.push(message);
  return { logger, warnings };
}

const config = (overrides: string[]) =>
  loadConfig({ config: 'demo/rotnet', overrides: ['config.MACHINE.DEVICE=cpu', ...overrides], warn: () => {} });

describe('MODEL.AMP_PARAMS', () => {
  it('is off by default and for apex opt_level O0; on CPU autocast is bfloat16 without a scaler', () => {
    const { logger, warnings } = quietLogger();
    assert.equal(mixedPrecisionForTraining(config([]), 'cpu', logger), null);
    assert.equal(
      mixedPrecisionForTraining(
        config(['config.MODEL.AMP_PARAMS.USE_AMP=True', 'config.MODEL.AMP_PARAMS.AMP_ARGS={opt_level: O0}']),
        'cpu',
        logger,
      ),
      null,
    );
    assert.match(warnings.join('\n'), /O0 .*AMP is off/);
    const mixed = mixedPrecisionForTraining(config(['config.MODEL.AMP_PARAMS.USE_AMP=True']), 'cpu', logger);
    assert.deepEqual(mixed, { deviceType: 'cpu', dtype: 'bfloat16', scaler: null });
    assert.equal(mixedPrecisionForInference(config([]), 'cpu'), null);
    assert.equal(
      mixedPrecisionForInference(config(['config.MODEL.AMP_PARAMS.USE_AMP_FOR_INFERENCE=True']), 'cpu')?.dtype,
      'bfloat16',
    );
  });

  it("runs VISSL's apex as PyTorch AMP and says so; O2/O3 and apex-only options are named", () => {
    const { logger, warnings } = quietLogger();
    const cfg = config([
      'config.MODEL.AMP_PARAMS.USE_AMP=True',
      'config.MODEL.AMP_PARAMS.AMP_TYPE=apex',
      'config.MODEL.AMP_PARAMS.AMP_ARGS={opt_level: O2, keep_batchnorm_fp32: True}',
    ]);
    assert.ok(mixedPrecisionForTraining(cfg, 'cpu', logger));
    const text = warnings.join('\n');
    assert.match(text, /AMP_TYPE is 'apex'.*running PyTorch's native AMP/);
    assert.match(text, /opt_level O2 \(float16 weights with float32 master weights\) runs as O1/);
    assert.match(text, /keep_batchnorm_fp32 are apex options with no effect here/);
    assert.throws(
      () =>
        mixedPrecisionForTraining(
          config(['config.MODEL.AMP_PARAMS.USE_AMP=True', 'config.MODEL.AMP_PARAMS.AMP_ARGS={opt_level: O4}']),
          'cpu',
          logger,
        ),
      /AMP_ARGS.opt_level must be O0, O1, O2 or O3/,
    );
    assert.throws(
      () =>
        mixedPrecisionForTraining(
          config(['config.MODEL.AMP_PARAMS.USE_AMP=True', 'config.MODEL.AMP_PARAMS.DTYPE=float16']),
          'cpu',
          logger,
        ),
      /DTYPE is float16 but MACHINE.DEVICE is cpu/,
    );
  });

  it("MACHINE speed switches default to PyTorch's and reach ATen's flags", () => {
    const cfg = config([]);
    assert.deepEqual(
      [cfg.MACHINE.CUDNN_BENCHMARK, cfg.MACHINE.ALLOW_TF32_MATMUL, cfg.MACHINE.ALLOW_TF32_CONV],
      [false, false, true],
    );
    const before = backends.flags();
    backends.withFlags({ cudnnBenchmark: true, allowTF32Matmul: true }, () => {
      assert.equal(backends.flags().cudnnBenchmark, true);
      assert.equal(backends.flags().allowTF32Matmul, true);
    });
    assert.deepEqual(backends.flags(), before);
  });
});

describe('AMP training steps and checkpoints', () => {
  it('the GradScaler state survives a checkpoint and resume: both runs continue the same scale sequence', () => {
    manualSeed(0);
    const model = new TinyModel();
    const optimizer = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const loss = (outputs: Tensor[], target: Tensor) => F.crossEntropy(outputs[0]!, target);
    const makeMixed = (): MixedPrecision => ({
      deviceType: 'cpu',
      dtype: 'bfloat16',
      // A scaler on CPU (PyTorch uses none with bfloat16): it exercises the same bookkeeping as on CUDA.
      scaler: new amp.GradScaler({ device: 'cpu', initScale: 256, growthInterval: 2 }),
    });
    const mixed = makeMixed();
    const x = randn([16, 8]);
    const y = randint(0, 3, [16]);
    const step = (m: MixedPrecision) => tidy(() => trainStep({ model, loss, optimizer, mixed: m }, x, y).stepped);
    assert.deepEqual([step(mixed), step(mixed), step(mixed)], [true, true, true]);
    assert.deepEqual(mixed.scaler!.stateDict(), {
      scale: 512,
      growth_factor: 2,
      backoff_factor: 0.5,
      growth_interval: 2,
      _growth_tracker: 1,
    });
    const path = saveTrainingCheckpoint(dir, {
      model,
      optimizer,
      epoch: 0,
      iteration: 3,
      extra: { next_epoch: 0, step: 3, ...scalerCheckpointFields(mixed) },
    });
    const checkpoint = loadTrainingCheckpoint(path);
    const resumed = makeMixed();
    const { logger } = quietLogger();
    restoreScaler(resumed, checkpoint.extra, logger);
    checkpoint.dispose();
    assert.deepEqual(resumed.scaler!.stateDict(), mixed.scaler!.stateDict());
    step(mixed);
    step(resumed);
    assert.equal(mixed.scaler!.getScale(), 1024);
    assert.deepEqual(resumed.scaler!.stateDict(), mixed.scaler!.stateDict());
    mixed.scaler!.dispose();
    resumed.scaler!.dispose();
    optimizer.dispose();
    model.dispose();
  });

  it('an inf gradient skips the optimizer step and backs the scale off', () => {
    const model = new TinyModel();
    const optimizer = new SGD(model.parameters(), { lr: 0.1 });
    const mixed: MixedPrecision = {
      deviceType: 'cpu',
      dtype: 'bfloat16',
      scaler: new amp.GradScaler({ device: 'cpu' }),
    };
    const before = model.heads.weight.toArray();
    const poisoned = (outputs: Tensor[], target: Tensor) => F.crossEntropy(outputs[0]!, target).mul(Infinity);
    const stepped = tidy(
      () => trainStep({ model, loss: poisoned, optimizer, mixed }, randn([4, 8]), randint(0, 3, [4])).stepped,
    );
    assert.equal(stepped, false);
    assert.deepEqual(model.heads.weight.toArray(), before);
    assert.equal(mixed.scaler!.getScale(), 32768);
    mixed.scaler!.dispose();
    optimizer.dispose();
    model.dispose();
  });
});
