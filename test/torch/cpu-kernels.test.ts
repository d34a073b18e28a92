// The hand-written CPU kernels (torch.pairDots: native/src/pair-dots.cc; torch.findAtMost_:
// native/src/find-at-most.cc) on what ops-parity does not cover: empty inputs, and inputs they
// must refuse with a message instead of reading or writing outside a tensor.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.js';

test('no pairs give an empty result', () => {
  torch.tidy(() => {
    const none = torch.zeros([0], { dtype: 'int64' });
    for (const dtype of ['float32', 'float64'] as const) {
      const out = torch.pairDots(torch.ones([3, 4], { dtype }), torch.ones([2, 4], { dtype }), none, none);
      assert.deepEqual(out.shape, [0]);
    }
  });
});

test('bad rows, lengths and layouts are errors that name the problem', () => {
  torch.tidy(() => {
    const a = torch.randn([3, 4]);
    const b = torch.randn([2, 4]);
    const rows = (values: number[]): torch.Tensor => torch.tensor(BigInt64Array.from(values, BigInt));
    assert.throws(() => torch.pairDots(a, b, rows([0, 3]), rows([0, 1])), /aRows holds row 3, outside 0\.\.2/);
    assert.throws(() => torch.pairDots(a, b, rows([0]), rows([-1])), /bRows holds row -1, outside 0\.\.1/);
    assert.throws(() => torch.pairDots(a, b, rows([0, 1]), rows([0])), /aRows has 2 entries and bRows 1/);
    assert.throws(() => torch.pairDots(a, torch.randn([2, 5]), rows([0]), rows([0])), /a has 4 columns and b 5/);
    assert.throws(
      () => torch.pairDots(a.t(), b, rows([0]), rows([0])),
      /a must be a 2-d float32 CPU tensor with contiguous rows/,
    );
    assert.throws(
      () => torch.pairDots(a, b, torch.zeros([1], { dtype: 'int32' }), rows([0])),
      /aRows must be a 1-d int64 CPU tensor/,
    );
  });
});

test('findAtMost_ with nothing at most the limits lowers every entry and lists none', () => {
  torch.tidy(() => {
    const values = torch.full([3, 40], 5);
    const found = torch.findAtMost_(values, torch.ones([40]), torch.zeros([3]), torch.zeros([3], { dtype: 'int64' }));
    assert.deepEqual(found.shape, [0]);
    assert.equal(values.max().item(), 4);
    assert.deepEqual(
      torch.findAtMost_(torch.zeros([0, 4]), torch.zeros([4]), torch.zeros([0]), torch.zeros([0], { dtype: 'int64' }))
        .shape,
      [0],
    );
  });
});

test('findAtMost_ refuses shapes and layouts it would read past', () => {
  torch.tidy(() => {
    const values = torch.zeros([3, 4]);
    const skip = torch.zeros([3], { dtype: 'int64' });
    assert.throws(
      () => torch.findAtMost_(values, torch.zeros([5]), torch.zeros([3]), skip),
      /decrease must be a float32 CPU vector of 4 \(columns\)/,
    );
    assert.throws(
      () => torch.findAtMost_(values, torch.zeros([4]), torch.zeros([2]), skip),
      /limit must be a float32 CPU vector of 3 \(rows\)/,
    );
    assert.throws(
      () => torch.findAtMost_(values, torch.zeros([4]), torch.zeros([3]), skip.narrow(0, 0, 2)),
      /skip must be an int64 CPU vector of 3/,
    );
    assert.throws(
      () => torch.findAtMost_(values.t(), torch.zeros([3]), torch.zeros([4]), torch.zeros([4], { dtype: 'int64' })),
      /values must be a contiguous 2-d float32 CPU tensor/,
    );
  });
});

test('findAtMost_ off the fused kernel (float64) leaves no tensor behind but its result', () => {
  const values = torch.randn([5, 9], { dtype: 'float64' });
  const decrease = torch.randn([9], { dtype: 'float64' });
  const limit = torch.randn([5], { dtype: 'float64' });
  const skip = torch.zeros([5], { dtype: 'int64' });
  const before = torch.memoryStats().liveTensors;
  const found = torch.findAtMost_(values, decrease, limit, skip);
  assert.equal(torch.memoryStats().liveTensors, before + 1);
  for (const t of [values, decrease, limit, skip, found]) t.dispose();
});
