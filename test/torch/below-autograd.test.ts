// The addon's unboxed path calls an op below libtorch's Autograd keys when no tensor argument
// requires grad (native/src/dispatch.cc belowAutogradUnless). These check that nothing autograd
// relies on is lost: results, graphs and gradients after such ops match PyTorch's, views made that
// way still share their base's version counter and creation mode, in-place misuse still raises,
// and the guard never outlives the call (an error inside it included).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import * as torch from '../../src/torch/index.js';
import { type Tensor } from '../../src/torch/index.js';
import { wrap } from '../../src/torch/tensor.js';
import { op } from '../../src/torch/dispatch.js';
import { native } from '../../src/torch/native.js';
import { Oracle } from '../support/oracle.js';
import { assertClose } from '../support/compare.js';

const oracle = new Oracle();
after(() => oracle.close());

const version = op('aten::_version', ['self']);
const versionOf = (t: Tensor): number => version.call(t.handle) as number;
// `aten::t` takes the unboxed path (Tensor.t() passes dims to transpose, which does not): the view op
// these tests need there, with `detach`.
const transposeOp = op('aten::t', ['self']);
const t = (x: Tensor): Tensor => wrap(transposeOp.callHandle(x.handle));

describe('ops on tensors that do not require grad', () => {
  test('give PyTorch results in grad mode, under noGrad and in inference mode, and no graph', async () => {
    torch.manualSeed(3);
    const a = torch.randn([3, 4]);
    const b = torch.randn([3, 4]);
    const run = (): Tensor[] => [
      a.add(b, 2),
      a.mul(2.5),
      a.relu(),
      a.sum(),
      a.sum(undefined, { dtype: 'float64' }),
      t(a),
      a.detach(),
    ];
    const reference = await oracle.run({
      setup: [
        'def run(): return (a + 2 * b, a * 2.5, a.relu(), a.sum(), a.sum(dtype=torch.float64), a.t(), a.detach())',
        'with torch.inference_mode(): inference = run()',
      ].join('\n'),
      code: 'run() + tuple(float(t.is_inference()) for t in inference)',
      inputs: { a, b },
    });
    const expected = reference.outputs.slice(0, 7) as Tensor[];
    const inferenceFlags = reference.outputs.slice(7) as number[];
    const inGradMode = run();
    const noGrad = torch.noGrad(run);
    const inference = torch.inferenceMode(run);
    for (const [mode, outputs] of [
      ['grad mode', inGradMode],
      ['noGrad', noGrad],
      ['inference mode', inference],
    ] as const) {
      outputs.forEach((out, i) => {
        assertClose(out, expected[i]!, {}, `${mode} output ${i}`);
        assert.equal(out.requiresGrad, false, `${mode} output ${i} requires grad`);
        assert.equal(out.gradFn, null, `${mode} output ${i} has a grad_fn`);
        // A view of a normal tensor made in inference mode is a normal tensor (PyTorch's rule).
        const isInference = mode === 'inference mode' && inferenceFlags[i] === 1;
        assert.equal(native.isInference(out.handle), isInference, `${mode} output ${i} is_inference`);
      });
    }
  });

  test('feed ops with a requires-grad tensor: graph and gradients as in PyTorch', async () => {
    torch.manualSeed(4);
    const a = torch.randn([3, 4]);
    const w = torch.randn([4, 3]).requiresGrad_(true);
    // add with alpha, a scalar mul, relu, sum and a view (t), all on the unboxed path
    const h = a.relu().mul(2.5).add(a, 2);
    const s = a.sum();
    const y = h
      .mul(t(w))
      .add(t(t(a)))
      .mul(s);
    assert.equal(h.requiresGrad, false);
    assert.equal(y.requiresGrad, true);
    assert.match(y.gradFn ?? '', /MulBackward0$/);
    const gradOutput = torch.randn([3, 4]);
    y.backward(gradOutput);
    const reference = await oracle.run({
      setup: 'h = (a.relu() * 2.5).add(a, alpha=2)\ns = a.sum()\ny = (h * w.t() + a.t().t()) * s',
      code: '(y, h, s)',
      inputs: { a, w: w.detach() },
      grad: ['w'],
      gradOutput,
    });
    assertClose(y.detach(), reference.outputs[0] as Tensor, {}, 'y');
    assertClose(h, reference.outputs[1] as Tensor, {}, 'h');
    assertClose(s, reference.outputs[2] as Tensor, {}, 's');
    assertClose(w.grad!, reference.grads.w!, {}, 'dy/dw');
  });
});

