// VISSL's parameter groups for regularize_bn False / regularize_bias True (the ClusterFit and
// RotNet configs) and the other combinations.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as nn from '../../src/torch/nn/index.js';
import { visslParamGroups } from '../../src/engine/param-groups.js';
import type { Tensor } from '../../src/torch/index.js';

class Model extends nn.Module {
  readonly conv = new nn.Conv2d(3, 4, 3);
  readonly bn = new nn.BatchNorm2d(4);
  readonly fc = new nn.Linear(4, 2);
  readonly headBn = new nn.BatchNorm2d(4);
  constructor() {
    super();
    this.registerModule('trunk', new nn.Sequential(this.conv, this.bn));
    this.registerModule('heads', new nn.ModuleList([new nn.Sequential(this.headBn, this.fc)]));
  }
}

describe('VISSL parameter groups', () => {
  const model = new Model();
  const { conv, bn, fc, headBn } = model;
  const groups = (options: Parameters<typeof visslParamGroups>[1]) =>
    visslParamGroups(model, options).map((g) => ({ params: g.params, weightDecay: g.weightDecay }));

  it('ClusterFit: conv/linear weights and biases decay, BN weight and bias do not', () => {
    assert.deepEqual(groups({ weightDecay: 1e-4 }), [
      { params: [conv.weight, conv.bias], weightDecay: 1e-4 },
      { params: [bn.weight, bn.bias], weightDecay: 0 },
      { params: [fc.weight, fc.bias], weightDecay: 1e-4 },
      { params: [headBn.weight, headBn.bias], weightDecay: 0 },
    ]);
  });

  it('regularize_bias False keeps biases out; regularize_bn True decays BN weights (and biases with regularize_bias)', () => {
    const noBias = groups({ weightDecay: 1e-4, regularizeBias: false, headWeightDecay: 5e-4 });
    assert.deepEqual(noBias[0]!.params, [conv.weight]);
    assert.deepEqual(noBias[1]!.params, [conv.bias, bn.weight, bn.bias]);
    assert.equal(noBias[2]!.weightDecay, 5e-4);
    const withBn = groups({ weightDecay: 1e-4, regularizeBn: true });
    assert.deepEqual(withBn[0]!.params, [conv.weight, conv.bias, bn.weight, bn.bias]);
    assert.deepEqual(withBn[1]!.params, []);
    const bnWithoutBias = groups({ weightDecay: 1e-4, regularizeBn: true, regularizeBias: false });
    assert.deepEqual(bnWithoutBias[1]!.params, [conv.bias, bn.bias]);
  });

  it('every trainable parameter is in exactly one group; frozen ones are left out', () => {
    (conv.bias as Tensor).requiresGrad_(false);
    const all = visslParamGroups(model, { weightDecay: 1e-4 }).flatMap((g) => g.params);
    assert.equal(all.length, model.parameters().length - 1);
    assert.equal(new Set(all).size, all.length);
    assert.ok(!all.includes(conv.bias!));
    model.dispose();
  });
});
