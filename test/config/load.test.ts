// Loading configs: every shipped config, the override syntax, the errors a user meets (unknown
// keys, wrong types, unknown config names), VISSL's old names, the YAML layouts VISSL writes, and
// the LR schedule the engine computes from the shipped ClusterFit config.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableConfigs, configToYaml, ConfigError, loadConfig, lrRunSetup } from '../../src/config/index.js';
import { VisslLrSchedule } from '../../src/engine/lr-schedule.js';

const CLUSTERFIT = 'pretrain/clusterfit/clusterfit_resnet_8gpu_imagenet';
const CLUSTER_FEATURES = 'pretrain/clusterfit/cluster_features_resnet_8gpu_imagenet';

const dir = mkdtempSync(join(tmpdir(), 'clusterfit-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function writeYaml(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Loads with warnings collected instead of printed. */
function load(config: string, overrides: string[] = []): { cfg: ReturnType<typeof loadConfig>; warnings: string[] } {
  const warnings: string[] = [];
  const cfg = loadConfig({ config, overrides, warn: (message) => warnings.push(message) });
  return { cfg, warnings };
}

/** The ConfigError message of a load that must fail. */
function failure(config: string, overrides: string[] = []): string {
  try {
    load(config, overrides);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.message;
  }
  assert.fail(`config ${config} ${overrides.join(' ')} loaded, expected an error`);
}

describe('shipped configs', () => {
  const names = availableConfigs();

  it('lists the VISSL, CIFAR-10 and demo configs', () => {
    for (const name of [
      'pretrain/rotnet/rotnet_8gpu_resnet',
      CLUSTER_FEATURES,
      CLUSTERFIT,
      'benchmark/linear_image_classification/imagenet1k/eval_resnet_8gpu_transfer_in1k_linear',
      'cifar10/rotnet_resnet20',
      'cifar10/cluster_features',
      'cifar10/clusterfit_resnet20',
      'cifar10/linear_eval',
      'demo/rotnet',
      'demo/cluster_features',
      'demo/clusterfit',
      'demo/linear_eval',
    ]) {
      assert.ok(names.includes(name), `${name} is shipped`);
    }
    assert.ok(!names.includes('defaults'), 'defaults.yaml is not a runnable config');
  });

  for (const name of names) {
    it(`${name} loads without warnings, is frozen, and its LR schedule builds`, () => {
      const { cfg, warnings } = load(name);
      // The ImageNet RotNet config keeps VISSL's transform order (to reproduce VISSL), so it warns about it.
      if (name === 'pretrain/rotnet/rotnet_8gpu_resnet') {
        assert.equal(warnings.length, 1);
        assert.match(warnings[0]!, /flips after ImgRotatePil.*Put RandomHorizontalFlip before ImgRotatePil/);
      } else {
        assert.deepEqual(warnings, []);
      }
      assert.ok(Object.isFrozen(cfg) && Object.isFrozen(cfg.DATA.TRAIN.TRANSFORMS));
      const schedule = new VisslLrSchedule(cfg.OPTIMIZER.param_schedulers.lr, lrRunSetup(cfg));
      for (let epoch = 0; epoch < cfg.OPTIMIZER.num_epochs; epoch++) {
        const lr = schedule.lrAt({ epoch });
        assert.ok(lr > 0 && lr <= 1, `${name}: epoch ${epoch} LR ${lr}`);
      }
    });
  }

  it('CIFAR and demo configs use the CIFAR ResNet and its flatten layer; the stages chain by path', () => {
    for (const prefix of ['cifar10', 'demo']) {
      const configs = names.filter((n) => n.startsWith(`${prefix}/`)).map((n) => load(n).cfg);
      for (const cfg of configs) assert.equal(cfg.MODEL.TRUNK.NAME, 'cifar_resnet');
      const cluster = load(`${prefix}/cluster_features`).cfg;
      const clusterfit = load(`${prefix}/clusterfit${prefix === 'cifar10' ? '_resnet20' : ''}`).cfg;
      const { NUM_CLUSTERS, OUTPUT_DIR, FEATURES } = cluster.CLUSTERFIT;
      assert.equal(FEATURES.LAYER_NAME, 'flatten');
      const stem = `${OUTPUT_DIR}/${FEATURES.DATASET_NAME}_train_flatten_N${NUM_CLUSTERS}_D64`;
      assert.deepEqual(clusterfit.DATA.TRAIN.DATA_PATHS, [`${stem}_images.npy`]);
      assert.deepEqual(clusterfit.DATA.TRAIN.LABEL_PATHS, [`${stem}_labels.npy`]);
      assert.deepEqual(clusterfit.MODEL.HEAD.PARAMS, [['mlp', { dims: [64, NUM_CLUSTERS] }]]);
    }
    const demo = names.filter((n) => n.startsWith('demo/')).map((n) => load(n).cfg);
    for (const cfg of demo) {
      assert.equal(cfg.MACHINE.DEVICE, 'cpu');
      assert.equal(cfg.DATA.NUM_DATALOADER_WORKERS, 2);
      // The demo's time budget: minutes on 2 CPU cores for 1,400 training images.
      if (cfg.ENGINE_NAME === 'train') assert.ok(cfg.OPTIMIZER.num_epochs <= 30);
    }
  });

  it('the VISSL configs carry the reference values', () => {
    const cluster = load(CLUSTER_FEATURES).cfg;
    assert.equal(cluster.ENGINE_NAME, 'cluster_features');
    assert.deepEqual(
      { ...cluster.CLUSTERFIT, FEATURES: { ...cluster.CLUSTERFIT.FEATURES } },
      {
        OUTPUT_DIR: '.',
        NUM_ITER: 50,
        NUM_CLUSTERS: 16000,
        DATA_LIMIT: -1,
        DATA_LIMIT_SAMPLING: { SEED: 0 },
        CLUSTER_BACKEND: 'faiss',
        FEATURES: {
          EXTRACT: false,
          PATH: '.',
          DATA_PARTITION: 'TRAIN',
          TEST_PARTITION: 'TEST',
          DATASET_NAME: 'imagenet1k',
          LAYER_NAME: 'res5',
          DIMENSIONALITY_REDUCTION: 0,
        },
      },
    );
    assert.deepEqual(cluster.MODEL.WEIGHTS_INIT.SKIP_LAYERS, ['num_batches_tracked', 'heads']);
    assert.equal(cluster.MODEL.WEIGHTS_INIT.STATE_DICT_KEY_NAME, 'classy_state_dict');

    const fit = load(CLUSTERFIT).cfg;
    assert.equal(fit.SEED_VALUE, 1);
    assert.equal(fit.TEST_MODEL, false);
    assert.deepEqual(fit.MODEL.HEAD.PARAMS, [['mlp', { dims: [2048, 16000] }]]);
    assert.equal(fit.LOSS.name, 'cross_entropy_multiple_output_single_target');
    assert.equal(fit.LOSS.cross_entropy_multiple_output_single_target.ignore_index, -1);
    assert.equal(fit.LOSS.cross_entropy_multiple_output_single_target.label_smoothing, 0);
    const { OPTIMIZER } = fit;
    assert.deepEqual(
      [
        OPTIMIZER.momentum,
        OPTIMIZER.nesterov,
        OPTIMIZER.weight_decay,
        OPTIMIZER.regularize_bn,
        OPTIMIZER.regularize_bias,
      ],
      [0.9, false, 1e-4, false, true],
    );
    assert.equal(fit.DATA.TRAIN.DROP_LAST, false);
    assert.equal(fit.DATA.TRAIN.COLLATE_FUNCTION, 'default_collate');

    const rotnet = load('pretrain/rotnet/rotnet_8gpu_resnet').cfg;
    assert.equal(rotnet.DATA.TRAIN.TRANSFORMS[0]!.name, 'ImgRotatePil', 'rotation before the crop');
    assert.equal(rotnet.TEST_EVERY_NUM_EPOCH, 5);

    const linear = load('benchmark/linear_image_classification/imagenet1k/eval_resnet_8gpu_transfer_in1k_linear').cfg;
    assert.equal(linear.OPTIMIZER.nesterov, true);
    assert.equal(linear.OPTIMIZER.weight_decay, 5e-4);
    assert.equal(linear.OPTIMIZER.num_epochs, 28);
    assert.deepEqual(linear.OPTIMIZER.param_schedulers.lr.milestones, [8, 16, 24]);
    assert.equal(
      linear.MODEL.HEAD.PARAMS.length,
      linear.MODEL.FEATURE_EVAL_SETTINGS.LINEAR_EVAL_FEAT_POOL_OPS_MAP.length,
    );
    assert.equal(linear.METERS.accuracy_list_meter.num_meters, linear.MODEL.HEAD.PARAMS.length);
  });
});

describe('defaults', () => {
  it("are VISSL's (reference section 1d) where VISSL has the key", () => {
    const { cfg } = load(writeYaml('nothing.yaml', 'config: {}\n'));
    assert.deepEqual(cfg.MODEL.WEIGHTS_INIT, {
      PARAMS_FILE: '',
      STATE_DICT_KEY_NAME: 'classy_state_dict',
      SKIP_LAYERS: ['num_batches_tracked'],
      REMOVE_PREFIX: '',
      APPEND_PREFIX: '',
    });
    assert.deepEqual(cfg.EXTRACT_FEATURES, { OUTPUT_DIR: '', CHUNK_THRESHOLD: -1, MAP_FEATURES_TO_IMG_NAME: false });
    assert.deepEqual(cfg.MODEL.TRUNK.RESNETS, {
      DEPTH: 50,
      WIDTH_MULTIPLIER: 1,
      NORM: 'BatchNorm',
      GROUPS: 1,
      WIDTH_PER_GROUP: 64,
      ZERO_INIT_RESIDUAL: false,
      LAYER4_STRIDE: 2,
    });
    const { BATCHNORM_EPS, BATCHNORM_MOMENTUM, PARAMS_MULTIPLIER } = cfg.MODEL.HEAD;
    assert.deepEqual([BATCHNORM_EPS, BATCHNORM_MOMENTUM, PARAMS_MULTIPLIER], [1e-5, 0.1, 1]);
    const { NUM_ITER, NUM_CLUSTERS, DATA_LIMIT, DATA_LIMIT_SAMPLING, OUTPUT_DIR, FEATURES } = cfg.CLUSTERFIT;
    assert.deepEqual(
      [NUM_ITER, NUM_CLUSTERS, DATA_LIMIT, DATA_LIMIT_SAMPLING.SEED, OUTPUT_DIR],
      [50, 16000, -1, 0, '.'],
    );
    assert.deepEqual(
      { ...FEATURES },
      {
        EXTRACT: false,
        PATH: '.',
        DATA_PARTITION: 'TRAIN',
        TEST_PARTITION: 'TEST',
        DATASET_NAME: '',
        LAYER_NAME: '',
        DIMENSIONALITY_REDUCTION: 0,
      },
    );
    assert.equal(cfg.OPTIMIZER.param_schedulers.lr.auto_lr_scaling.scaling_type, 'linear');
    assert.equal(cfg.DATA.TRAIN.COLLATE_FUNCTION, 'default_collate');
    assert.equal(cfg.LOSS.cross_entropy_multiple_output_single_target.temperature, 1);
    assert.equal(cfg.LOSS.cross_entropy_multiple_output_single_target.reduction, 'mean');
    assert.equal(cfg.ENGINE_NAME, 'train');
  });
});

describe('LR schedule from the shipped ClusterFit config', () => {
  it('1 node x 8 GPUs x 32: 0.1 for epochs 0-29, 0.01, 1e-3, 1e-4 from 90, 1e-5 from 100', () => {
    const { cfg } = load(CLUSTERFIT);
    assert.deepEqual(lrRunSetup(cfg), { numNodes: 1, numProcPerNode: 8, batchSizePerReplica: 32, numEpochs: 105 });
    const schedule = new VisslLrSchedule(cfg.OPTIMIZER.param_schedulers.lr, lrRunSetup(cfg));
    assert.equal(schedule.resolved.name, 'multistep', 'the warmup is deleted on one node');
    const expected = (epoch: number): number =>
      epoch < 30 ? 0.1 : epoch < 60 ? 0.01 : epoch < 90 ? 1e-3 : epoch < 100 ? 1e-4 : 1e-5;
    for (let epoch = 0; epoch < 105; epoch++) {
      const lr = schedule.lrAt({ epoch });
      assert.ok(Math.abs(lr - expected(epoch)) <= 1e-12, `epoch ${epoch}: ${lr}, expected ${expected(epoch)}`);
    }
  });

  it('8 nodes (from an override): warmup from 0.1 to 0.8 over 5 epochs, then 0.8', () => {
    const { cfg } = load(CLUSTERFIT, ['config.DISTRIBUTED.NUM_NODES=8']);
    const schedule = new VisslLrSchedule(cfg.OPTIMIZER.param_schedulers.lr, lrRunSetup(cfg));
    assert.ok(Math.abs(schedule.lrAt({ epoch: 0 }) - 0.1) < 1e-9);
    assert.ok(schedule.lrAt({ epoch: 2 }) > 0.1 && schedule.lrAt({ epoch: 2 }) < 0.8);
    assert.ok(Math.abs(schedule.lrAt({ epoch: 10 }) - 0.8) < 1e-9);
  });
});

describe('overrides', () => {
  it("the issue's example", () => {
    const { cfg } = load(CLUSTERFIT, [
      'config.DATA.TRAIN.DATA_PATHS=[a.npy]',
      'config.DATA.TRAIN.LABEL_PATHS=[b.npy]',
      'config.DISTRIBUTED.NUM_PROC_PER_NODE=1',
      'config.OPTIMIZER.num_epochs=1',
    ]);
    assert.deepEqual(cfg.DATA.TRAIN.DATA_PATHS, ['a.npy']);
    assert.deepEqual(cfg.DATA.TRAIN.LABEL_PATHS, ['b.npy']);
    assert.equal(cfg.DISTRIBUTED.NUM_PROC_PER_NODE, 1);
    assert.equal(cfg.OPTIMIZER.num_epochs, 1);
    assert.equal(cfg.DATA.TRAIN.BATCHSIZE_PER_REPLICA, 32, 'the rest of the file is kept');
  });

  it('numbers, booleans, strings, nulls, lists and nested keys', () => {
    const { cfg } = load(CLUSTERFIT, [
      'config.OPTIMIZER.weight_decay=1e-5',
      'config.OPTIMIZER.nesterov=true',
      'config.MACHINE.DEVICE=cpu',
      'config.CHECKPOINT.DIR=2024',
      'config.MODEL.WEIGHTS_INIT.PARAMS_FILE=',
      'config.LOSS.cross_entropy_multiple_output_single_target.weight=null',
      'config.METERS.accuracy_list_meter.topk_values=[1, 5]',
      'config.OPTIMIZER.param_schedulers.lr.auto_lr_scaling.base_value=0.2',
      'config.MODEL.HEAD.PARAMS=[["mlp", {"dims": [2048, 100]}]]',
      'config.DATA.TRAIN.TRANSFORMS[0].size=160',
      'config.OPTIMIZER.param_schedulers.lr.schedulers.1.milestones=[10, 20, 30, 40]',
      '+config.DATA.TRAIN.DROP_LAST=True',
    ]);
    assert.equal(cfg.OPTIMIZER.weight_decay, 1e-5);
    assert.equal(cfg.OPTIMIZER.nesterov, true);
    assert.equal(cfg.MACHINE.DEVICE, 'cpu');
    assert.equal(cfg.CHECKPOINT.DIR, '2024', 'a string key keeps the text as written');
    assert.equal(cfg.MODEL.WEIGHTS_INIT.PARAMS_FILE, '');
    assert.equal(cfg.LOSS.cross_entropy_multiple_output_single_target.weight, null);
    assert.deepEqual(cfg.METERS.accuracy_list_meter.topk_values, [1, 5]);
    assert.equal(cfg.OPTIMIZER.param_schedulers.lr.auto_lr_scaling.base_value, 0.2);
    assert.equal(cfg.OPTIMIZER.param_schedulers.lr.auto_lr_scaling.base_lr_batch_size, 256, 'siblings kept');
    assert.deepEqual(cfg.MODEL.HEAD.PARAMS, [['mlp', { dims: [2048, 100] }]]);
    assert.deepEqual(cfg.DATA.TRAIN.TRANSFORMS[0], { name: 'RandomResizedCrop', size: 160 });
    assert.deepEqual(cfg.OPTIMIZER.param_schedulers.lr.schedulers[1]!.milestones, [10, 20, 30, 40]);
    assert.equal(cfg.DATA.TRAIN.DROP_LAST, true);
  });

  it('a mapping value merges into the mapping', () => {
    const { cfg } = load(CLUSTERFIT, ['config.CHECKPOINT={DIR: out, CHECKPOINT_FREQUENCY: 5}']);
    assert.equal(cfg.CHECKPOINT.DIR, 'out');
    assert.equal(cfg.CHECKPOINT.CHECKPOINT_FREQUENCY, 5);
    assert.equal(cfg.CHECKPOINT.AUTO_RESUME, true);
  });

  it('a later override wins', () => {
    const { cfg } = load(CLUSTERFIT, ['config.OPTIMIZER.num_epochs=3', 'config.OPTIMIZER.num_epochs=4']);
    assert.equal(cfg.OPTIMIZER.num_epochs, 4);
  });

  it('rejects overrides without config. or =', () => {
    assert.match(failure(CLUSTERFIT, ['OPTIMIZER.num_epochs=1']), /must look like config\.KEY\.SUB=value/);
    assert.match(failure(CLUSTERFIT, ['config.OPTIMIZER.num_epochs']), /must look like config\.KEY\.SUB=value/);
  });

  it('list indices must be numbers within the list', () => {
    assert.match(failure(CLUSTERFIT, ['config.MODEL.HEAD.PARAMS.first=1']), /MODEL\.HEAD\.PARAMS is a list; index it/);
    assert.match(failure(CLUSTERFIT, ['config.OPTIMIZER.param_schedulers.lr.milestones.x=1']), /is a list; index it/);
    assert.match(
      failure(CLUSTERFIT, ['config.DATA.TRAIN.TRANSFORMS.9.size=3']),
      /DATA\.TRAIN\.TRANSFORMS has 5 elements/,
    );
  });
});

describe('errors', () => {
  it('an unknown key names the full key, the override and a suggestion', () => {
    const message = failure(CLUSTERFIT, ['config.OPTIMIZER.num_epoch=1']);
    assert.match(
      message,
      /unknown key OPTIMIZER\.num_epoch \(in override 'config\.OPTIMIZER\.num_epoch=1'\); did you mean OPTIMIZER\.num_epochs\?/,
    );
  });

  it('a key in the wrong place is found elsewhere in the tree', () => {
    assert.match(
      failure(CLUSTERFIT, ['config.DATA.BATCHSIZE_PER_REPLICA=64']),
      /did you mean DATA\.TRAIN\.BATCHSIZE_PER_REPLICA or DATA\.TEST\.BATCHSIZE_PER_REPLICA\?/,
    );
  });

  it('an unknown key in a file names the file', () => {
    const path = writeYaml(
      'typo.yaml',
      'config:\n  OPTIMIZER:\n    momentun: 0.8\n  CLUSTERFIT:\n    NUM_CLUSTER: 10\n',
    );
    const message = failure(path);
    assert.ok(message.includes(`unknown key OPTIMIZER.momentun (in file ${path}); did you mean OPTIMIZER.momentum?`));
    assert.ok(message.includes('unknown key CLUSTERFIT.NUM_CLUSTER'), 'every problem is listed');
    assert.ok(message.includes('did you mean CLUSTERFIT.NUM_CLUSTERS?'));
  });

  it('type errors say what was expected and what was given', () => {
    assert.match(
      failure(CLUSTERFIT, ['config.OPTIMIZER.num_epochs=ten']),
      /OPTIMIZER\.num_epochs \(in override 'config\.OPTIMIZER\.num_epochs=ten'\) must be an integer, got "ten" \(a string\)/,
    );
    const message = failure(CLUSTERFIT, [
      'config.OPTIMIZER.num_epochs=1.5',
      'config.OPTIMIZER.nesterov=1',
      'config.DATA.TRAIN.DATA_PATHS=a.npy',
      'config.OPTIMIZER.momentum=[0.9]',
      'config.METERS.accuracy_list_meter.topk_values=[1, five]',
      'config.MODEL.WEIGHTS_INIT.SKIP_LAYERS=null',
    ]);
    assert.match(
      message,
      /OPTIMIZER\.num_epochs \(in override 'config\.OPTIMIZER\.num_epochs=1\.5'\) must be an integer, got 1\.5/,
    );
    assert.match(message, /OPTIMIZER\.nesterov .* must be true or false, got 1 \(a number\)/);
    assert.match(message, /DATA\.TRAIN\.DATA_PATHS .* must be a list, got "a\.npy"/);
    assert.match(message, /OPTIMIZER\.momentum .* must be a number, got \[0\.9\] \(a list\)/);
    assert.match(message, /METERS\.accuracy_list_meter\.topk_values\[1\] .* must be an integer, got "five"/);
    assert.match(message, /MODEL\.WEIGHTS_INIT\.SKIP_LAYERS .* must be a list, got null/);
  });

  it('type errors in a file name the file; a float key takes an integer', () => {
    const path = writeYaml('types.yaml', 'config:\n  OPTIMIZER:\n    weight_decay: 1\n    num_epochs: "105"\n');
    const message = failure(path);
    assert.ok(message.includes(`OPTIMIZER.num_epochs (in file ${path}) must be an integer, got "105" (a string)`));
    assert.ok(!message.includes('weight_decay'));
  });

  it('enumerated keys list their values', () => {
    assert.match(
      failure(CLUSTERFIT, ['config.CLUSTERFIT.CLUSTER_BACKEND=sklearn']),
      /CLUSTERFIT\.CLUSTER_BACKEND .* must be one of "torch", "faiss"; got "sklearn"/,
    );
    assert.match(
      failure(CLUSTERFIT, ['config.DATA.TRAIN.DATA_SOURCES=[disk_folder, s3]']),
      /DATA\.TRAIN\.DATA_SOURCES\[1\] .* must be one of "disk_folder", "disk_filelist", "torchvision_dataset"; got "s3"/,
    );
  });

  it('transforms are checked when the config loads', () => {
    const message = failure(CLUSTERFIT, ['config.DATA.TRAIN.TRANSFORMS=[{name: RandAugment, magnitude: 9}]']);
    assert.match(message, /DATA\.TRAIN\.TRANSFORMS \(from override .*\): .*unknown transform/);
  });

  it('paths and sources must pair up', () => {
    const message = failure(CLUSTERFIT, ['config.DATA.TRAIN.DATA_PATHS=[a.npy, b.npy]']);
    assert.match(message, /DATA\.TRAIN\.DATA_PATHS has 2 entries but DATA\.TRAIN\.DATA_SOURCES has 1/);
  });

  it('an unknown config name lists the shipped configs', () => {
    const message = failure('pretrain/clusterfit/no_such_config');
    assert.match(message, /'pretrain\/clusterfit\/no_such_config' is neither a shipped config nor a YAML file/);
    for (const name of availableConfigs()) assert.ok(message.includes(`  ${name}\n`) || message.endsWith(`  ${name}`));
  });

  it('invalid YAML names the file', () => {
    const path = writeYaml('broken.yaml', 'config:\n  OPTIMIZER: [\n');
    assert.ok(failure(path).startsWith(`${path}:`));
  });
});

describe("VISSL's old names", () => {
  it('CLUSTERFIT.N_ITER is read as CLUSTERFIT.NUM_ITER, with a warning naming the new key', () => {
    const { cfg, warnings } = load(CLUSTER_FEATURES, ['config.CLUSTERFIT.N_ITER=20']);
    assert.equal(cfg.CLUSTERFIT.NUM_ITER, 20);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /CLUSTERFIT\.N_ITER .* old name of CLUSTERFIT\.NUM_ITER/);
  });

  it("old names in a file: N_ITER, TRUNK_PARAMS, accuracy_list, RotNet's misplaced ignore_index", () => {
    const path = writeYaml(
      'old.yaml',
      [
        '# @package _global_',
        'config:',
        '  MONITOR_PERF_STATS: True',
        '  CLUSTERFIT: {N_ITER: 7, NUM_CLUSTERS: 10}',
        '  METERS: {accuracy_list: {num_list: 2, topk: [1, 5]}}',
        '  MODEL: {TRUNK: {NAME: resnet, TRUNK_PARAMS: {RESNETS: {DEPTH: 101}}}}',
        '  LOSS: {name: cross_entropy_multiple_output_single_target, ignore_index: -100}',
      ].join('\n'),
    );
    const { cfg, warnings } = load(path);
    assert.equal(cfg.CLUSTERFIT.NUM_ITER, 7);
    assert.equal(cfg.CLUSTERFIT.NUM_CLUSTERS, 10);
    assert.equal(cfg.METERS.accuracy_list_meter.num_meters, 2);
    assert.deepEqual(cfg.METERS.accuracy_list_meter.topk_values, [1, 5]);
    assert.equal(cfg.MODEL.TRUNK.RESNETS.DEPTH, 101);
    assert.equal(cfg.MODEL.TRUNK.RESNETS.WIDTH_PER_GROUP, 64, 'the renamed subtree merges over the defaults');
    assert.equal(cfg.LOSS.cross_entropy_multiple_output_single_target.ignore_index, -100);
    assert.equal(cfg.HOOKS.PERF_STATS.MONITOR_PERF_STATS, true);
    assert.equal(warnings.length, 6);
    for (const current of ['CLUSTERFIT.NUM_ITER', 'MODEL.TRUNK.RESNETS', 'METERS.accuracy_list_meter.topk_values']) {
      assert.ok(
        warnings.some((w) => w.includes(`read as ${current}`) && w.includes(path)),
        current,
      );
    }
  });

  it('the old config name loads the renamed config, with a warning saying what differs', () => {
    const { cfg, warnings } = load('pretrain/clusterfit/cluster_features_resnet_8gpu_rotation_in1k');
    assert.deepEqual(cfg, load(CLUSTER_FEATURES).cfg);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /old name of pretrain\/clusterfit\/cluster_features_resnet_8gpu_imagenet/);
    assert.match(warnings[0]!, /RandomCrop/);
  });
});

