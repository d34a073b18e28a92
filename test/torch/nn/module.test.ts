// Module bookkeeping: names and order as PyTorch, strict/non-strict loading, modes, conversions,
// lifetime under tidy, default initialisation bounds, and a leak check over a training loop.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  functional,
  manualSeed,
  memoryStats,
  randint,
  randn,
  std,
  tidy,
  zeros,
  type Tensor,
} from '../../../src/torch/index.js';
import * as nn from '../../../src/torch/nn/index.js';
import { SGD } from '../../../src/torch/optim/index.js';
import { Oracle } from '../../support/oracle.js';

const oracle = new Oracle();
after(() => oracle.close());

/** A VISSL-trunk-like model: a ModuleDict of blocks, one of them a Sequential, plus a head. */
function smallModel(): nn.Sequential {
  const blocks = new nn.ModuleDict({
    conv1: new nn.Conv2d(3, 8, 3, { stride: 2, padding: 1, bias: false }),
    bn1: new nn.BatchNorm2d(8),
    conv1_relu: new nn.ReLU(true),
    layer1: new nn.Sequential(new nn.Conv2d(8, 8, 3, { padding: 1 }), new nn.BatchNorm2d(8)),
    avgpool: new nn.AdaptiveAvgPool2d(1),
    flatten: new nn.Flatten(),
  });
  return new nn.Sequential(new BlocksInOrder(blocks), new nn.Linear(8, 4));
}

/** Runs a ModuleDict's blocks in insertion order, as VISSL's trunk does. */
class BlocksInOrder extends nn.Module {
  constructor(readonly blocks: nn.ModuleDict<nn.Module>) {
    super();
    this.registerModule('_feature_blocks', blocks);
  }
  override forward(input: Tensor): Tensor {
    let x = input;
    for (const block of this.blocks.values()) x = block.call(x);
    return x;
  }
}

const TORCH_MODEL = `
import collections
class Blocks(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self._feature_blocks = torch.nn.ModuleDict(collections.OrderedDict([
            ('conv1', torch.nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)),
            ('bn1', torch.nn.BatchNorm2d(8)),
            ('conv1_relu', torch.nn.ReLU(True)),
            ('layer1', torch.nn.Sequential(torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.BatchNorm2d(8))),
            ('avgpool', torch.nn.AdaptiveAvgPool2d(1)),
            ('flatten', torch.nn.Flatten()),
        ]))
m = torch.nn.Sequential(Blocks(), torch.nn.Linear(8, 4))
names = list(m.state_dict().keys())
params = [n for n, _ in m.named_parameters()]
buffers = [n for n, _ in m.named_buffers()]
modules = [n for n, _ in m.named_modules()]
import json
names_json = torch.tensor(list(json.dumps([names, params, buffers, modules]).encode()), dtype=torch.uint8)
`;

