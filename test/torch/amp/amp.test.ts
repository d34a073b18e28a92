// Mixed precision against PyTorch: autocast (CPU bfloat16) forward and backward of the curated ops
// and of a ResNet bottleneck block equal torch.autocast('cpu', dtype=torch.bfloat16), and the
// GradScaler's scales, skipped steps and state dict follow PyTorch's GradScaler step for step.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { amp, functional as F, manualSeed, randn, tensor, tidy, zeros, type Tensor } from '../../../src/torch/index.js';
import { SGD } from '../../../src/torch/optim/index.js';
import { Bottleneck } from '../../../src/models/blocks.js';
import { Oracle } from '../../support/oracle.js';
import { assertClose } from '../../support/compare.js';
import { referenceScript } from '../../support/reference-script.js';

const oracle = new Oracle();
after(() => oracle.close());
const reference = referenceScript('torch/amp');
// bfloat16 has 8 significant bits: one rounding step is 2^-8 relative. Both sides run the same
// libtorch kernels, so most elements agree exactly; the tolerance allows a step or two.
const BF16 = { rtol: 2e-2, atol: 2e-2 };
const AUTOCAST = (body: string) => `with torch.autocast('cpu', dtype=torch.bfloat16):\n    ${body}`;
const cpuBf16 = <T>(fn: () => T): T => amp.autocast({ deviceType: 'cpu', dtype: 'bfloat16' }, fn);

