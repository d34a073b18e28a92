// Misuse produces a JS Error carrying libtorch's message, and the process keeps working after it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.js';
import { native, type Handle } from '../../src/torch/native.js';

const F = torch.functional;

function stillWorks(): void {
  assert.deepEqual(torch.ones([2]).add(1).toArray(), [2, 2]);
}

test('shape mismatch', () => {
  assert.throws(
    () => torch.ones([2, 3]).add(torch.ones([4])),
    /size of tensor a \(3\) must match the size of tensor b \(4\)/,
  );
  assert.throws(() => torch.ones([2, 3]).mm(torch.ones([2, 3])), /cannot be multiplied|size mismatch|shapes/);
  assert.throws(() => torch.ones([6]).view(4, 2), /shape '\[4, 2\]' is invalid for input of size 6/);
  stillWorks();
});

test('wrong dtype', () => {
  const logits = torch.randn([3, 4]);
  assert.throws(() => F.crossEntropy(logits, torch.tensor([1, 2, 3])), /expected scalar type Long|Float/);
  assert.throws(() => torch.ones([2]).indexSelect(0, torch.tensor([0.5])), /index|Long|Int/);
  assert.throws(() => torch.ones([2], { dtype: 'nope' as torch.DType }), /unknown dtype 'nope'/);
  stillWorks();
});

test('unknown or unavailable device', () => {
  assert.throws(() => torch.zeros([2], { device: 'tpu:0' }), /device type at start of device string: tpu/);
  if (!torch.cuda.isAvailable()) assert.throws(() => torch.zeros([2], { device: 'cuda:0' }), Error);
  stillWorks();
});

test('use after dispose', () => {
  const t = torch.ones([3]);
  t.dispose();
  t.dispose(); // idempotent
  assert.throws(() => t.add(1), /Tensor used after dispose\(\)/);
  assert.throws(() => t.shape, /Tensor used after dispose\(\)/);
  assert.equal(t.toString(), 'Tensor(disposed)');
  stillWorks();
});

test('a raw handle is refused after dispose, even once its slot holds a new tensor', () => {
  const t = torch.ones([3]);
  const handle = t.handle;
  // A small integer (a V8 Smi): making one allocates nothing.
  assert.equal(handle, handle | 0);
  t.dispose();
  native.dispose(handle); // a second release of the same handle does nothing
  assert.equal(native.isDisposed(handle), true);
  assert.throws(() => native.shape(handle), /Tensor used after dispose\(\) \(in shape\)/);
  // The freed slot is reused at once (the most recently freed first), under a new generation.
  const next = torch.zeros([2]);
  assert.notEqual(next.handle, handle);
  assert.throws(() => native.shape(handle), /Tensor used after dispose\(\)/);
  native.dispose(handle);
  assert.deepEqual(next.toArray(), [0, 0], 'disposing the stale handle left the new tensor alone');
  assert.throws(() => native.shape(1.5 as Handle), /Tensor used after dispose\(\)/);
  assert.throws(() => native.shape((2 ** 40) as Handle), /Tensor used after dispose\(\)/);
  next.dispose();
  stillWorks();
});

test('an op that libtorch rejects', () => {
  assert.throws(
    () => F.conv2d(torch.ones([1, 3, 4, 4]), torch.ones([2, 5, 3, 3])),
    /expected input.*to have 5 channels|channels/,
  );
  assert.throws(
    () => torch.ones([2, 2]).requiresGrad_(true).add(1).requiresGrad_(false),
    /only change requires_grad flags of leaf variables/,
  );
  assert.throws(() => torch.ones([3]).backward(), /does not require grad|element 0 of tensors/);
  assert.throws(() => torch.ones([2]).item(), /item\(\) needs a tensor with one element/);
  stillWorks();
});

test('bad arguments are TypeErrors that name the operator and argument', () => {
  assert.throws(() => torch.ones([2, 3]).sum(1.5), /aten::sum\.dim_IntList: argument 'dim' must be an integer/);
  const add = native.resolveOp('aten::add', 'Tensor');
  assert.throws(() => native.call(add, 'x'), /aten::add\.Tensor: argument 'self' must be a Tensor/);
  assert.throws(() => native.call(add), /argument 'self' is required/);
  assert.throws(() => native.call(add, 1, 2, 3, 4, 5), /takes at most 3 arguments but got 5/);
  stillWorks();
});

test('libtorch errors keep their detail lines apart from the message', () => {
  try {
    torch.ones([2, 3]).add(torch.ones([4]));
    assert.fail('expected a throw');
  } catch (error) {
    assert.ok(error instanceof Error);
    assert.ok(!error.message.includes('\n'), 'message is one line');
  }
});
