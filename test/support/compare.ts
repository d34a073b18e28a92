// Tensor comparison for tests, with numpy.allclose semantics: |a - b| <= atol + rtol * |b|.
import assert from 'node:assert/strict';
import type { Tensor } from '../../src/torch/index.js';

export interface Tolerance {
  rtol?: number;
  atol?: number;
}

export function assertClose(actual: Tensor, expected: Tensor, tolerance: Tolerance = {}, label = 'tensor'): void {
  const { rtol = 1e-5, atol = 1e-6 } = tolerance;
  assert.deepEqual(actual.shape, expected.shape, `${label}: shape`);
  assert.equal(actual.dtype, expected.dtype, `${label}: dtype`);
  const a = actual.toArray();
  const b = expected.toArray();
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    const excess = Math.abs(x - y) - (atol + rtol * Math.abs(y));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess)) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    assert.fail(`${label}: element ${worst} is ${a[worst]} but PyTorch gives ${b[worst]} (rtol ${rtol}, atol ${atol})`);
  }
}
