// MODEL.WEIGHTS_INIT: checkpoints written by PyTorch (VISSL layout, flat with a DataParallel
// prefix, nested) loaded into a small model with VISSL's names.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as nn from '../../src/torch/nn/index.js';
import { memoryStats, tensor, type Tensor } from '../../src/torch/index.js';
import { writeSafetensors } from '../../src/torch/io/index.js';
import { initModelFromWeights, type Logger, type WeightsInitOptions } from '../../src/models/weights-init.js';
import { python, tempFolder } from '../torch/io/python.js';
import { ToyExtractorTrunk, ToySSLModel, ToyTrunk } from './toy-ssl-model.js';

const dir = tempFolder();
// Each tensor gets distinct values so a tensor landing in the wrong place is seen.
const MAKE = `
import sys, json, collections, torch
shapes = collections.OrderedDict([
  ('_feature_blocks.conv1.weight', (4, 3, 3, 3)), ('_feature_blocks.bn1.weight', (4,)), ('_feature_blocks.bn1.bias', (4,)),
  ('_feature_blocks.bn1.running_mean', (4,)), ('_feature_blocks.bn1.running_var', (4,))])
trunk = collections.OrderedDict((k, torch.arange(torch.Size(s).numel(), dtype=torch.float32).reshape(s) * 0.5 + i + 1)
                                for i, (k, s) in enumerate(shapes.items()))
trunk['_feature_blocks.bn1.num_batches_tracked'] = torch.tensor(37)
heads = collections.OrderedDict([('0.clf.0.weight', torch.arange(8, dtype=torch.float32).reshape(2, 4) - 3),
                                 ('0.clf.0.bias', torch.tensor([7.0, -7.0]))])
def vissl(trunk, heads):
    return {'phase_idx': 4, 'iteration': 100, 'loss': {}, 'iteration_num': 100, 'train_phase_idx': 4, 'type': 'consolidated',
            'classy_state_dict': {'train': True, 'base_model': {'model': {'trunk': trunk, 'heads': heads},
                                  'meta': {'trunk': {}, 'heads': []}}, 'phase_idx': 4, 'num_updates': 100, 'losses': [1.5, 1.25]}}
out = sys.argv[1]
torch.save(vissl(trunk, heads), out + '/vissl.torch')
torch.save(vissl(trunk, heads), out + '/vissl_legacy.torch', _use_new_zipfile_serialization=False)
tv = collections.OrderedDict(('module.' + k[len('_feature_blocks.'):], v) for k, v in trunk.items())
torch.save(tv, out + '/torchvision_module.pth')
flat = collections.OrderedDict([('trunk.' + k, v) for k, v in trunk.items()] + [('heads.' + k, v) for k, v in heads.items()])
torch.save({'model': {'state_dict': flat}, 'epoch': 3}, out + '/nested.pth')
bad = collections.OrderedDict(trunk)
bad['_feature_blocks.conv1.weight'] = torch.zeros(8, 3, 3, 3)
torch.save(vissl(bad, heads), out + '/wrong_shape.torch')
print(json.dumps({k: v.double().flatten().tolist() for k, v in flat.items()}))
`;
const expected = JSON.parse(python(MAKE, dir)) as Record<string, number[]>;
const file = (name: string) => join(dir, name);

function recordingLogger(): Logger & { infos: string[]; warns: string[] } {
  const infos: string[] = [];
  const warns: string[] = [];
  return { infos, warns, info: (m) => infos.push(m), warn: (m) => warns.push(m) };
}

function values(model: nn.Module): Record<string, number[]> {
  const state = model.stateDict();
  const out = Object.fromEntries(Object.entries(state).map(([name, t]) => [name, t.toArray()]));
  for (const t of Object.values(state)) t.dispose();
  return out;
}

const TRUNK = Object.keys(expected).filter(
  (name) => name.startsWith('trunk.') && !name.endsWith('num_batches_tracked'),
);
const HEADS = ['heads.0.clf.0.weight', 'heads.0.clf.0.bias'];
const NBT = 'trunk._feature_blocks.bn1.num_batches_tracked';

function load(options: WeightsInitOptions, model = new ToySSLModel()) {
  const logger = recordingLogger();
  try {
    const before = values(model);
    const report = initModelFromWeights(model, { ...options, logger });
    return { report, before, after: values(model), logger };
  } finally {
    model.dispose();
  }
}