describe('autocast on CPU (bfloat16) vs torch.autocast', () => {
  manualSeed(0);

  const cases: {
    name: string;
    inputs: () => Record<string, Tensor>;
    ours: (v: Record<string, Tensor>) => Tensor;
    py: string;
  }[] = [
    {
      name: 'conv2d',
      inputs: () => ({ x: randn([2, 3, 8, 8]), w: randn([4, 3, 3, 3]), b: randn([4]) }),
      ours: (v) => F.conv2d(v.x!, v.w!, v.b!, { padding: 1 }),
      py: 'out = F.conv2d(x, w, b, padding=1)',
    },
    {
      name: 'linear',
      inputs: () => ({ x: randn([5, 16]), w: randn([7, 16]), b: randn([7]) }),
      ours: (v) => F.linear(v.x!, v.w!, v.b!),
      py: 'out = F.linear(x, w, b)',
    },
    {
      name: 'matmul',
      inputs: () => ({ x: randn([6, 9]), w: randn([9, 4]) }),
      ours: (v) => v.x!.matmul(v.w!),
      py: 'out = torch.matmul(x, w)',
    },
    {
      name: 'conv2d + relu + maxPool2d + adaptiveAvgPool2d',
      inputs: () => ({ x: randn([2, 3, 9, 9]), w: randn([5, 3, 3, 3]) }),
      ours: (v) => F.adaptiveAvgPool2d(F.maxPool2d(F.relu(F.conv2d(v.x!, v.w!)), 2), 1),
      py: 'out = F.adaptive_avg_pool2d(F.max_pool2d(F.relu(F.conv2d(x, w)), 2), 1)',
    },
    {
      name: 'linear + crossEntropy (a float32 op under autocast)',
      inputs: () => ({ x: randn([6, 8]), w: randn([5, 8]) }),
      ours: (v) => F.crossEntropy(F.linear(v.x!, v.w!), tensor([0, 1, 2, 3, 4, 0], { dtype: 'int64' })),
      py: 'out = F.cross_entropy(F.linear(x, w), torch.tensor([0, 1, 2, 3, 4, 0]))',
    },
    {
      name: 'conv2d + batchNorm (training)',
      inputs: () => ({ x: randn([4, 3, 6, 6]), w: randn([4, 3, 3, 3]), g: randn([4]), b: randn([4]) }),
      ours: (v) => F.batchNorm(F.conv2d(v.x!, v.w!), null, null, { weight: v.g!, bias: v.b!, training: true }),
      py: 'out = F.batch_norm(F.conv2d(x, w), None, None, g, b, training=True)',
    },
  ];

  for (const c of cases) {
    it(`${c.name}: output dtype and values, and gradients`, async () => {
      const inputs = c.inputs();
      const names = Object.keys(inputs);
      for (const t of Object.values(inputs)) t.requiresGrad_(true);
      const out = cpuBf16(() => c.ours(inputs));
      tidy(() => out.sum().backward());
      const expected = await oracle.run({ setup: AUTOCAST(c.py), code: 'out', inputs, grad: names });
      assertClose(out, expected.outputs[0] as Tensor, BF16, `${c.name} output`);
      for (const name of names) {
        assertClose(inputs[name]!.grad!, expected.grads[name]!, BF16, `${c.name} grad of ${name}`);
      }
    });
  }

  it('the scope restores the previous state, nests, and can turn autocast off inside', () => {
    assert.equal(amp.isAutocastEnabled('cpu'), false);
    const x = randn([3, 3]);
    const dtypes = cpuBf16(() => {
      const inner = amp.autocast({ deviceType: 'cpu', enabled: false }, () => x.matmul(x).dtype);
      return [x.matmul(x).dtype, inner, amp.isAutocastEnabled('cpu')];
    });
    assert.deepEqual(dtypes, ['bfloat16', 'float32', true]);
    assert.equal(amp.isAutocastEnabled('cpu'), false);
    assert.equal(x.matmul(x).dtype, 'float32');
    assert.throws(() => cpuBf16(() => Promise.resolve(1)), /cannot take an async function/);
    assert.equal(amp.isAutocastEnabled('cpu'), false);
  });

  it('a ResNet bottleneck block (train mode) equals torchvision Bottleneck under autocast, with gradients', async () => {
    const block = new Bottleneck(64, 16, 1, null, { groups: 1, widthPerGroup: 64, bnEps: 1e-5, bnMomentum: 0.1 });
    block.train();
    const state = block.stateDict();
    const keys = Object.keys(state);
    const weights = Object.fromEntries(keys.map((k, i) => [`p${i}`, state[k]!]));
    const x = randn([2, 64, 8, 8]).requiresGrad_(true);
    const out = cpuBf16(() => block.call(x));
    tidy(() => out.float().square().sum().backward());
    const setup = [
      'import torchvision',
      'm = torchvision.models.resnet.Bottleneck(64, 16)',
      `m.load_state_dict({k: globals()[f"p{i}"] for i, k in enumerate(${JSON.stringify(keys)})})`,
      'm.train()',
      'x.requires_grad_(True)',
      AUTOCAST('out = m(x)'),
      'out.float().square().sum().backward()',
    ].join('\n');
    const expected = await oracle.run({
      setup,
      code: '(out, x.grad, m.conv1.weight.grad, m.bn3.weight.grad, m.bn1.running_mean)',
      inputs: { x, ...weights },
    });
    const [eOut, eX, eConv1, eBn3, eRunning] = expected.outputs as Tensor[];
    assertClose(out, eOut!, BF16, 'block output');
    // Gradients through three bfloat16 convolutions: relative to their scale, a little looser.
    assertClose(x.grad!, eX!, { rtol: 5e-2, atol: 5e-2 }, 'grad of x');
    assertClose(block.conv1.weight.grad!, eConv1!, { rtol: 5e-2, atol: 0.5 }, 'grad of conv1.weight');
    assertClose(block.bn3.weight!.grad!, eBn3!, { rtol: 5e-2, atol: 0.5 }, 'grad of bn3.weight');
    assertClose(block.bn1.runningMean!, eRunning!, BF16, 'bn1 running mean');
    block.dispose();
  });
});

interface SequenceReply {
  scales: number[];
  stepped: boolean[];
  trackers: number[];
  saved: amp.GradScalerState;
  param: number[];
}

