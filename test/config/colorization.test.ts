// VISSL's colorization benchmark models (configs/config/benchmark/linear_image_classification/*/
// models/resnet50_colorization.yaml) compose onto a linear benchmark: a fixture we write in their
// shape (LAB transforms, INPUT_TYPE lab, LAYER4_STRIDE 1, five pooled layers with eval_mlp heads)
// merged with +config/<group>=<name>, then the model built from it runs on a LAB batch.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { applyPhotometric } from '../../src/data/photometric.js';
import { parseTransforms } from '../../src/data/transforms.js';
import { buildModel, type ModelConfig } from '../../src/models/model.js';
import { noGrad, randint } from '../../src/torch/index.js';

const dir = mkdtempSync(join(tmpdir(), 'clusterfit-colorization-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const userConfigs = join(dir, 'configs');
const group = 'benchmark/linear_image_classification/imagenet1k/models';
const file = join(userConfigs, 'config', group, 'lab_resnet_fixture.yaml');
mkdirSync(dirname(file), { recursive: true });
writeFileSync(
  file,
  [
    '# @package _global_',
    'config:',
    '  DATA:',
    '    TRAIN:',
    '      TRANSFORMS:',
    '        - {name: Resize, size: 256}',
    '        - {name: RandomCrop, size: 224}',
    '        - {name: RandomHorizontalFlip}',
    '        - {name: ImgPil2LabTensor}',
    '    TEST:',
    '      TRANSFORMS: [{name: Resize, size: 256}, {name: CenterCrop, size: 224}, {name: ImgPil2LabTensor}]',
    '  MODEL:',
    '    INPUT_TYPE: lab',
    '    FEATURE_EVAL_SETTINGS:',
    '      LINEAR_EVAL_FEAT_POOL_OPS_MAP: [',
    '        ["conv1", ["AvgPool2d", [[10, 10], 10, 4]]],',
    '        ["res2", ["AvgPool2d", [[16, 16], 8, 0]]],',
    '        ["res3", ["AvgPool2d", [[13, 13], 5, 0]]],',
    '        ["res4", ["AvgPool2d", [[8, 8], 3, 0]]],',
    '        ["res5", ["AvgPool2d", [[12, 12], 2, 0]]],',
    '      ]',
    '    TRUNK:',
    '      NAME: resnet',
    '      RESNETS: {DEPTH: 50, LAYER4_STRIDE: 1}',
    '    HEAD:',
    '      PARAMS: [',
    '        ["eval_mlp", {"in_channels": 64, "dims": [9216, 10]}],',
    '        ["eval_mlp", {"in_channels": 256, "dims": [9216, 10]}],',
    '        ["eval_mlp", {"in_channels": 512, "dims": [8192, 10]}],',
    '        ["eval_mlp", {"in_channels": 1024, "dims": [9216, 10]}],',
    '        ["eval_mlp", {"in_channels": 2048, "dims": [8192, 10]}],',
    '      ]',
    '',
  ].join('\n'),
);

test('a colorization model file composes onto the ImageNet linear benchmark and its model runs on LAB', () => {
  const config = loadConfig({
    config: 'benchmark/linear_image_classification/imagenet1k/eval_resnet_8gpu_transfer_in1k_linear',
    searchPath: [userConfigs],
    overrides: [`+config/${group}=lab_resnet_fixture`],
    warn: () => undefined,
  });
  assert.equal(config.MODEL.INPUT_TYPE, 'lab');
  assert.equal(config.MODEL.TRUNK.RESNETS.LAYER4_STRIDE, 1);
  const pipeline = parseTransforms(config.DATA.TEST.TRANSFORMS as never);
  assert.deepEqual(pipeline.photometric, [{ kind: 'ImgPil2LabTensor' }]);
  assert.deepEqual(pipeline.outputSize, [224, 224]);

  const model = buildModel(config.MODEL as unknown as ModelConfig).eval();
  assert.deepEqual(model.stateDict()['trunk.base_model._feature_blocks.conv1.weight']?.shape, [64, 1, 7, 7]);
  const rgb = randint(0, 256, [1, 3, 224, 224], { dtype: 'uint8' });
  const lab = applyPhotometric(rgb, pipeline.photometric, [{ index: 0, copy: 0 }], 0, 0, 'cpu');
  const outputs = noGrad(() => model.call(lab));
  assert.deepEqual(
    outputs.map((o) => o.shape),
    Array.from({ length: 5 }, () => [1, 10]),
  );
});

test('MODEL.INPUT_TYPE outside rgb, bgr, lab is refused naming the key and the choices', () => {
  assert.throws(
    () =>
      loadConfig({
        config: 'benchmark/linear_image_classification/imagenet1k/eval_resnet_8gpu_transfer_in1k_linear',
        overrides: ['config.MODEL.INPUT_TYPE=yuv'],
        warn: () => undefined,
      }),
    (error: unknown) =>
      error instanceof ConfigError && /MODEL\.INPUT_TYPE/.test(error.message) && /rgb.*bgr.*lab/.test(error.message),
  );
});
