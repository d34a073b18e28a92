// VISSL's tools as a VISSL user types them (run_distributed_engines, cluster_features_and_label,
// nearest_neighbor_test), on fixture configs with the keys VISSL's files set, run for real on tiny
// image folders: kNN on a projection head's output, a linear evaluation with a layer named twice in
// the pool map, VISSL's default CrossEntropyLoss, DATA_LIMIT in training and extraction, Hydra
// group files, and the errors for a file run through the wrong tool or a word not understood.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeImageFolders } from './support.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

function clusterfit(...words: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...words], { encoding: 'utf8', timeout: 120_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function events(stdout: string, name: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => r.event === name);
}

const MODEL = ['  MODEL:', '    TRUNK: {NAME: cifar_resnet, RESNETS: {DEPTH: 20}}'];
const SMALL = ['  MACHINE: {DEVICE: cpu}', '  DISTRIBUTED: {NUM_NODES: 1, NUM_PROC_PER_NODE: 1}', '  LOG_FREQUENCY: 1'];

describe("VISSL's tools", () => {
  let root = '';
  const words = (out: string): string[] => [
    `config.DATA.TRAIN.DATA_PATHS=[${join(root, 'train')}]`,
    `config.DATA.TEST.DATA_PATHS=[${join(root, 'test')}]`,
    `config.CHECKPOINT.DIR=${out}`,
    'config.DATA.NUM_DATALOADER_WORKERS=1',
  ];
  const write = (name: string, lines: string[]): string => {
    const file = join(root, 'configs', name);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `# @package _global_\n${lines.join('\n')}\n`);
    return file;
  };
  const data = (extra: string[] = []): string[] => [
    '  DATA:',
    '    TRAIN:',
    '      DATA_SOURCES: [disk_folder]',
    '      LABEL_SOURCES: [disk_folder]',
    '      BATCHSIZE_PER_REPLICA: 4',
    '      TRANSFORMS: [{name: CenterCrop, size: 32}, {name: ToTensor}]',
    ...extra,
    '    TEST:',
    '      DATA_SOURCES: [disk_folder]',
    '      LABEL_SOURCES: [disk_folder]',
    '      BATCHSIZE_PER_REPLICA: 4',
    '      TRANSFORMS: [{name: CenterCrop, size: 32}, {name: ToTensor}]',
  ];

  before(async () => {
    root = await makeImageFolders(3, 2);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('nearest_neighbor_test: kNN on the output of a projection head (EVAL_TRUNK_AND_HEAD)', () => {
    const file = write('knn.yaml', [
      'config:',
      ...data(),
      ...MODEL,
      '    FEATURE_EVAL_SETTINGS: {EVAL_MODE_ON: True, FREEZE_TRUNK_AND_HEAD: True, EVAL_TRUNK_AND_HEAD: True}',
      '    HEAD:',
      '      PARAMS: [["mlp", {"dims": [64, 64], "use_relu": True, "skip_last_layer_relu_bn": False}], ["mlp", {"dims": [64, 16]}]]',
      '  NEAREST_NEIGHBOR: {SIGMA: 0.1, TOPK: [1, 3], L2_NORM_FEATS: True}',
      ...SMALL,
    ]);
    const out = join(root, 'knn');
    const run = clusterfit('nearest_neighbor_test', `config=${file}`, ...words(out));
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(readFileSync(join(out, 'evaluation.json'), 'utf8')) as {
      layers: { layer: string; dim: number; knn: Record<string, number>; knnByK: Record<string, unknown> }[];
    };
    assert.equal(result.layers.length, 1);
    assert.equal(result.layers[0]!.layer, 'heads');
    assert.equal(result.layers[0]!.dim, 16, "the second head's output");
    assert.deepEqual(Object.keys(result.layers[0]!.knnByK), ['1', '3']);
  });

  it('run_distributed_engines: linear evaluation with a layer named twice, VISSL counting one meter per entry', () => {
    const file = write('linear.yaml', [
      'config:',
      ...data(),
      ...MODEL,
      '    FEATURE_EVAL_SETTINGS:',
      '      EVAL_MODE_ON: True',
      '      FREEZE_TRUNK_ONLY: True',
      '      SHOULD_FLATTEN_FEATS: False',
      '      LINEAR_EVAL_FEAT_POOL_OPS_MAP: [["flatten", ["Identity", []]], ["flatten", ["Identity", []]]]',
      '    HEAD:',
      '      PARAMS: [["eval_mlp", {"in_channels": 64, "dims": [64, 3]}], ["mlp", {"dims": [64, 3]}]]',
      '  METERS: {names: [accuracy_list_meter], accuracy_list_meter: {num_meters: 1, topk_values: [1]}}',
      '  LOSS: {name: cross_entropy_multiple_output_single_target}',
      '  OPTIMIZER: {num_epochs: 1}',
      ...SMALL,
    ]);
    const run = clusterfit('run_distributed_engines', `config=${file}`, ...words(join(root, 'linear')), '--json');
    assert.equal(run.status, 0, run.stderr);
    const [epoch] = events(run.stdout, 'train_epoch') as { accuracy: unknown[] }[];
    assert.equal(epoch?.accuracy.length, 2, 'one meter per pool-map entry');
  });

  it("run_distributed_engines: VISSL's default CrossEntropyLoss trains with LARC, on DATA_LIMIT images", () => {
    const file = write('supervised.yaml', [
      'config:',
      ...data(['      DATA_LIMIT: 5', '      DATA_LIMIT_SAMPLING: {SEED: 2}']),
      ...MODEL,
      '    HEAD: {PARAMS: [["mlp", {"dims": [64, 3]}]]}',
      '  TEST_MODEL: False',
      '  OPTIMIZER: {num_epochs: 1, use_larc: True, larc_config: {clip: False, eps: 1.0e-08, trust_coefficient: 0.001}}',
      ...SMALL,
    ]);
    const run = clusterfit('run_distributed_engines', `config=${file}`, ...words(join(root, 'supervised')), '--json');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /on 5 images for 1 epoch\(s\), 2 steps each/);
    const [epoch] = events(run.stdout, 'train_epoch') as { loss: number }[];
    assert.ok(epoch && Number.isFinite(epoch.loss), run.stdout);
  });

  it('run_distributed_engines engine_name=extract_features with a group file; DATA_LIMIT in extraction', () => {
    write('config/feature_extraction/trunk_only/flat.yaml', [
      'config:',
      '  MODEL:',
      '    FEATURE_EVAL_SETTINGS:',
      '      EVAL_MODE_ON: True',
      '      FREEZE_TRUNK_ONLY: True',
      '      LINEAR_EVAL_FEAT_POOL_OPS_MAP: [["flatten", ["Identity", []]]]',
    ]);
    const file = write('extract.yaml', ['config:', ...data(['      DATA_LIMIT: 4']), ...MODEL, ...SMALL]);
    const out = join(root, 'extract');
    const run = clusterfit(
      'run_distributed_engines',
      `config=${file}`,
      'engine_name=extract_features',
      '+config/feature_extraction/trunk_only=flat',
      `hydra.searchpath=[${join(root, 'configs')}]`,
      ...words(out),
    );
    assert.equal(run.status, 0, run.stderr);
    const shards = readdirSync(out).filter((n) => n.endsWith('_flatten_features.npy'));
    assert.equal(shards.length, 2, shards.join(', '));
    assert.match(run.stderr, /extracted flatten for 4 train images/);
  });

  it('a file through the wrong tool names the right command; a word not understood is an error', () => {
    const knn = write('knn-only.yaml', ['config:', '  NEAREST_NEIGHBOR: {TOPK: 2}']);
    const wrong = clusterfit('run_distributed_engines', `config=${knn}`);
    assert.equal(wrong.status, 1);
    assert.match(
      wrong.stderr,
      /written for VISSL's nearest_neighbor_test .* run `clusterfit nearest_neighbor_test config=/,
    );
    const viaRun = clusterfit('run', `config=${knn}`);
    assert.equal(viaRun.status, 1);
    assert.match(viaRun.stderr, /written for VISSL's nearest_neighbor_test/);
    const unknown = clusterfit('nearest_neighbor_test', `config=${knn}`, 'out=somewhere');
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /nearest_neighbor_test: 'out=somewhere' is not understood here/);
    const engine = clusterfit('run_distributed_engines', `config=${knn}`, 'engine_name=cluster_features');
    assert.match(engine.stderr, /runs the train or extract_features engine, not 'cluster_features'/);
  });
});
