// The SSL model (trunk + heads) built from VISSL MODEL configs: state-dict names, features by
// layer name with VISSL's pool ops, feature-eval mode (frozen trunk, one head per layer), heads
// against torch.nn, and one SGD training step (VISSL's parameter groups) against PyTorch.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  functional as F,
  manualSeed,
  memoryStats,
  noGrad,
  randint,
  randn,
  tidy,
  type Tensor,
} from '../../src/torch/index.js';
import { saveCheckpoint } from '../../src/torch/io/index.js';
import { Sequential, type Module } from '../../src/torch/nn/index.js';
import { SGD } from '../../src/torch/optim/index.js';
import { visslParamGroups } from '../../src/engine/param-groups.js';
import {
  modelConfig,
  buildModel,
  FeatureExtractor,
  LinearEvalMLP,
  ResNeXt,
  type ModelConfig,
  type PoolOpsEntry,
} from '../../src/models/index.js';
import { Oracle } from '../support/oracle.js';
import { assertClose } from '../support/compare.js';
import { tempFolder, withReference } from './support.js';

const oracle = new Oracle();
after(() => oracle.close());
const dir = tempFolder();

/** A MODEL config with VISSL's defaults, as the config system would produce. */
function config(
  depth: number,
  heads: ModelConfig['HEAD']['PARAMS'],
  evalSettings: Partial<ModelConfig['FEATURE_EVAL_SETTINGS']> = {},
): ModelConfig {
  return modelConfig({ depth, heads, evalSettings });
}

// configs/config/feature_extraction/trunk_only/rn50_layers.yaml
const RN50_LAYERS: PoolOpsEntry[] = [
  ['conv1', ['AvgPool2d', [[10, 10], 10, 4]]],
  ['res2', ['AvgPool2d', [[16, 16], 8, 0]]],
  ['res3', ['AvgPool2d', [[13, 13], 5, 0]]],
  ['res4', ['AvgPool2d', [[8, 8], 3, 0]]],
  ['res5', ['AvgPool2d', [[6, 6], 1, 0]]],
  ['res5avg', ['Identity', []]],
];

