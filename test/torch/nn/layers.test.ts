// Each layer's forward (train and eval where it matters) and its parameters' gradients against
// torch.nn with the same weights, which travel to PyTorch through the state dict.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, randn, tidy, type Tensor } from '../../../src/torch/index.js';
import * as nn from '../../../src/torch/nn/index.js';
import { Oracle } from '../../support/oracle.js';
import { assertClose } from '../../support/compare.js';

const oracle = new Oracle();
after(() => oracle.close());

interface Parity {
  /** Python constructing the same layer as `m`. */
  torchModule: string;
  layer: nn.Module;
  input: Tensor;
  /** Number of forward passes (each in the layer's current mode) before the compared one. */
  warmupSteps?: number;
}

/**
 * Runs forward and backward (upstream gradient g) in both libraries after copying our state dict
 * into the PyTorch module, and compares the output, input gradient, parameter gradients and the
 * state dict afterwards (running statistics).
 */
async function checkParity({ torchModule, layer, input, warmupSteps = 0 }: Parity): Promise<void> {
  const state = layer.stateDict();
  const names = Object.keys(state);
  const mode = layer.training ? 'train' : 'eval';
  const setup = [
    `m = ${torchModule}`,
    `m.load_state_dict({k: v for k, v in zip(NAMES, STATE)})`,
    `m.${mode}()`,
    `x.requires_grad_(True)`,
    `for _ in range(${warmupSteps}): m(x)`,
    `out = m(x)`,
    `out.backward(g)`,
    `params = [p.grad for _, p in m.named_parameters()]`,
    `after = list(m.state_dict().values())`,
  ].join('\n');
  const g = randn((await outputShape(layer, input)) as number[]);
  const inputs: Record<string, Tensor> = { x: input, g };
  names.forEach((name, i) => (inputs[`s${i}`] = state[name]!));
  const prelude = `NAMES = ${JSON.stringify(names)}\nSTATE = [${names.map((_, i) => `s${i}`).join(', ')}]\n`;
  const { outputs } = await oracle.run({ setup: prelude + setup, code: '(out, x.grad, *params, *after)', inputs });

  tidy(() => {
    const x = input.detach().requiresGrad_(true);
    for (let i = 0; i < warmupSteps; i++) layer.call(x);
    const out = layer.call(x);
    out.backward(g);
    const [expectedOut, expectedInputGrad, ...rest] = outputs as Tensor[];
    assertClose(out, expectedOut!, { rtol: 1e-4, atol: 1e-5 }, 'output');
    assertClose(x.grad!, expectedInputGrad!, { rtol: 1e-4, atol: 1e-5 }, 'input gradient');
    const params = [...layer.namedParameters()];
    params.forEach(([name, p], i) => assertClose(p.grad!, rest[i]!, { rtol: 1e-4, atol: 1e-4 }, `${name}.grad`));
    const after = Object.entries(layer.stateDict());
    after.forEach(([name, t], i) =>
      assertClose(t, rest[params.length + i]!, { rtol: 1e-5, atol: 1e-6 }, `state ${name}`),
    );
  });
  for (const t of Object.values(state)) t.dispose();
  g.dispose();
}

async function outputShape(layer: nn.Module, input: Tensor): Promise<number[]> {
  const wasTraining = layer.training;
  // Shape only: eval mode, so probing does not touch running statistics.
  const shape = tidy(() => layer.eval().call(input).shape);
  layer.train(wasTraining);
  return shape;
}

