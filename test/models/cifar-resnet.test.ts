// The CIFAR ResNet against a PyTorch definition of akamaster's architecture: a legacy-format
// checkpoint in akamaster's key layout loads (prefix removed) and the logits match; optionally the
// real pretrained ResNet-20 from the shared data folder.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { manualSeed, noGrad, randn, tidy, type Tensor } from '../../src/torch/index.js';
import { loadCheckpoint } from '../../src/torch/io/index.js';
import {
  CifarResNet,
  CifarResNetTrunk,
  buildModel,
  loadAkamasterStateDict,
  modelConfig,
} from '../../src/models/index.js';
import { Oracle } from '../support/oracle.js';
import { assertClose } from '../support/compare.js';
import { initModelFromWeights } from '../../src/models/weights-init.js';
import { asStateDict, decodeJson, disposeAll, tempFolder, withReference } from './support.js';
import { sharedData } from '../support/shared-data.js';

const oracle = new Oracle();
after(() => oracle.close());
const dir = tempFolder();
const PRETRAINED = sharedData('pretrained', 'akamaster_cifar10_resnet');

/**
 * Loads an akamaster-style checkpoint into our classifier the way a user would, with VISSL's
 * MODEL.WEIGHTS_INIT options (STATE_DICT_KEY_NAME: state_dict, REMOVE_PREFIX: 'module.'), and into
 * PyTorch's; returns both logits.
 */
async function compareLogits(path: string, depth: number, x: Tensor): Promise<[Tensor, Tensor]> {
  const model = new CifarResNet({ depth });
  const report = initModelFromWeights(model, {
    PARAMS_FILE: path,
    STATE_DICT_KEY_NAME: 'state_dict',
    REMOVE_PREFIX: 'module.',
    logger: { info: () => {}, warn: () => {} },
  });
  // Every tensor but the BN counters (which akamaster's files do not have) comes from the file.
  assert.deepEqual(report.missing, []);
  assert.deepEqual(report.unexpected, []);
  assert.ok(report.skipped.every((name) => name.endsWith('num_batches_tracked')));
  assert.equal(report.loaded.length, Object.keys(tidy(() => model.stateDict())).length - report.skipped.length);
  model.eval();
  const ours = noGrad(() => model.call(x));
  model.dispose();
  const { outputs } = await oracle.run({
    setup: withReference(`
m = CifarResNet(${depth})
sd = torch.load(${JSON.stringify(path)}, map_location='cpu')['state_dict']
m.load_state_dict({k[len('module.'):]: v for k, v in sd.items()}, strict=False)
m.eval()
`),
    code: 'm(x)',
    inputs: { x },
  });
  return [ours, outputs[0] as Tensor];
}

describe('CIFAR ResNet (akamaster)', () => {
  manualSeed(0);

  it('state-dict names equal akamaster without module. (plus BN counters)', async () => {
    const model = new CifarResNet({ depth: 20 });
    const { outputs } = await oracle.run({
      setup: withReference(''),
      code: 'shapes_json(CifarResNet(20).state_dict())',
    });
    const expected = decodeJson<Record<string, number[]>>(outputs[0] as Tensor);
    const ours = tidy(() => Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, v.shape])));
    assert.deepEqual(ours, expected);
    model.dispose();
  });

  it('a legacy-format checkpoint with random weights in akamaster layout loads; logits equal PyTorch', async () => {
    const path = join(dir, 'resnet20-legacy.th');
    await oracle.run({
      setup: withReference(`
m = randomize_bn(CifarResNet(20))
sd = {'module.' + k: v for k, v in m.state_dict().items() if not k.endswith('num_batches_tracked')}
torch.save({'best_prec1': 91.7, 'state_dict': sd}, ${JSON.stringify(path)}, _use_new_zipfile_serialization=False)
`),
      code: 'torch.zeros(1)',
    });
    const x = randn([4, 3, 32, 32]);
    const [ours, expected] = await compareLogits(path, 20, x);
    assertClose(ours, expected, { rtol: 1e-4, atol: 1e-5 }, 'logits');
    // The trunk alone loads the same checkpoint without the classifier.
    const state = asStateDict((loadCheckpoint(path) as Map<string, unknown>).get('state_dict'));
    const trunk = new CifarResNetTrunk({ depth: 20 });
    loadAkamasterStateDict(trunk, state);
    tidy(() => {
      const feats = noGrad(() => trunk.eval().features(x, ['conv1', 'res2', 'res3', 'res4', 'res4avg', 'flatten']));
      assert.deepEqual(
        [...feats.values()].map((t) => t.shape),
        [
          [4, 16, 32, 32],
          [4, 16, 32, 32],
          [4, 32, 16, 16],
          [4, 64, 8, 8],
          [4, 64, 1, 1],
          [4, 64],
        ],
      );
    });
    assert.throws(
      () => loadAkamasterStateDict(new CifarResNet({ depth: 32 }), state),
      /not an akamaster CIFAR ResNet-32/,
    );
    disposeAll(state);
    trunk.dispose();
    for (const t of [x, ours, expected]) t.dispose();
  });

  it('builds as MODEL.TRUNK.NAME cifar_resnet with trunk.conv1 names', () => {
    const model = buildModel(modelConfig({ trunk: 'cifar_resnet', depth: 56, heads: [['mlp', { dims: [64, 10] }]] }));
    const names = tidy(() => Object.keys(model.stateDict()));
    assert.equal(names[0], 'trunk.conv1.weight');
    assert.ok(names.includes('trunk.layer3.8.bn2.running_var'));
    const x = randn([2, 3, 32, 32]);
    tidy(() => assert.deepEqual(model.call(x)[0]!.shape, [2, 10]));
    x.dispose();
    model.dispose();
    assert.throws(() => new CifarResNet({ depth: 50 }), /unsupported CIFAR ResNet depth 50: use one of 20, 32/);
  });

  it("integration: the real pretrained akamaster ResNet-20 gives PyTorch's logits", async (t) => {
    const file = existsSync(PRETRAINED) ? readdirSync(PRETRAINED).find((f) => /^resnet20-.*\.th$/.test(f)) : undefined;
    if (file === undefined) {
      t.skip(`no ${PRETRAINED}/resnet20-*.th: the optional pretrained-checkpoint check is skipped`);
      return;
    }
    const x = randn([8, 3, 32, 32]);
    const [ours, expected] = await compareLogits(join(PRETRAINED, file), 20, x);
    assertClose(ours, expected, { rtol: 1e-4, atol: 1e-4 }, 'pretrained logits');
    for (const tensor of [x, ours, expected]) tensor.dispose();
  });
});
