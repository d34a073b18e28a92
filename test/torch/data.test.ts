// Moving data between JS and tensors: every dtype round-trips, shapes and strides are reported,
// and nested arrays build the shape they describe.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.js';
import type { DType, TypedArray } from '../../src/torch/index.js';

const samples: [DType, TypedArray][] = [
  ['float32', new Float32Array([1.5, -2, 3.25])],
  ['float64', new Float64Array([1e-300, -2, Math.PI])],
  ['int64', new BigInt64Array([1n, -(2n ** 40n), 3n])],
  ['int32', new Int32Array([1, -2, 2 ** 30])],
  ['int16', new Int16Array([1, -2, 300])],
  ['int8', new Int8Array([1, -2, 100])],
  ['uint8', new Uint8Array([0, 128, 255])],
  ['bool', new Uint8Array([1, 0, 1])],
  ['float16', new Uint16Array([0x3c00, 0xc000, 0x7bff])], // 1, -2, 65504
  ['bfloat16', new Uint16Array([0x3f80, 0xc000, 0x4049])], // 1, -2, 3.140625
];

for (const [dtype, data] of samples) {
  test(`${dtype} round-trips through a tensor bit for bit`, () => {
    const t = torch.fromBytes(data, [3], dtype);
    assert.equal(t.dtype, dtype);
    assert.deepEqual(
      Array.from(t.data() as ArrayLike<number | bigint>),
      Array.from(data as ArrayLike<number | bigint>),
    );
  });
}

test('half-precision values read back as numbers', () => {
  assert.deepEqual(
    torch.fromBytes(new Uint16Array([0x3c00, 0xc000, 0x7bff]), [3], 'float16').toArray(),
    [1, -2, 65504],
  );
  assert.deepEqual(
    torch.fromBytes(new Uint16Array([0x3f80, 0xc000, 0x4049]), [3], 'bfloat16').toArray(),
    [1, -2, 3.140625],
  );
});

test('typed arrays keep their element type; nested arrays give their shape', () => {
  assert.equal(torch.tensor(new Int32Array([1, 2])).dtype, 'int32');
  assert.equal(torch.tensor(new BigInt64Array([1n])).dtype, 'int64');
  const t = torch.tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  assert.deepEqual(t.shape, [2, 3]);
  assert.equal(t.dtype, 'float32');
  assert.deepEqual(torch.tensor([true, false]).toArray(), [1, 0]);
  assert.equal(torch.tensor([1, 2], { dtype: 'int64' }).dtype, 'int64');
  assert.throws(() => torch.tensor([[1, 2], [3]]), /ragged/);
  assert.throws(
    () => torch.fromBytes(new Float32Array(3), [2, 2], 'float32'),
    /needs 16 bytes but the buffer holds 12/,
  );
});

test('a non-contiguous view reads back in logical order, with its strides', () => {
  const t = torch.arange(6).view(2, 3).t();
  assert.deepEqual(t.shape, [3, 2]);
  assert.deepEqual(t.strides, [1, 3]);
  assert.equal(t.isContiguous(), false);
  assert.deepEqual(t.toArray(), [0, 3, 1, 4, 2, 5]);
  const nhwc = torch.zeros([2, 3, 4, 5]).contiguous('channelsLast');
  assert.ok(nhwc.isContiguous('channelsLast'));
  assert.deepEqual(nhwc.strides, [60, 1, 15, 3]);
});

test('factories follow PyTorch defaults', () => {
  assert.equal(torch.arange(5).dtype, 'int64');
  assert.equal(torch.arange(0, 1, 0.5).dtype, 'float32');
  assert.equal(torch.zeros([2]).dtype, 'float32');
  assert.equal(torch.randint(0, 3, [2]).dtype, 'int64');
  assert.deepEqual(torch.full([2], 7, { dtype: 'int32' }).toArray(), [7, 7]);
  assert.deepEqual(torch.eye(2).toArray(), [1, 0, 0, 1]);
  assert.deepEqual(torch.linspace(0, 1, 3).toArray(), [0, 0.5, 1]);
  assert.equal(torch.scalarTensor(3).ndim, 0);
});

test('grad mode and inference mode scopes', () => {
  const x = torch.ones([2]).requiresGrad_(true);
  assert.equal(torch.noGrad(() => x.mul(2)).requiresGrad, false);
  assert.equal(torch.noGrad(() => torch.enableGrad(() => x.mul(2))).requiresGrad, true);
  assert.equal(torch.isGradEnabled(), true);
  const y = torch.inferenceMode(() => x.mul(2));
  assert.equal(torch.isGradEnabled(), true);
  assert.equal(y.requiresGrad, false);
  const [g] = torch.grad([x.mul(x).sum()], [x]);
  assert.deepEqual(g!.toArray(), [2, 2]);
});
