// VISSL users' configs and command lines, as fixtures we write with the keys, values and forms of
// VISSL's files: Hydra composition (+config/<group>=<name>, ~config.KEY, +config.KEY), overrides
// applied before validation, VISSL-only values (apex, everstore), the keys VISSL's extraction and
// benchmark configs set, and the command a file was written for.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { composeConfig, ConfigError, loadConfig, type LoadOptions } from '../../src/config/index.js';
import { parseTransforms } from '../../src/data/transforms.js';

const dir = mkdtempSync(join(tmpdir(), 'clusterfit-vissl-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `text` at `dir/<path>` and returns the full path. */
function write(path: string, text: string): string {
  const file = join(dir, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

function compose(options: Omit<LoadOptions, 'warn'>): ReturnType<typeof composeConfig> & { warnings: string[] } {
  const warnings: string[] = [];
  return { ...composeConfig({ ...options, warn: (m) => warnings.push(m) }), warnings };
}

function failure(options: Omit<LoadOptions, 'warn'>): string {
  try {
    loadConfig({ ...options, warn: () => {} });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  assert.fail('expected the config to be rejected');
}

// A user's VISSL-style tree: configs/config/<family>/..., as in VISSL's repository.
const userConfigs = join(dir, 'vissl-configs');
const extraction = write(
  'vissl-configs/config/feature_extraction/extract_fixture.yaml',
  [
    '# @package _global_',
    'engine_name: extract_features',
    'config:',
    '  DATA:',
    '    TRAIN:',
    '      DATA_SOURCES: [disk_folder]',
    '      LABEL_SOURCES: [disk_folder]',
    '      LABEL_TYPE: sample_index',
    '      BATCHSIZE_PER_REPLICA: 32',
    '      TRANSFORMS: [{name: Resize, size: 256}, {name: CenterCrop, size: 224}, {name: ToTensor}]',
    '      ENABLE_QUEUE_DATASET: False',
    '    TEST:',
    '      ENABLE_QUEUE_DATASET: False',
    '  MODEL:',
    '    WEIGHTS_INIT: {PARAMS_FILE: "specify the model weights"}',
    '',
  ].join('\n'),
);
write(
  'vissl-configs/config/feature_extraction/trunk_only/res5_fixture.yaml',
  [
    '# @package _global_',
    'config:',
    '  MODEL:',
    '    FEATURE_EVAL_SETTINGS:',
    '      EVAL_MODE_ON: True',
    '      FREEZE_TRUNK_ONLY: True',
    '      EXTRACT_TRUNK_FEATURES_ONLY: True',
    '      SHOULD_FLATTEN_FEATS: False',
    '      LINEAR_EVAL_FEAT_POOL_OPS_MAP: [["res5avg", ["Identity", []]]]',
    '',
  ].join('\n'),
);

describe('Hydra composition', () => {
  it('+config/<group>=<name> merges a group file from a user folder (hydra.searchpath)', () => {
    const { config, warnings } = compose({
      config: 'feature_extraction/extract_fixture',
      searchPath: [userConfigs],
      overrides: ['+config/feature_extraction/trunk_only=res5_fixture'],
    });
    assert.deepEqual(warnings, []);
    assert.equal(config.ENGINE_NAME, 'extract_features');
    assert.equal(config.MODEL.FEATURE_EVAL_SETTINGS.EVAL_MODE_ON, true);
    assert.deepEqual(config.MODEL.FEATURE_EVAL_SETTINGS.LINEAR_EVAL_FEAT_POOL_OPS_MAP, [['res5avg', ['Identity', []]]]);
  });

  it('a group that is nowhere is an error naming the word and the folders searched', () => {
    const message = failure({
      config: extraction,
      searchPath: [userConfigs],
      overrides: ['+config/feature_extraction/trunk_only=no_such'],
    });
    assert.match(
      message,
      /'\+config\/feature_extraction\/trunk_only=no_such': no feature_extraction\/trunk_only\/no_such\.yaml/,
    );
  });

  it('+config.KEY=value sets a key, ~config.KEY removes one so the default applies', () => {
    const { config } = compose({
      config: extraction,
      overrides: ['+config.OPTIMIZER.num_epochs=3', '~config.DATA.TRAIN.BATCHSIZE_PER_REPLICA'],
    });
    assert.equal(config.OPTIMIZER.num_epochs, 3);
    assert.equal(config.DATA.TRAIN.BATCHSIZE_PER_REPLICA, 256, "VISSL's default");
    assert.match(
      failure({ config: extraction, overrides: ['~config.OPTIMIZER.nesterov'] }),
      /OPTIMIZER\.nesterov is not set by the config file/,
    );
  });

  it('a word that is not an override is an error, never ignored', () => {
    assert.match(
      failure({ config: extraction, overrides: ['config/trunk=x'] }),
      /must look like config\.KEY\.SUB=value/,
    );
  });

  it('overrides apply before validation: a bad file value replaced on the command line loads', () => {
    const file = write('bad-source.yaml', 'config:\n  DATA:\n    TRAIN:\n      DATA_SOURCES: [everstore]\n');
    assert.match(failure({ config: file }), /DATA\.TRAIN\.DATA_SOURCES\[0\] .* is 'everstore'/);
    const { config } = compose({ config: file, overrides: ['config.DATA.TRAIN.DATA_SOURCES=[disk_folder]'] });
    assert.deepEqual(config.DATA.TRAIN.DATA_SOURCES, ['disk_folder']);
  });
});

describe("VISSL's keys and values", () => {
  it('ENABLE_QUEUE_DATASET (VISSL extraction configs) is accepted', () => {
    const { config } = compose({ config: extraction });
    assert.equal(config.DATA.TRAIN.ENABLE_QUEUE_DATASET, false);
  });

  it('SYNC_BN_TYPE apex runs as pytorch with a warning, also when the file says apex and the CLI nothing', () => {
    const file = write(
      'apex.yaml',
      'config:\n  MODEL:\n    SYNC_BN_CONFIG: {CONVERT_BN_TO_SYNC_BN: True, SYNC_BN_TYPE: apex, GROUP_SIZE: 8}\n',
    );
    const { config, warnings } = compose({ config: file });
    assert.equal(config.MODEL.SYNC_BN_CONFIG.SYNC_BN_TYPE, 'pytorch');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /SYNC_BN_TYPE: apex .* runs as pytorch/);
    assert.equal(
      compose({ config: file, overrides: ['config.MODEL.SYNC_BN_CONFIG.SYNC_BN_TYPE=pytorch'] }).warnings.length,
      0,
    );
  });

  it('values that cannot run here are one line each, naming the value', () => {
    const file = write(
      'unsupported.yaml',
      'config:\n  DATA:\n    TEST: {DATA_SOURCES: [synthetic], LABEL_SOURCES: [synthetic]}\n  SVM: {cost: 1}\n',
    );
    const lines = failure({ config: file }).split('\n').slice(1);
    assert.equal(lines.length, 3, lines.join('\n'));
    assert.match(lines.join('\n'), /DATA\.TEST\.DATA_SOURCES\[0\] .* 'synthetic'/);
    // VISSL's SVM benchmark runs here (test/svm): its section is checked like any other.
    assert.match(lines.join('\n'), /SVM\.cost/);
  });

  it('LOSS.name CrossEntropyLoss (VISSL default), METERS names, NEAREST_NEIGHBOR lists and paths load', () => {
    const file = write(
      'knn.yaml',
      [
        'config:',
        '  LOSS: {name: CrossEntropyLoss, CrossEntropyLoss: {ignore_index: -1}}',
        '  NEAREST_NEIGHBOR: {SIGMA: 0.1, TOPK: [20, 200], L2_NORM_FEATS: True, USE_CUDA: True, OPTIMIZE_MEMORY: False, FEATURES: {PATH: ""}}',
        '',
      ].join('\n'),
    );
    const { config } = compose({ config: file });
    assert.equal(config.LOSS.name, 'CrossEntropyLoss');
    assert.deepEqual(config.NEAREST_NEIGHBOR.TOPK, [20, 200]);
  });

  it("the original ClusterFit cluster config's RandomCrop (Resize 256 + RandomCrop 224) parses", () => {
    const file = write(
      'cluster-old.yaml',
      'config:\n  DATA:\n    TRAIN:\n      TRANSFORMS: [{name: Resize, size: 256}, {name: RandomCrop, size: 224}, {name: ToTensor}]\n',
    );
    assert.deepEqual(compose({ config: file }).config.DATA.TRAIN.TRANSFORMS[1], { name: 'RandomCrop', size: 224 });
    assert.deepEqual(
      parseTransforms([
        { name: 'Resize', size: 256 },
        { name: 'RandomCrop', size: 224 },
      ]).outputSize,
      [224, 224],
    );
  });

  it('Resize to a shorter side without a crop (VISSL configs for square-image datasets) parses', () => {
    const pipeline = parseTransforms([{ name: 'Resize', size: 224 }, { name: 'ToTensor' }]);
    assert.equal(pipeline.outputSize, null, 'the loader takes the size from the images');
  });

  it('RandomHorizontalFlip after ImgRotatePil warns with the fix; flip first does not', () => {
    const after = write(
      'rot-flip.yaml',
      'config:\n  DATA:\n    TRAIN:\n      TRANSFORMS: [{name: ImgRotatePil}, {name: CenterCrop, size: 32}, {name: RandomHorizontalFlip}]\n',
    );
    const warnings = compose({ config: after }).warnings;
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0]!,
      /270-degree rotation of the mirrored image.*Put RandomHorizontalFlip before ImgRotatePil/,
    );
    const before = write(
      'flip-rot.yaml',
      'config:\n  DATA:\n    TRAIN:\n      TRANSFORMS: [{name: RandomHorizontalFlip}, {name: ImgRotatePil}, {name: CenterCrop, size: 32}]\n',
    );
    assert.deepEqual(compose({ config: before }).warnings, []);
  });
});

describe('the command a file was written for', () => {
  const knn = write('knn-tool.yaml', 'config:\n  NEAREST_NEIGHBOR: {TOPK: 5}\n');
  const cluster = write('cluster-tool.yaml', 'config:\n  CLUSTERFIT: {NUM_CLUSTERS: 5}\n');

  it('a VISSL kNN or cluster config (no engine named) through `run` says which command to use', () => {
    assert.match(
      failure({ config: knn, command: 'run' }),
      /written for VISSL's nearest_neighbor_test .*clusterfit nearest_neighbor_test config=/,
    );
    assert.match(failure({ config: cluster, command: 'run' }), /written for VISSL's cluster_features_and_label/);
  });

  it('through its own tool, the tool picks the engine', () => {
    assert.equal(
      loadConfig({ config: knn, command: 'nearest_neighbor_test', engine: 'nearest_neighbor' }).ENGINE_NAME,
      'nearest_neighbor',
    );
    assert.equal(
      loadConfig({ config: cluster, command: 'cluster_features_and_label', engine: 'cluster_features' }).ENGINE_NAME,
      'cluster_features',
    );
  });

  it('through the wrong tool, names the right one', () => {
    assert.match(
      failure({ config: knn, command: 'run_distributed_engines' }),
      /written for VISSL's nearest_neighbor_test/,
    );
    assert.match(
      failure({ config: extraction, command: 'cluster_features_and_label' }),
      /written for VISSL's run_distributed_engines \(its engine is extract_features\)/,
    );
  });
});