describe('views and version counters of tensors that do not require grad', () => {
  test('a view modified in place with a requires-grad tensor carries the gradient to its base, as in PyTorch', async () => {
    torch.manualSeed(5);
    const a = torch.randn([3, 4]);
    const w = torch.randn([4, 3]).requiresGrad_(true);
    const base = a.mul(1);
    const view = t(base);
    view.mul_(w);
    assert.equal(base.requiresGrad, true, 'the base did not learn of the in-place op on its view');
    assert.match(base.gradFn ?? '', /CopySlices$/);
    const y = base.mul(2);
    const gradOutput = torch.randn([3, 4]);
    y.backward(gradOutput);
    const reference = await oracle.run({
      setup: 'base = a * 1\nview = base.t()\nview.mul_(w)\ny = base * 2',
      code: '(y, base, view)',
      inputs: { a, w: w.detach() },
      grad: ['w'],
      gradOutput,
    });
    assertClose(y.detach(), reference.outputs[0] as Tensor, {}, 'y');
    assertClose(base.detach(), reference.outputs[1] as Tensor, {}, 'base');
    assertClose(view.detach(), reference.outputs[2] as Tensor, {}, 'view');
    assertClose(w.grad!, reference.grads.w!, {}, 'dy/dw');
  });

  test('a view shares its base version counter: modifying the base after the view was saved fails backward', () => {
    const base = torch.ones([2, 3]);
    const view = t(base);
    const w = torch.ones([3, 2]).requiresGrad_(true);
    const y = w.mul(view); // saves the view for w's gradient
    const before = versionOf(base);
    base.add_(1);
    assert.equal(versionOf(base), before + 1);
    assert.equal(versionOf(view), versionOf(base));
    assert.throws(() => y.sum().backward(), /modified by an inplace operation/);
  });

  test('a detached tensor shares its base version counter: modifying the base after it was saved fails backward', () => {
    const base = torch.ones([3]);
    const detached = base.detach();
    const w = torch.ones([3]).requiresGrad_(true);
    const y = w.mul(detached);
    base.add_(1);
    assert.equal(versionOf(detached), versionOf(base));
    assert.throws(() => y.sum().backward(), /modified by an inplace operation/);
  });

  test('the result of a no-grad op is versioned: modifying it after it was saved fails backward', () => {
    const h = torch.ones([3]).relu();
    const w = torch.ones([3]).requiresGrad_(true);
    const y = w.mul(h);
    const before = versionOf(h);
    h.add_(1);
    assert.equal(versionOf(h), before + 1);
    assert.throws(() => y.sum().backward(), /modified by an inplace operation/);
  });

  test('a view made under noGrad keeps its creation mode: modifying it with grad raises as in PyTorch', () => {
    const base = torch.ones([2, 3]);
    const view = torch.noGrad(() => t(base));
    const w = torch.ones([3, 2]).requiresGrad_(true);
    assert.throws(
      () => view.mul_(w),
      /A view was created in no_grad mode and is being modified inplace with grad mode enabled/,
    );
  });
});

describe('in-place misuse and the guard lifetime', () => {
  test('in-place ops on a leaf that requires grad, or on its view, still raise', () => {
    const w = torch.ones([2, 3]).requiresGrad_(true);
    assert.throws(() => w.add_(1), /a leaf Variable that requires grad is being used in an in-place operation/);
    assert.throws(
      () => t(w).add_(1),
      /a view of a leaf Variable that requires grad is being used in an in-place operation/,
    );
    torch.noGrad(() => w.add_(1)); // allowed without grad, as an optimizer does
    assert.deepEqual(w.detach().toArray(), [2, 2, 2, 2, 2, 2]);
  });

  test('an error inside a call below Autograd leaves later ops recording graphs', () => {
    const a = torch.ones([2, 3]);
    assert.throws(() => a.add(torch.ones([4])), /must match the size/);
    assert.throws(() => a.relu().add(torch.ones([5]), 2), /must match the size/);
    const w = torch.ones([2, 3]).requiresGrad_(true);
    const y = a.add(w).sum();
    assert.match(y.gradFn ?? '', /SumBackward0$/);
    y.backward();
    assert.deepEqual(w.grad!.toArray(), [1, 1, 1, 1, 1, 1]);
  });
});
