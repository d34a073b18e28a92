// SGD against torch.optim.SGD: the same parameters after several steps of a small model with two
// parameter groups (the second, like BN parameters in VISSL, without weight decay), for plain,
// dampened and Nesterov momentum; and a state dict that PyTorch loads and continues from.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, memoryStats, randn, tidy, type Tensor } from '../../../src/torch/index.js';
import { SGD, type SGDOptions, type SGDStateDict } from '../../../src/torch/optim/index.js';
import { Oracle } from '../../support/oracle.js';
import { assertClose } from '../../support/compare.js';

const oracle = new Oracle();
after(() => oracle.close());

manualSeed(3);
const x = randn([5, 3]);
const initial = [randn([3, 4]), randn([4]), randn([4]), randn([4])];

const TORCH_MODEL = `
def loss_of(ps):
    return ((x @ ps[0] + ps[1]) * ps[2] + ps[3]).pow(2).mean()

def train(opt, ps, steps):
    for _ in range(steps):
        opt.zero_grad()
        loss_of(ps).backward()
        opt.step()
`;

function trainSteps(optimizer: SGD, params: Tensor[], steps: number): void {
  for (let i = 0; i < steps; i++) {
    tidy(() => {
      optimizer.zeroGrad();
      const [w, b, gamma, beta] = params as [Tensor, Tensor, Tensor, Tensor];
      x.matmul(w).add(b).mul(gamma).add(beta).pow(2).mean().backward();
      optimizer.step();
    });
  }
}

function freshParams(): Tensor[] {
  return initial.map((t) => t.clone().requiresGrad_(true));
}

function groupsOf(params: Tensor[]) {
  return [
    { params: params.slice(0, 2), weightDecay: 0.05 },
    { params: params.slice(2), weightDecay: 0, lr: 0.03 },
  ];
}

function pythonOptions(o: SGDOptions): string {
  return `lr=${o.lr}, momentum=${o.momentum ?? 0}, dampening=${o.dampening ?? 0}, nesterov=${o.nesterov ? 'True' : 'False'}`;
}

const TORCH_GROUPS = `[{'params': ps[:2], 'weight_decay': 0.05}, {'params': ps[2:], 'weight_decay': 0, 'lr': 0.03}]`;
const INPUTS = { x, p0: initial[0]!, p1: initial[1]!, p2: initial[2]!, p3: initial[3]! };
const TORCH_PARAMS = 'ps = [p.clone().requires_grad_(True) for p in (p0, p1, p2, p3)]';