describe('initModelFromWeights', () => {
  for (const name of ['vissl.torch', 'vissl_legacy.torch']) {
    it(`loads a VISSL checkpoint written by PyTorch (${name}) through classy_state_dict`, () => {
      const { report, before, after, logger } = load({ PARAMS_FILE: file(name) });
      assert.deepEqual(report.loaded, [...TRUNK, ...HEADS]);
      assert.deepEqual(report.skipped, [NBT], 'num_batches_tracked is skipped by default, as in VISSL');
      assert.deepEqual([report.missing, report.unexpected, report.warnings], [[], [], []]);
      for (const key of [...TRUNK, ...HEADS]) assert.deepEqual(after[key], expected[key], key);
      assert.deepEqual(after[NBT], before[NBT]);
      assert.deepEqual(logger.infos, [`MODEL.WEIGHTS_INIT: loaded 7 of 8 model tensors from ${file(name)}, skipped 1`]);
    });
  }

  it('applies VISSL semantics but warns when REMOVE_PREFIX / APPEND_PREFIX are set under classy_state_dict', () => {
    const { report, after, logger } = load({
      PARAMS_FILE: file('vissl.torch'),
      REMOVE_PREFIX: 'module.',
      APPEND_PREFIX: 'x.',
    });
    assert.equal(report.loaded.length, 7);
    assert.deepEqual(after[HEADS[0]!], expected[HEADS[0]!]);
    assert.equal(logger.warns.length, 2);
    assert.match(logger.warns[0]!, /REMOVE_PREFIX 'module\.' is ignored with STATE_DICT_KEY_NAME 'classy_state_dict'/);
    assert.match(logger.warns[1]!, /APPEND_PREFIX 'x\.' is ignored/);
    assert.deepEqual(report.warnings, logger.warns);
  });

  it('maps torchvision names saved under DataParallel with REMOVE_PREFIX then APPEND_PREFIX', () => {
    const { report, before, after, logger } = load({
      PARAMS_FILE: file('torchvision_module.pth'),
      STATE_DICT_KEY_NAME: '',
      REMOVE_PREFIX: 'module.',
      APPEND_PREFIX: 'trunk._feature_blocks.',
      SKIP_LAYERS: [],
    });
    assert.deepEqual(report.loaded, [...TRUNK.slice(0, 5), NBT]);
    assert.deepEqual(report.missing, HEADS);
    assert.deepEqual(report.unexpected, []);
    assert.deepEqual(after[NBT], [37], 'with SKIP_LAYERS replaced, num_batches_tracked loads too');
    for (const key of TRUNK) assert.deepEqual(after[key], expected[key], key);
    for (const key of HEADS) assert.deepEqual(after[key], before[key], `${key} keeps its initial value`);
    assert.match(logger.warns.join('\n'), /2 model tensors keep their initial values: heads\.0\.clf\.0\.weight/);
  });

  it('a load that matches nothing lists the expected and found names and the prefixes that would fix it', () => {
    assert.throws(
      () => load({ PARAMS_FILE: file('torchvision_module.pth'), STATE_DICT_KEY_NAME: '' }),
      (error: Error) => {
        assert.match(error.message, /no tensor of .*torchvision_module\.pth matches a model name/);
        assert.match(error.message, /the model expects 7 names, e\.g\. trunk\._feature_blocks\.conv1\.weight/);
        assert.match(error.message, /the file has 6 names .*e\.g\. module\.conv1\.weight, module\.bn1\.weight/);
        assert.match(
          error.message,
          /hint: with REMOVE_PREFIX: 'module\.' and APPEND_PREFIX: 'trunk\._feature_blocks\.', 6 of 6 names/,
        );
        return true;
      },
    );
  });

  it('descends a list of keys, and names the keys it found when one is wrong', () => {
    const { report, after } = load({ PARAMS_FILE: file('nested.pth'), STATE_DICT_KEY_NAME: ['model', 'state_dict'] });
    assert.deepEqual(report.loaded, [...TRUNK, ...HEADS]);
    for (const key of [...TRUNK, ...HEADS]) assert.deepEqual(after[key], expected[key], key);
    assert.throws(
      () => load({ PARAMS_FILE: file('nested.pth') }),
      /has no key 'classy_state_dict' at its top level; it has: model, epoch\. Try STATE_DICT_KEY_NAME: \['model', 'state_dict'\]/,
    );
    assert.throws(
      () => load({ PARAMS_FILE: file('nested.pth'), STATE_DICT_KEY_NAME: ['model', 'weights'] }),
      /has no key 'weights' under 'model'; it has: state_dict\. Try STATE_DICT_KEY_NAME: \['model', 'state_dict'\]/,
    );
  });

  it('SKIP_LAYERS matches substrings; heads are left out unless initHeads', () => {
    const skip = load({ PARAMS_FILE: file('vissl.torch'), SKIP_LAYERS: ['bn1'] });
    const bn = Object.keys(expected).filter((name) => name.includes('bn1'));
    assert.deepEqual(skip.report.skipped, bn);
    for (const key of bn) assert.deepEqual(skip.after[key], skip.before[key], key);
    assert.deepEqual(skip.after['trunk._feature_blocks.conv1.weight'], expected['trunk._feature_blocks.conv1.weight']);

    const frozen = load({ PARAMS_FILE: file('vissl.torch'), initHeads: false });
    assert.deepEqual(frozen.report.skipped, [NBT, ...HEADS]);
    assert.deepEqual(frozen.report.loaded, TRUNK);
    for (const key of HEADS) assert.deepEqual(frozen.after[key], frozen.before[key], key);
  });

  it('a pretext head the model does not have is said calmly in the summary, not warned about', () => {
    const headless = new nn.Module();
    headless.registerModule('trunk', new ToyTrunk());
    const { report, logger } = load({ PARAMS_FILE: file('vissl.torch') }, headless as ToySSLModel);
    assert.deepEqual(report.unexpected, HEADS);
    assert.deepEqual(logger.warns, [], 'the usual case: a trunk taken from a pretext model');
    assert.match(logger.infos.join('\n'), /the file's head \(2 tensors\) unused: this model has its own/);
  });

  it('a shape mismatch names the tensor and both shapes, and copies nothing', () => {
    const model = new ToySSLModel();
    const before = values(model);
    assert.throws(
      () => initModelFromWeights(model, { PARAMS_FILE: file('wrong_shape.torch'), logger: recordingLogger() }),
      (error: Error) => {
        assert.match(error.message, /wrong_shape\.torch does not fit the model \(nothing was copied\)/);
        assert.match(
          error.message,
          /size mismatch for trunk\._feature_blocks\.conv1\.weight: copying a param with shape \[8, 3, 3, 3\], the shape in the current model is \[4, 3, 3, 3\]/,
        );
        return true;
      },
    );
    assert.deepEqual(values(model), before);
    model.dispose();
  });

  it('a missing file is an error naming the path', () => {
    const path = file('no-such-weights.torch');
    assert.throws(
      () => load({ PARAMS_FILE: path }),
      (error: Error) => error.message.includes(`PARAMS_FILE ${path} does not exist`),
    );
  });

  it('strict fails when model tensors are not in the file', () => {
    assert.throws(
      () =>
        load({
          PARAMS_FILE: file('torchvision_module.pth'),
          STATE_DICT_KEY_NAME: '',
          REMOVE_PREFIX: 'module.',
          APPEND_PREFIX: 'trunk._feature_blocks.',
          strict: true,
        }),
      /2 model tensors are not in the file \(strict\): heads\.0\.clf\.0\.weight, heads\.0\.clf\.0\.bias/,
    );
  });

  it('reads safetensors files by their extension', () => {
    const path = file('flat.safetensors');
    const conv = tensor(Array.from({ length: 108 }, (_, i) => i / 10)).reshape(4, 3, 3, 3);
    writeSafetensors(path, { 'trunk._feature_blocks.conv1.weight': conv });
    const { report, after } = load({ PARAMS_FILE: path, STATE_DICT_KEY_NAME: '' });
    assert.deepEqual(report.loaded, ['trunk._feature_blocks.conv1.weight']);
    assert.deepEqual(after['trunk._feature_blocks.conv1.weight'], conv.toArray());
    conv.dispose();
  });

  it('translates trunk names between feature-extractor (trunk.base_model.*) and plain models', () => {
    const weight = tensor([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
    const checkpoint = (trunk: Record<string, Tensor>) => ({
      classy_state_dict: { base_model: { model: { trunk, heads: { '0.clf.0.weight': weight } } } },
    });
    const bias = tensor([0.5, 1.5, 2.5, 3.5]);
    const plainSaved = checkpoint({ '_feature_blocks.bn1.bias': bias });
    const extractorSaved = checkpoint({ 'base_model._feature_blocks.bn1.bias': bias });

    const intoExtractor = load({ checkpoint: plainSaved }, new ToySSLModel(new ToyExtractorTrunk()));
    assert.deepEqual(intoExtractor.report.loaded, [
      'trunk.base_model._feature_blocks.bn1.bias',
      'heads.0.clf.0.weight',
    ]);
    assert.deepEqual(intoExtractor.after['trunk.base_model._feature_blocks.bn1.bias'], [0.5, 1.5, 2.5, 3.5]);

    const intoPlain = load({ checkpoint: extractorSaved });
    assert.deepEqual(intoPlain.report.loaded, ['trunk._feature_blocks.bn1.bias', 'heads.0.clf.0.weight']);

    const flat = load(
      { checkpoint: { 'trunk._feature_blocks.bn1.bias': bias }, STATE_DICT_KEY_NAME: '' },
      new ToySSLModel(new ToyExtractorTrunk()),
    );
    assert.deepEqual(flat.report.loaded, ['trunk.base_model._feature_blocks.bn1.bias']);
    assert.equal(bias.isDisposed, false, 'a checkpoint passed in stays the caller’s');
    bias.dispose();
    weight.dispose();
  });

  it("leaves no tensor behind: the file's tensors and the state dict handles are freed, also on errors", () => {
    load({ PARAMS_FILE: file('vissl.torch') }); // warm-up: lazily created tensors are not leaks
    const before = memoryStats().liveTensors;
    load({ PARAMS_FILE: file('vissl_legacy.torch') });
    assert.throws(() => load({ PARAMS_FILE: file('wrong_shape.torch') }));
    assert.throws(() => load({ PARAMS_FILE: file('torchvision_module.pth'), STATE_DICT_KEY_NAME: '' }));
    assert.equal(memoryStats().liveTensors, before);
  });
});
