// The VISSL ResNet trunk against torchvision: eval outputs at every VISSL layer from the same
// weights, train-mode forward, every gradient and the running statistics, and parameter shapes for
// ResNeXt and wide variants.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { manualSeed, noGrad, randn, tidy, type Tensor } from '../../src/torch/index.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/torch/io/index.js';
import { BatchNorm2d } from '../../src/torch/nn/index.js';
import { ResNeXt, torchvisionToVissl, visslToTorchvision } from '../../src/models/index.js';
import { atOracleThreads, Oracle } from '../support/oracle.js';
import { assertClose } from '../support/compare.js';
import { asStateDict, decodeJson, disposeAll, tempFolder, withReference } from './support.js';

const oracle = new Oracle();
after(() => oracle.close());
const dir = tempFolder();
const LAYERS = ['conv1', 'res1', 'res2', 'res3', 'res4', 'res5', 'res5avg', 'flatten'];

describe('ResNeXt trunk (VISSL "resnet") vs torchvision', () => {
  manualSeed(0);

  it('ResNet-50 from a torchvision state dict equals torchvision at conv1..flatten in eval mode', async () => {
    const path = join(dir, 'rn50.pt');
    await oracle.run({
      setup: withReference(
        `torch.save(randomize_bn(torchvision.models.resnet50()).state_dict(), ${JSON.stringify(path)})`,
      ),
      code: 'torch.zeros(1)',
    });
    const loaded = asStateDict(loadCheckpoint(path));
    const { stateDict, dropped } = torchvisionToVissl(loaded);
    assert.deepEqual(dropped, ['fc.weight', 'fc.bias']);
    assert.ok('_feature_blocks.layer1.0.downsample.1.running_var' in stateDict);
    const trunk = new ResNeXt({ depth: 50 });
    trunk.loadStateDict(stateDict);
    disposeAll(loaded);
    trunk.eval();
    const x = randn([2, 3, 96, 96]);
    // Fifty-odd convolutions deep, summation order matters at 1e-4: compared at the oracle's thread count.
    const ours = atOracleThreads(() => noGrad(() => trunk.features(x, LAYERS)));
    const { outputs } = await oracle.run({
      setup: withReference(
        `m = torchvision.models.resnet50(); m.load_state_dict(torch.load(${JSON.stringify(path)})); m.eval()`,
      ),
      code: 'resnet_stages(m, x)',
      inputs: { x },
    });
    LAYERS.forEach((name, i) =>
      assertClose(ours.get(name)!, outputs[i] as Tensor, { rtol: 1e-4, atol: 1e-4 }, `ResNet-50 ${name}`),
    );
    // The plain forward is the last block's output.
    tidy(() =>
      assertClose(
        atOracleThreads(() => noGrad(() => trunk.call(x))), // the same thread count as `ours`, for 0 tolerance
        ours.get('flatten')!,
        { rtol: 0, atol: 0 },
        'forward',
      ),
    );
    trunk.dispose();
  });

  it('ResNet-18 in train mode: output, every parameter gradient and the running statistics match', async () => {
    const trunk = new ResNeXt({ depth: 18 });
    const path = join(dir, 'rn18.pt');
    const initial = trunk.stateDict();
    saveCheckpoint(path, visslToTorchvision(initial));
    disposeAll(initial);
    const x = randn([4, 3, 64, 64]);
    const g = randn([4, 512]);
    trunk.train();
    tidy(() => trunk.call(x).mul(g).sum().backward());
    const { outputs } = await oracle.run({
      setup: withReference(`
m = torchvision.models.resnet18()
m.fc = torch.nn.Identity()
m.load_state_dict(torch.load(${JSON.stringify(path)}))
m.train()
out = m(x)
(out * g).sum().backward()
names = [n for n, _ in m.named_parameters()]
bns = [mod for mod in m.modules() if isinstance(mod, torch.nn.BatchNorm2d)]
result = [shapes_json(dict(m.named_parameters())), out] + [p.grad for _, p in m.named_parameters()] + \\
         [b.running_mean for b in bns] + [b.running_var for b in bns]
`),
      code: 'result',
      inputs: { x, g },
    });
    const names = Object.keys(decodeJson<Record<string, number[]>>(outputs[0] as Tensor));
    const params = [...trunk.namedParameters()];
    assert.deepEqual(
      params.map(([n]) => n),
      names.map((n) => `_feature_blocks.${n}`),
      'parameter order',
    );
    tidy(() => assertClose(trunk.call(x), outputs[1] as Tensor, { rtol: 1e-4, atol: 1e-5 }, 'output'));
    params.forEach(([name, p], i) =>
      tidy(() => assertClose(p.grad!, outputs[2 + i] as Tensor, { rtol: 1e-3, atol: 1e-5 }, `grad ${name}`)),
    );
    // Running statistics after exactly two train-mode forwards on both sides would differ: compare
    // after the first one, which is all PyTorch ran, by rebuilding ours from the saved state.
    const fresh = new ResNeXt({ depth: 18 });
    const saved = asStateDict(loadCheckpoint(path));
    const { stateDict } = torchvisionToVissl(saved);
    fresh.loadStateDict(stateDict);
    disposeAll(saved);
    tidy(() => fresh.call(x));
    const bns = [...fresh.namedModules()].filter(
      (entry): entry is [string, BatchNorm2d] => entry[1] instanceof BatchNorm2d,
    );
    const offset = 2 + params.length;
    bns.forEach(([name, bn], i) => {
      assertClose(bn.runningMean!, outputs[offset + i] as Tensor, { rtol: 1e-4, atol: 1e-6 }, `${name} running_mean`);
      assertClose(
        bn.runningVar!,
        outputs[offset + bns.length + i] as Tensor,
        { rtol: 1e-4, atol: 1e-6 },
        `${name} running_var`,
      );
    });
    trunk.dispose();
    fresh.dispose();
  });

  it('parameter shapes equal torchvision for ResNeXt-50 32x4d and Wide ResNet-50-2, and VISSL for WIDTH_MULTIPLIER 2', async () => {
    const cases: [string, ResNeXt][] = [
      ['torchvision.models.resnext50_32x4d().state_dict()', new ResNeXt({ depth: 50, groups: 32, widthPerGroup: 4 })],
      ['torchvision.models.wide_resnet50_2().state_dict()', new ResNeXt({ depth: 50, widthPerGroup: 128 })],
      ['vissl_width_trunk([3, 4, 6, 3], 2).state_dict()', new ResNeXt({ depth: 50, widthMultiplier: 2 })],
    ];
    for (const [code, trunk] of cases) {
      const { outputs } = await oracle.run({ setup: withReference(''), code: `shapes_json(${code})` });
      const expected = decodeJson<Record<string, number[]>>(outputs[0] as Tensor);
      delete expected['fc.weight'];
      delete expected['fc.bias'];
      const ours = tidy(() => {
        const state = visslToTorchvision(trunk.stateDict());
        return Object.fromEntries(Object.entries(state).map(([k, v]) => [k, v.shape]));
      });
      assert.deepEqual(ours, expected, code);
      trunk.dispose();
    }
    const wide = new ResNeXt({ depth: 50, widthMultiplier: 2 });
    assert.equal(wide.outChannels, 4096);
    wide.dispose();
  });

  it('ZERO_INIT_RESIDUAL zeroes the last BN of every block; convs are kaiming-normal fan_out', () => {
    const trunk = new ResNeXt({ depth: 18, zeroInitResidual: true });
    tidy(() => {
      const state = trunk.stateDict();
      for (const [name, t] of Object.entries(state)) {
        if (/layer\d\.\d\.bn2\.weight$/.test(name)) assert.equal(t.abs().sum().item(), 0, name);
        if (/layer\d\.\d\.bn1\.weight$/.test(name)) assert.equal(t.min().item(), 1, name);
      }
      const w = state['_feature_blocks.layer3.0.conv2.weight']!; // 256 x 256 x 3 x 3
      const std = Math.sqrt(w.square().mean().item());
      const expected = Math.sqrt(2 / (256 * 9));
      assert.ok(Math.abs(std - expected) < 0.03 * expected, `std ${std} vs ${expected}`);
    });
    trunk.dispose();
  });

  it('bad settings and names fail with a clear message', () => {
    assert.throws(() => new ResNeXt({ depth: 42 }), /unsupported ResNet depth 42: use one of 18, 34, 50/);
    assert.throws(() => new ResNeXt({ depth: 18, groups: 32 }), /BasicBlock .* only supports GROUPS=1/);
    assert.throws(() => new ResNeXt({ depth: 50, layer4Stride: 3 }), /LAYER4_STRIDE must be 1 or 2/);
    assert.throws(
      () => visslToTorchvision({ 'trunk._feature_blocks.conv1.weight': randn([1]) }),
      /remove prefixes such as 'trunk.'/,
    );
  });
});
