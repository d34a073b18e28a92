// The explorer's near-tie rule on its own: runs of distances within the tolerance go in index order,
// and the count of settled entries stops before a run that reaches the end of the candidates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { breakNearTies, nearTieTolerance } from '../../src/explore/near-ties.js';

const entries = (pairs: [number, number][]) => pairs.map(([index, distance]) => ({ index, distance }));

test('runs of near ties are put in index order, chained through neighbours within the tolerance', () => {
  const sorted = entries([
    [9, 0.1],
    [4, 0.1005],
    [7, 0.101], // 0.001 from the first, but each step is within 0.0006: one run of three
    [2, 0.2],
    [8, 0.3],
    [1, 0.3004],
    [5, 0.5],
  ]);
  const settled = breakNearTies(sorted, 0.0006);
  assert.deepEqual(
    sorted.map((e) => e.index),
    [4, 7, 9, 2, 1, 8, 5],
  );
  assert.equal(settled, 6); // the last run ([5]) reaches the end: more candidates may join it
});

test('a run reaching the end of the candidates is not settled; nothing is for an empty list', () => {
  const sorted = entries([
    [3, 0.1],
    [6, 0.4],
    [2, 0.4001],
  ]);
  assert.equal(breakNearTies(sorted, 0.001), 1);
  assert.deepEqual(
    sorted.map((e) => e.index),
    [3, 2, 6],
  );
  assert.equal(breakNearTies([], 0.001), 0);
});

test('the tolerance grows with the feature dimension, from the float32 error bound', () => {
  assert.equal(nearTieTolerance(64), (8 * 64 + 24) * 2 ** -24);
  assert.ok(nearTieTolerance(2048) > nearTieTolerance(64));
  assert.ok(nearTieTolerance(2048) < 1e-3);
});