describe('SSL model', () => {
  manualSeed(0);

  it('ResNet-50 feature names and shapes at 224x224, raw and with the rn50_layers pool ops', () => {
    const trunk = new ResNeXt({ depth: 50 }).eval();
    const x = randn([1, 3, 224, 224]);
    tidy(() => {
      const names = ['conv1', 'res1', 'res2', 'res3', 'res4', 'res5', 'res5avg', 'flatten'];
      const feats = noGrad(() => trunk.features(x, names));
      assert.deepEqual([...feats.keys()], names);
      assert.deepEqual(
        [...feats.values()].map((t) => t.shape),
        [
          [1, 64, 112, 112],
          [1, 64, 56, 56],
          [1, 256, 56, 56],
          [1, 512, 28, 28],
          [1, 1024, 14, 14],
          [1, 2048, 7, 7],
          [1, 2048, 1, 1],
          [1, 2048],
        ],
      );
      const pooled = noGrad(() =>
        trunk.features(
          x,
          RN50_LAYERS.map(([n]) => n),
          { poolOps: Object.fromEntries(RN50_LAYERS), flatten: true },
        ),
      );
      assert.deepEqual(
        [...pooled.values()].map((t) => t.shape),
        [
          [1, 9216],
          [1, 9216],
          [1, 8192],
          [1, 9216],
          [1, 8192],
          [1, 2048],
        ],
      );
      // res5 pooled with AvgPool2d(7, 1, 0) is res5avg: the ClusterFit feature.
      const res5 = noGrad(() =>
        trunk.features(x, ['res5', 'res5avg'], { poolOps: { res5: ['AvgPool2d', [[7, 7], 1, 0]] }, flatten: true }),
      );
      assertClose(res5.get('res5')!, res5.get('res5avg')!, { rtol: 1e-5, atol: 1e-6 }, 'res5 pooled');
    });
    assert.throws(
      () => trunk.features(x, ['res6']),
      /ResNeXt has no feature 'res6': valid names are conv1, res1, res2, res3, res4, res5, res5avg, flatten/,
    );
    assert.throws(
      () => trunk.features(x, ['res5'], { poolOps: { res5: ['GeMPool', []] } }),
      /unknown pool op 'GeMPool' .*: use one of AvgPool2d, MaxPool2d, AdaptiveAvgPool2d, Identity/,
    );
    x.dispose();
    trunk.dispose();
  });

  it('features frees every block output it does not return, with and without pool ops', () => {
    const trunk = new ResNeXt({ depth: 18 }).eval();
    const x = randn([2, 3, 64, 64]);
    const before = memoryStats().liveTensors;
    const feats = noGrad(() =>
      trunk.features(x, ['res2', 'res4'], { poolOps: { res4: ['AvgPool2d', [[2, 2], 2, 0]] } }),
    );
    assert.equal(memoryStats().liveTensors, before + 2, 'only the two returned features are alive');
    assert.deepEqual(feats.get('res4')!.shape, [2, 256, 2, 2]);
    for (const t of feats.values()) t.dispose();
    const last = noGrad(() => trunk.call(x));
    assert.equal(memoryStats().liveTensors, before + 1, 'forward keeps only its output');
    last.dispose();
    assert.throws(() => trunk.features(x, []), /name at least one layer/);
    x.dispose();
    trunk.dispose();
  });

  it("state-dict names are VISSL's: trunk._feature_blocks.*, heads.0.clf.0.*, eval_mlp channel_bn and clf.clf.0", () => {
    const model = buildModel(config(18, [['mlp', { dims: [512, 16] }]]));
    const names = tidy(() => Object.keys(model.stateDict()));
    assert.equal(names[0], 'trunk._feature_blocks.conv1.weight');
    assert.ok(names.includes('trunk._feature_blocks.layer2.0.downsample.0.weight'));
    assert.deepEqual(names.slice(-2), ['heads.0.clf.0.weight', 'heads.0.clf.0.bias']);
    model.dispose();

    const evalModel = buildModel(
      config(18, [['eval_mlp', { in_channels: 512, dims: [512, 10] }]], {
        EVAL_MODE_ON: true,
        FREEZE_TRUNK_ONLY: true,
        LINEAR_EVAL_FEAT_POOL_OPS_MAP: [['res5avg', ['Identity', []]]],
      }),
    );
    const evalNames = tidy(() => Object.keys(evalModel.stateDict()));
    assert.equal(evalNames[0], 'trunk.base_model._feature_blocks.conv1.weight');
    assert.deepEqual(
      evalNames.filter((n) => n.startsWith('heads.')),
      [
        'heads.0.channel_bn.weight',
        'heads.0.channel_bn.bias',
        'heads.0.channel_bn.running_mean',
        'heads.0.channel_bn.running_var',
        'heads.0.channel_bn.num_batches_tracked',
        'heads.0.clf.clf.0.weight',
        'heads.0.clf.clf.0.bias',
      ],
    );
    evalModel.dispose();
  });

  it('feature-eval mode: frozen trunk stays in eval mode, one eval_mlp head per pooled layer', () => {
    const model = buildModel(
      config(
        18,
        [
          ['eval_mlp', { in_channels: 128, dims: [128 * 4, 10] }],
          ['eval_mlp', { in_channels: 512, dims: [512, 10] }],
        ],
        {
          EVAL_MODE_ON: true,
          FREEZE_TRUNK_ONLY: true,
          SHOULD_FLATTEN_FEATS: false,
          LINEAR_EVAL_FEAT_POOL_OPS_MAP: [
            ['res3', ['AdaptiveAvgPool2d', [[2, 2]]]],
            ['res5avg', ['Identity', []]],
          ],
        },
      ),
    );
    assert.ok(model.trunk instanceof FeatureExtractor);
    assert.ok(model.trunk.parameters().every((p) => !p.requiresGrad));
    assert.ok(model.heads.parameters().every((p) => p.requiresGrad));
    // A parent switching modes reaches the trunk through its own train(): it stays in eval mode.
    new Sequential(model as unknown as Module).train();
    assert.ok(
      [...model.trunk.modules()].every((m) => !m.training),
      'trunk in eval mode',
    );
    assert.ok(
      [...model.heads.modules()].every((m) => m.training),
      'heads in train mode',
    );
    const trunkStats = tidy(() => model.trunk.buffers().map((b) => b.clone()));
    const x = randn([4, 3, 64, 64]);
    tidy(() => {
      const outputs = model.call(x);
      assert.deepEqual(
        outputs.map((o) => o.shape),
        [
          [4, 10],
          [4, 10],
        ],
      );
      F.crossEntropy(outputs[0]!, randint(0, 10, [4])).backward();
      // The frozen trunk's running statistics did not move; the heads' BN did.
      model.trunk.buffers().forEach((b, i) => assertClose(b, trunkStats[i]!, { rtol: 0, atol: 0 }, 'trunk buffer'));
      const headBn = (model.heads.at(0) as LinearEvalMLP).channel_bn;
      assert.equal(headBn.numBatchesTracked!.item(), 1);
    });
    for (const b of trunkStats) b.dispose();
    x.dispose();
    model.dispose();
  });

  it('heads run in sequence on one trunk output; EXTRACT_TRUNK_FEATURES_ONLY returns the features', () => {
    const chained = buildModel(
      config(18, [
        ['mlp', { dims: [512, 64], use_relu: true }],
        ['mlp', { dims: [64, 4] }],
      ]),
    );
    const x = randn([2, 3, 32, 32]);
    tidy(() => assert.deepEqual(chained.call(x)[0]!.shape, [2, 4]));
    chained.dispose();
    const extract = buildModel(
      config(18, [['mlp', { dims: [512, 4] }]], {
        EVAL_MODE_ON: true,
        FREEZE_TRUNK_ONLY: true,
        EXTRACT_TRUNK_FEATURES_ONLY: true,
        LINEAR_EVAL_FEAT_POOL_OPS_MAP: [
          ['res4', ['AvgPool2d', [[2, 2], 2, 0]]],
          ['res5avg', ['Identity', []]],
        ],
      }),
    );
    tidy(() =>
      assert.deepEqual(
        noGrad(() => extract.call(x)).map((t) => t.shape),
        [
          [2, 256],
          [2, 512],
        ],
      ),
    );
    extract.dispose();
    assert.throws(
      () => buildModel({ ...config(18, []), TRUNK: { ...config(18, []).TRUNK, NAME: 'vit' } }),
      /unknown MODEL.TRUNK.NAME 'vit': use one of resnet, cifar_resnet/,
    );
    assert.throws(() => buildModel(config(18, [['mlp', { dims: [512] }]])), /'dims' must list at least two/);
    assert.throws(() => buildModel(config(18, [['swav_head', { dims: [512, 4] }]])), /unknown head 'swav_head'/);
    assert.throws(
      () => buildModel(config(18, [['mlp', { dims: [512, 4], use_reul: true }]])),
      /mlp head: unknown setting\(s\) use_reul; it takes dims, use_bn/,
    );
    x.dispose();
  });

  it('mlp and eval_mlp heads equal torch.nn (BatchNorm2d, flatten, Linear) in train mode', async () => {
    const head = new LinearEvalMLP({ in_channels: 8, dims: [8 * 4, 5] });
    const x = randn([6, 8, 2, 2]);
    const ours = tidy(() => head.call(x));
    const state = tidy(() => head.stateDict());
    const { outputs } = await oracle.run({
      setup: `
bn = torch.nn.BatchNorm2d(8); bn.weight.data = w_bn; bn.bias.data = b_bn
fc = torch.nn.Linear(32, 5); fc.weight.data = w_fc; fc.bias.data = b_fc
`,
      code: 'fc(torch.flatten(bn(x), 1))',
      inputs: {
        x,
        w_bn: state['channel_bn.weight']!,
        b_bn: state['channel_bn.bias']!,
        w_fc: state['clf.clf.0.weight']!,
        b_fc: state['clf.clf.0.bias']!,
      },
    });
    assertClose(ours, outputs[0] as Tensor, { rtol: 1e-5, atol: 1e-6 }, 'eval_mlp');
    for (const t of [ours, x, ...Object.values(state)]) t.dispose();
    head.dispose();
  });

  it('two SGD steps (momentum 0.9, wd 1e-4, no wd on BN) of ResNet-18 + mlp leave the weights PyTorch leaves', async () => {
    const model = buildModel(config(18, [['mlp', { dims: [512, 10] }]]));
    const path = join(dir, 'ssl18.pt');
    tidy(() => saveCheckpoint(path, model.stateDict()));
    const x = randn([4, 3, 64, 64]);
    const y = randint(0, 10, [4]);
    const optimizer = new SGD(visslParamGroups(model, { weightDecay: 1e-4 }), { lr: 0.1, momentum: 0.9 });
    for (let step = 0; step < 2; step++) {
      tidy(() => {
        optimizer.zeroGrad();
        F.crossEntropy(model.call(x)[0]!, y).backward();
        optimizer.step();
      });
    }
    const { outputs } = await oracle.run({
      setup: withReference(`
import collections
class Trunk(torch.nn.Module):
    def __init__(self):
        super().__init__()
        tv = torchvision.models.resnet18()
        self._feature_blocks = torch.nn.ModuleDict(collections.OrderedDict([
            ('conv1', tv.conv1), ('bn1', tv.bn1), ('conv1_relu', tv.relu), ('maxpool', tv.maxpool),
            ('layer1', tv.layer1), ('layer2', tv.layer2), ('layer3', tv.layer3), ('layer4', tv.layer4),
            ('avgpool', tv.avgpool), ('flatten', torch.nn.Flatten(1))]))
    def forward(self, x):
        for block in self._feature_blocks.values():
            x = block(x)
        return x
class Head(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.clf = torch.nn.Sequential(torch.nn.Linear(512, 10))
    def forward(self, x):
        return self.clf(x)
m = torch.nn.Module()
m.trunk = Trunk()
m.heads = torch.nn.ModuleList([Head()])
m.load_state_dict(torch.load(${JSON.stringify(path)}))
m.train()
bn_params = [p for mod in m.modules() if isinstance(mod, torch.nn.BatchNorm2d) for p in mod.parameters()]
others = [p for p in m.parameters() if all(p is not q for q in bn_params)]
opt = torch.optim.SGD([{'params': others, 'weight_decay': 1e-4}, {'params': bn_params, 'weight_decay': 0}],
                      lr=0.1, momentum=0.9)
for _ in range(2):
    opt.zero_grad()
    F.cross_entropy(m.heads[0](m.trunk(x)), y).backward()
    opt.step()
sd = m.state_dict()
names = list(sd.keys())
result = [shapes_json(sd)] + list(sd.values())
`),
      code: 'result',
      inputs: { x, y },
    });
    const state = tidy(() => model.stateDict());
    const expectedNames = Object.keys(
      JSON.parse(Buffer.from((outputs[0] as Tensor).data() as Uint8Array).toString()) as object,
    );
    assert.deepEqual(Object.keys(state), expectedNames);
    Object.entries(state).forEach(([name, t], i) =>
      assertClose(t, outputs[1 + i] as Tensor, { rtol: 1e-4, atol: 1e-5 }, name),
    );
    for (const t of [...Object.values(state), x, y]) t.dispose();
    optimizer.dispose();
    model.dispose();
  });
});