describe('Module', () => {
  manualSeed(0);

  it('state dict, parameter, buffer and module names and order equal PyTorch', async () => {
    const model = smallModel();
    const { outputs } = await oracle.run({ setup: TORCH_MODEL, code: 'names_json' });
    const json = Buffer.from((outputs[0] as Tensor).data() as Uint8Array).toString();
    const [names, params, buffers, modules] = JSON.parse(json) as string[][];
    tidy(() => assert.deepEqual(Object.keys(model.stateDict()), names));
    assert.deepEqual(
      [...model.namedParameters()].map(([n]) => n),
      params,
    );
    assert.deepEqual(
      [...model.namedBuffers()].map(([n]) => n),
      buffers,
    );
    assert.deepEqual(
      [...model.namedModules()].map(([n]) => n),
      modules,
    );
    assert.equal([...model.children()].length, 2);
    model.dispose();
  });

  it('loadStateDict: strict reports missing, unexpected and mismatched keys; non-strict returns them', () => {
    const model = smallModel();
    tidy(() => {
      const state = model.stateDict();
      delete state['1.bias'];
      state['1.extra'] = zeros([1]);
      assert.throws(
        () => model.loadStateDict(state),
        /Missing key\(s\) in state_dict: 1\.bias[\s\S]*Unexpected key\(s\) in state_dict: 1\.extra/,
      );
      assert.deepEqual(model.loadStateDict(state, { strict: false }), {
        missingKeys: ['1.bias'],
        unexpectedKeys: ['1.extra'],
      });
      state['1.weight'] = zeros([3, 8]);
      assert.throws(
        () => model.loadStateDict(state, { strict: false }),
        /size mismatch for 1\.weight: copying a param with shape \[3, 8\]/,
      );
      // Loading copies in place: the model's tensors stay the same objects.
      const weight = model.parameters()[0]!;
      model.loadStateDict({ ...model.stateDict(), '0._feature_blocks.conv1.weight': zeros([8, 3, 3, 3]) });
      assert.equal(model.parameters()[0], weight);
      assert.equal(weight.abs().sum().item(), 0);
    });
    model.dispose();
  });

  it('train/eval reach every descendant; zeroGrad clears gradients', () => {
    const model = smallModel().eval();
    assert.ok([...model.modules()].every((m) => !m.training));
    model.train();
    assert.ok([...model.modules()].every((m) => m.training));
    tidy(() =>
      model
        .call(randn([2, 3, 8, 8]))
        .sum()
        .backward(),
    );
    assert.ok(model.parameters().every((p) => tidy(() => p.grad !== null)));
    model.zeroGrad();
    assert.ok(model.parameters().every((p) => p.grad === null));
    model.dispose();
  });

  it('to(dtype) casts floating tensors only; toChannelsLast lays out 4-d tensors as NHWC', () => {
    const model = smallModel();
    model.to('float64');
    const bn = model.at(0)!.getModule('_feature_blocks')!.getModule('bn1') as nn.BatchNorm2d;
    assert.equal(bn.weight!.dtype, 'float64');
    assert.equal(bn.runningMean!.dtype, 'float64');
    assert.equal(bn.numBatchesTracked!.dtype, 'int64');
    assert.ok(model.parameters().every((p) => p.requiresGrad && p.isLeaf));
    tidy(() => assert.equal(model.call(randn([1, 3, 8, 8], { dtype: 'float64' })).dtype, 'float64'));
    model.toChannelsLast();
    const conv = model.parameters()[0]!;
    assert.ok(conv.isContiguous('channelsLast') && !conv.isContiguous());
    model.dispose();
  });

  it('an optimizer built before a conversion fails loudly on its first step', () => {
    const model = smallModel();
    const optimizer = new SGD(model.parameters(), { lr: 0.1 });
    model.to('float64');
    assert.throws(() => optimizer.step(), /build the optimizer after moving the model/);
    model.dispose();
  });

  it('parameters and buffers survive tidy scopes; dispose frees them all', () => {
    const before = memoryStats().liveTensors;
    const model = tidy(() => smallModel());
    const count = model.parameters().length + model.buffers().length;
    assert.equal(memoryStats().liveTensors, before + count);
    model.dispose();
    assert.equal(memoryStats().liveTensors, before);
  });

  it('default initialisation: Conv/Linear uniform within 1/sqrt(fan_in), BN weight 1 and bias 0', () => {
    const conv = new nn.Conv2d(16, 32, 3);
    const fanIn = 16 * 9;
    tidy(() => {
      for (const t of [conv.weight, conv.bias!]) {
        assert.ok(t.abs().max().item() <= 1 / Math.sqrt(fanIn));
        assert.ok(t.abs().max().item() > 0.8 / Math.sqrt(fanIn), 'fills the range');
      }
    });
    const bn = new nn.BatchNorm2d(4);
    assert.deepEqual(bn.weight!.toArray(), [1, 1, 1, 1]);
    assert.deepEqual(bn.bias!.toArray(), [0, 0, 0, 0]);
    const w = zeros([256, 64, 3, 3]);
    nn.init.kaimingNormal_(w, { mode: 'fan_out', nonlinearity: 'relu' });
    const spread = tidy(() => std(w).item());
    assert.ok(Math.abs(spread - Math.sqrt(2 / (256 * 9))) < 0.02 * spread, `std ${spread}`);
    w.dispose();
    conv.dispose();
    bn.dispose();
  });

  it('a few hundred training steps inside tidy leave the live tensor count constant', () => {
    const model = smallModel();
    const optimizer = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
    const x = randn([4, 3, 8, 8]);
    const y = randint(0, 4, [4]);
    const step = (): void =>
      tidy(() => {
        optimizer.zeroGrad();
        functional.crossEntropy(model.call(x), y).backward();
        optimizer.step();
      });
    step(); // creates the momentum buffers
    const live = memoryStats().liveTensors;
    for (let i = 0; i < 300; i++) step();
    assert.equal(memoryStats().liveTensors, live);
    optimizer.dispose();
    model.dispose();
    x.dispose();
    y.dispose();
  });
});
