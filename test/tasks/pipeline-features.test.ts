// Which of the pipeline's extractions can be shared (pipeline-features.ts): pure logic over configs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, type Config } from '../../src/config/index.js';
import { PIPELINE_PRESETS } from '../../src/tasks/pipeline-presets.js';
import { evaluationServesClustering } from '../../src/tasks/pipeline-features.js';

const WEIGHTS = 'config.MODEL.WEIGHTS_INIT.PARAMS_FILE=runs/x/rotnet/checkpoint.torch';

function load(name: string, ...overrides: string[]): Config {
  return loadConfig({ config: name, overrides: [WEIGHTS, ...overrides], warn: () => {} });
}

describe('pipeline: one extraction for the k-means and the RotNet evaluation', () => {
  it('holds for every preset: its cluster and evaluation configs extract the same features of the same images', () => {
    for (const [preset, configs] of Object.entries(PIPELINE_PRESETS)) {
      assert.ok(evaluationServesClustering(load(configs.cluster), load(configs.evaluate)), preset);
    }
  });

  it('does not hold when anything that changes the features differs', () => {
    const cluster = (...words: string[]): Config => load('demo/cluster_features', ...words);
    const evaluation = (...words: string[]): Config => load('demo/evaluate', ...words);
    // Labels and batch sizes do not change an image's features.
    assert.ok(
      evaluationServesClustering(
        cluster('config.DATA.TRAIN.BATCHSIZE_PER_REPLICA=7', 'config.DATA.TEST.LABEL_TYPE=standard'),
        evaluation(),
      ),
    );
    const differing: [string, Config, Config][] = [
      [
        'a transform',
        cluster('config.DATA.TEST.TRANSFORMS=[{name: CenterCrop, size: 28}, {name: ToTensor}]'),
        evaluation(),
      ],
      ['the train images', cluster('config.DATA.TRAIN.DATA_PATHS=[elsewhere]'), evaluation()],
      ['the weights', cluster(), evaluation('config.MODEL.WEIGHTS_INIT.PARAMS_FILE=other.torch')],
      ['the network', cluster('config.MODEL.TRUNK.RESNETS.DEPTH=32'), evaluation()],
      [
        "the clustered layer's pooling",
        cluster(
          'config.MODEL.FEATURE_EVAL_SETTINGS.LINEAR_EVAL_FEAT_POOL_OPS_MAP=[[flatten, [AvgPool2d, [[1, 1], 1, 0]]]]',
        ),
        evaluation(),
      ],
      [
        'a layer the evaluation does not extract',
        cluster(
          'config.CLUSTERFIT.FEATURES.LAYER_NAME=res2',
          'config.MODEL.FEATURE_EVAL_SETTINGS.LINEAR_EVAL_FEAT_POOL_OPS_MAP=[[res2, [Identity, []]]]',
        ),
        evaluation(),
      ],
      ['features given, not extracted', cluster('config.CLUSTERFIT.FEATURES.EXTRACT=False'), evaluation()],
      [
        'unflattened evaluation features',
        cluster(),
        evaluation('config.MODEL.FEATURE_EVAL_SETTINGS.SHOULD_FLATTEN_FEATS=False'),
      ],
    ];
    for (const [what, c, e] of differing) assert.equal(evaluationServesClustering(c, e), false, what);
  });
});