describe('nn layers match torch.nn', () => {
  manualSeed(1);

  it('Conv2d with stride, padding, groups and bias', async () => {
    const layer = new nn.Conv2d(4, 6, 3, { stride: 2, padding: 1, groups: 2 });
    await checkParity({
      torchModule: 'torch.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)',
      layer,
      input: randn([2, 4, 7, 7]),
    });
    layer.dispose();
  });

  it('Conv2d without bias', async () => {
    const layer = new nn.Conv2d(3, 5, [3, 1], { bias: false, dilation: [2, 1] });
    await checkParity({
      torchModule: 'torch.nn.Conv2d(3, 5, (3, 1), bias=False, dilation=(2, 1))',
      layer,
      input: randn([2, 3, 8, 6]),
    });
    assert.deepEqual(Object.keys(layer.stateDict()), ['weight']);
    layer.dispose();
  });

  it('Linear', async () => {
    const layer = new nn.Linear(5, 3);
    await checkParity({ torchModule: 'torch.nn.Linear(5, 3)', layer, input: randn([4, 5]) });
    layer.dispose();
  });

  it('BatchNorm2d in train mode: output, gradients and running statistics after 3 steps', async () => {
    const layer = new nn.BatchNorm2d(3, { momentum: 0.2 });
    // Non-trivial affine parameters, so their gradients are checked through a real scale and shift.
    tidy(() => layer.loadStateDict({ weight: randn([3]), bias: randn([3]) }, { strict: false }));
    await checkParity({
      torchModule: 'torch.nn.BatchNorm2d(3, momentum=0.2)',
      layer,
      input: randn([4, 3, 5, 5]),
      warmupSteps: 2,
    });
    assert.equal(layer.numBatchesTracked!.item(), 3);
    assert.equal(layer.numBatchesTracked!.dtype, 'int64');
    layer.dispose();
  });

  it('BatchNorm2d with momentum null (cumulative average)', async () => {
    const layer = new nn.BatchNorm2d(2, { momentum: null });
    await checkParity({
      torchModule: 'torch.nn.BatchNorm2d(2, momentum=None)',
      layer,
      input: randn([3, 2, 4, 4]),
      warmupSteps: 2,
    });
    layer.dispose();
  });

  it('BatchNorm2d in eval mode uses the running statistics', async () => {
    const layer = new nn.BatchNorm2d(3);
    tidy(() =>
      layer.loadStateDict({ running_mean: randn([3]), running_var: randn([3]).abs().add(0.5) }, { strict: false }),
    );
    layer.eval();
    await checkParity({ torchModule: 'torch.nn.BatchNorm2d(3)', layer, input: randn([2, 3, 4, 4]) });
    layer.dispose();
  });

  it('BatchNorm2d without running statistics normalises with batch statistics in eval too', async () => {
    const layer = new nn.BatchNorm2d(3, { trackRunningStats: false, affine: false }).eval();
    assert.deepEqual(Object.keys(layer.stateDict()), []);
    await checkParity({
      torchModule: 'torch.nn.BatchNorm2d(3, track_running_stats=False, affine=False)',
      layer,
      input: randn([2, 3, 4, 4]),
    });
  });

  it('pooling, flatten, ReLU and Identity', async () => {
    const cases: [string, nn.Module][] = [
      ['torch.nn.MaxPool2d(3, stride=2, padding=1)', new nn.MaxPool2d(3, { stride: 2, padding: 1 })],
      [
        'torch.nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False, padding=1)',
        new nn.AvgPool2d(2, { ceilMode: true, countIncludePad: false, padding: 1 }),
      ],
      ['torch.nn.AdaptiveAvgPool2d((1, 1))', new nn.AdaptiveAvgPool2d([1, 1])],
      ['torch.nn.Flatten()', new nn.Flatten()],
      ['torch.nn.ReLU()', new nn.ReLU()],
      ['torch.nn.Identity()', new nn.Identity()],
    ];
    for (const [torchModule, layer] of cases) await checkParity({ torchModule, layer, input: randn([2, 3, 7, 7]) });
  });

  it('Dropout drops and rescales in training and is the identity in eval', () => {
    tidy(() => {
      const layer = new nn.Dropout(0.25);
      const x = randn([1000]).abs().add(1);
      const y = layer.call(x);
      const kept = y.ne(0).sum().item();
      assert.ok(kept > 650 && kept < 850, `kept ${kept} of 1000`);
      assertClose(y.sum(), y.ne(0).mul(x).sum().div(0.75), { rtol: 1e-4 });
      assertClose(layer.eval().call(x), x);
    });
  });

  it('Sequential chains its layers like torch.nn.Sequential', async () => {
    const layer = new nn.Sequential(
      new nn.Conv2d(3, 4, 3, { padding: 1 }),
      new nn.BatchNorm2d(4),
      new nn.ReLU(),
      new nn.AdaptiveAvgPool2d(1),
      new nn.Flatten(),
      new nn.Linear(4, 2),
    );
    await checkParity({
      torchModule:
        'torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2))',
      layer,
      input: randn([2, 3, 6, 6]),
    });
    layer.dispose();
  });
});