describe('SGD matches torch.optim.SGD', () => {
  const variants: [string, SGDOptions][] = [
    ['no momentum', { lr: 0.1 }],
    ['momentum', { lr: 0.1, momentum: 0.9 }],
    ['momentum with dampening', { lr: 0.1, momentum: 0.9, dampening: 0.3 }],
    ['nesterov', { lr: 0.1, momentum: 0.9, nesterov: true }],
  ];
  for (const [name, options] of variants) {
    it(`${name}, two parameter groups, 4 steps`, async () => {
      const setup = `${TORCH_MODEL}\n${TORCH_PARAMS}\nopt = torch.optim.SGD(${TORCH_GROUPS}, ${pythonOptions(options)})\ntrain(opt, ps, 4)`;
      const { outputs } = await oracle.run({ setup, code: 'ps', inputs: INPUTS });
      const params = freshParams();
      const optimizer = new SGD(groupsOf(params), options);
      trainSteps(optimizer, params, 4);
      params.forEach((p, i) => assertClose(p, outputs[i] as Tensor, { rtol: 1e-5, atol: 1e-6 }, `param ${i}`));
      optimizer.dispose();
      params.forEach((p) => p.dispose());
    });
  }

  it('state dict: PyTorch layout, loaded by torch.optim.SGD and by SGD, both continue identically', async () => {
    const options = { lr: 0.1, momentum: 0.9, dampening: 0.1 };
    const params = freshParams();
    const first = new SGD(groupsOf(params), options);
    trainSteps(first, params, 2);
    const saved: SGDStateDict = first.stateDict();
    first.dispose();
    assert.deepEqual(
      saved.param_groups.map(({ params: indices, weight_decay, lr }) => ({ indices, weight_decay, lr })),
      [
        { indices: [0, 1], weight_decay: 0.05, lr: 0.1 },
        { indices: [2, 3], weight_decay: 0, lr: 0.03 },
      ],
    );
    assert.deepEqual(Object.keys(saved.state), ['0', '1', '2', '3']);

    // PyTorch: the parameters after our 2 steps, our state dict, 2 more steps.
    const buffers = Object.fromEntries([0, 1, 2, 3].map((i) => [`m${i}`, saved.state[i]!.momentum_buffer!]));
    const setup = [
      TORCH_MODEL,
      'import json',
      'ps = [p.clone().requires_grad_(True) for p in (q0, q1, q2, q3)]',
      `opt = torch.optim.SGD(${TORCH_GROUPS}, ${pythonOptions(options)})`,
      `opt.load_state_dict({'state': {i: {'momentum_buffer': m} for i, m in enumerate((m0, m1, m2, m3))}, 'param_groups': json.loads('${JSON.stringify(saved.param_groups)}')})`,
      'train(opt, ps, 2)',
    ].join('\n');
    const current = Object.fromEntries(params.map((p, i) => [`q${i}`, p.detach()]));
    const { outputs } = await oracle.run({ setup, code: 'ps', inputs: { x, ...current, ...buffers } });

    // Ours: a fresh optimizer over the same parameters, loading the state dict, 2 more steps.
    const second = new SGD(groupsOf(params), { lr: 1 });
    second.loadStateDict(saved);
    assert.deepEqual(
      second.paramGroups.map((g) => [g.lr, g.momentum, g.dampening, g.weightDecay]),
      [
        [0.1, 0.9, 0.1, 0.05],
        [0.03, 0.9, 0.1, 0],
      ],
    );
    trainSteps(second, params, 2);
    params.forEach((p, i) => assertClose(p, outputs[i] as Tensor, { rtol: 1e-5, atol: 1e-6 }, `param ${i}`));
    // And both equal 4 uninterrupted steps.
    const straight = freshParams();
    const uninterrupted = new SGD(groupsOf(straight), options);
    trainSteps(uninterrupted, straight, 4);
    params.forEach((p, i) => assertClose(p, straight[i]!, { rtol: 1e-6, atol: 1e-7 }, `param ${i} vs uninterrupted`));

    for (const t of [...Object.values(buffers), ...Object.values(current), ...params, ...straight]) t.dispose();
    second.dispose();
    uninterrupted.dispose();
  });

  it('a step leaks no tensor handles and zeroGrad clears or zeroes gradients', () => {
    const params = freshParams();
    const optimizer = new SGD(groupsOf(params), { lr: 0.1, momentum: 0.9, weightDecay: 1e-4, nesterov: true });
    trainSteps(optimizer, params, 1);
    const live = memoryStats().liveTensors;
    trainSteps(optimizer, params, 5);
    assert.equal(memoryStats().liveTensors, live);
    optimizer.zeroGrad({ setToNone: false });
    tidy(() => assert.equal(params[0]!.grad!.abs().sum().item(), 0));
    optimizer.zeroGrad();
    assert.equal(params[0]!.grad, null);
    optimizer.dispose();
    params.forEach((p) => p.dispose());
  });

  it('rejects invalid settings as PyTorch does', () => {
    const params = freshParams();
    assert.throws(() => new SGD(params), /learning rate/);
    assert.throws(() => new SGD(params, { lr: 0.1, nesterov: true }), /Nesterov/);
    assert.throws(() => new SGD([{ params }, { params: params.slice(0, 1) }], { lr: 0.1 }), /more than one/);
    params.forEach((p) => p.dispose());
  });
});
