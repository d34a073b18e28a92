// The pure parts of running on several ranks: which rows a rank owns, and where a checkpoint
// written by one number of ranks resumes on another.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ownedRows } from '../../src/engine/distributed/cluster.js';
import { resumeStep } from '../../src/engine/distributed/train.js';

test('owned rows cover every row once, in contiguous blocks, for any world size', () => {
  for (const [n, world] of [
    [10, 3],
    [2, 4],
    [7, 1],
  ] as const) {
    const blocks = Array.from({ length: world }, (_, r) => ownedRows(n, r, world));
    assert.equal(blocks[0]?.[0], 0);
    assert.equal(blocks.at(-1)?.[1], n);
    blocks.slice(1).forEach(([start], r) => assert.equal(start, blocks[r]?.[1]));
  }
});

test('a mid-epoch checkpoint resumes after the same number of images on another world size', () => {
  assert.equal(resumeStep(6, 2, 1), 12);
  assert.equal(resumeStep(5, 2, 4), 2, 'rounded down: a few images again rather than skipped');
  assert.equal(resumeStep(7, 3, 3), 7);
  assert.equal(resumeStep(0, 8, 1), 0);
});