describe('files and round trips', () => {
  it('a path, the config: layout with a top-level engine_name, and the flat layout', () => {
    const nested = writeYaml(
      'nested.yaml',
      '# @package _global_\nengine_name: extract_features\nconfig:\n  OPTIMIZER:\n    num_epochs: 3\n',
    );
    const flat = writeYaml('flat.yaml', 'OPTIMIZER:\n  num_epochs: 4\n');
    const empty = writeYaml('empty.yaml', '');
    assert.equal(load(nested).cfg.OPTIMIZER.num_epochs, 3);
    assert.equal(load(nested).cfg.ENGINE_NAME, 'extract_features');
    assert.equal(load(flat).cfg.OPTIMIZER.num_epochs, 4);
    assert.equal(load(empty).cfg.OPTIMIZER.num_epochs, 90, "VISSL's default");
    assert.equal(load(empty).cfg.CLUSTERFIT.CLUSTER_BACKEND, 'torch', 'our default backend');
  });

  it('keys outside config: are an error', () => {
    const path = writeYaml('outside.yaml', 'config:\n  SEED_VALUE: 2\nOPTIMIZER:\n  num_epochs: 3\n');
    assert.match(failure(path), /OPTIMIZER must go inside `config:`/);
  });

  it('configToYaml writes a file that loads back to the same config', () => {
    const { cfg } = load(CLUSTERFIT, ['config.OPTIMIZER.num_epochs=7', 'config.MACHINE.DEVICE=cpu']);
    const path = writeYaml('resolved.yaml', configToYaml(cfg));
    assert.deepEqual(load(path).cfg, cfg);
  });

  it('a loaded config cannot be changed', () => {
    const { cfg } = load(CLUSTERFIT);
    assert.throws(() => {
      (cfg.OPTIMIZER as { num_epochs: number }).num_epochs = 1;
    }, TypeError);
    assert.equal(load(CLUSTERFIT).cfg.OPTIMIZER.num_epochs, 105, 'loads do not share state');
  });
});