function runSequence(job: {
  init_scale: number;
  growth_factor: number;
  backoff_factor: number;
  growth_interval: number;
  steps: string[];
  grad: number[];
  lr: number;
  save_after: number;
}): SequenceReply {
  const param = zeros([job.grad.length]).requiresGrad_(true);
  const optimizer = new SGD([param], { lr: job.lr });
  const options = {
    device: 'cpu',
    initScale: job.init_scale,
    growthFactor: job.growth_factor,
    backoffFactor: job.backoff_factor,
    growthInterval: job.growth_interval,
  };
  let scaler = new amp.GradScaler(options);
  const out: SequenceReply = { scales: [], stepped: [], trackers: [], saved: {}, param: [] };
  job.steps.forEach((kind, i) => {
    if (i === job.save_after) {
      out.saved = scaler.stateDict();
      const fresh = new amp.GradScaler({ ...options, initScale: 1, growthInterval: 1 });
      fresh.loadStateDict(out.saved);
      scaler.dispose();
      scaler = fresh;
    }
    tidy(() => {
      const grad = scaler.scale(tensor(job.grad, { dtype: 'float32' }));
      if (kind === 'inf') grad.narrow(0, 0, 1).fill_(Infinity);
      if (kind === 'nan') grad.narrow(0, 0, 1).fill_(NaN);
      param.grad = grad;
    });
    out.stepped.push(scaler.step(optimizer));
    scaler.update();
    out.scales.push(scaler.getScale());
    out.trackers.push(scaler.stateDict()._growth_tracker!);
  });
  out.param = param.toArray();
  scaler.dispose();
  param.dispose();
  return out;
}

describe('GradScaler vs PyTorch GradScaler', () => {
  const steps = ['finite', 'finite', 'finite', 'inf', 'finite', 'finite', 'nan', 'nan', 'finite', 'finite', 'finite'];
  const jobs = [
    {
      name: 'growth every 3 clean steps, backoff on inf/NaN, state saved and loaded mid-way',
      job: { init_scale: 1024, growth_factor: 2, backoff_factor: 0.5, growth_interval: 3, steps, save_after: 5 },
    },
    {
      name: 'growth that would overflow float32 keeps the scale',
      job: { init_scale: 2 ** 126, growth_factor: 4, backoff_factor: 0.25, growth_interval: 1, steps, save_after: 2 },
    },
  ];
  const full = jobs.map(({ job }) => ({ ...job, grad: [0.5, -0.25, 2], lr: 0.1 }));
  let expectedAll: SequenceReply[] | undefined;
  jobs.forEach(({ name }, index) => {
    it(name, () => {
      expectedAll ??= reference<SequenceReply[]>('sequences', full);
      const expected = expectedAll[index]!;
      const ours = runSequence(full[index]!);
      assert.deepEqual(ours.stepped, expected.stepped, 'steps taken');
      assert.deepEqual(ours.scales, expected.scales, 'scale after each update');
      assert.deepEqual(ours.trackers, expected.trackers, 'growth tracker');
      assert.deepEqual(ours.saved, expected.saved, 'state dict');
      ours.param.forEach((v, i) => assert.ok(Math.abs(v - expected.param[i]!) < 1e-6, `param[${i}]`));
    });
  });

  it("refuses PyTorch's misuses with PyTorch's messages", () => {
    const param = zeros([2]).requiresGrad_(true);
    const optimizer = new SGD([param], { lr: 0.1 });
    const scaler = new amp.GradScaler({ device: 'cpu' });
    param.grad = zeros([2]);
    scaler.unscale_(optimizer);
    assert.throws(() => scaler.unscale_(optimizer), /unscale_\(\) has already been called/);
    scaler.step(optimizer);
    assert.throws(() => scaler.step(optimizer), /step\(\) has already been called/);
    scaler.update();
    assert.throws(() => scaler.loadStateDict({}), /The source state dict is empty/);
    const disabled = new amp.GradScaler({ device: 'cpu', enabled: false });
    assert.deepEqual(disabled.stateDict(), {});
    assert.equal(disabled.getScale(), 1);
    scaler.dispose();
    param.dispose();
  });

  it('uses the fused ATen kernels exactly where the device has them', () => {
    const scaler = new amp.GradScaler({ device: 'cpu' });
    // libtorch 1.13 registers them for CUDA only; PyTorch 2.x adds CPU kernels.
    assert.equal(typeof scaler.usesFusedKernels, 'boolean');
    const param = zeros([3]).requiresGrad_(true);
    param.grad = tensor([1, 2, 3]).mul(65536);
    scaler.unscale_(new SGD([param], { lr: 0.1 }));
    assert.deepEqual(param.grad.toArray(), [1, 2, 3]);
    scaler.dispose();
    param.dispose();
  });
});
