// CHECKPOINT.KEEP_LAST: the oldest phase checkpoints go, never the one a resume needs nor a final one.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pruneCheckpoints } from '../../src/engine/checkpoint.js';

function folderWith(names: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'clusterfit-prune-'));
  for (const name of names) writeFileSync(join(dir, name), '');
  return dir;
}

describe('pruneCheckpoints', () => {
  const names = ['model_phase0.torch', 'model_phase1.torch', 'model_phase2.torch', 'model_phase10.torch'];

  it('keeps the newest N by phase number (10 after 2), and final checkpoints', () => {
    const dir = folderWith([...names, 'model_final_checkpoint_phase11.torch', 'checkpoint.torch']);
    pruneCheckpoints(dir, 2, join(dir, 'model_phase10.torch'));
    assert.deepEqual(readdirSync(dir).sort(), [
      'checkpoint.torch',
      'model_final_checkpoint_phase11.torch',
      'model_phase10.torch',
      'model_phase2.torch',
    ]);
  });

  it('never deletes the checkpoint a resume needs, even when newer (incomplete) files outnumber it', () => {
    const dir = folderWith(names);
    pruneCheckpoints(dir, 1, join(dir, 'model_phase1.torch'));
    assert.deepEqual(readdirSync(dir).sort(), ['model_phase1.torch', 'model_phase10.torch']);
  });

  it('-1 keeps everything, as VISSL', () => {
    const dir = folderWith(names);
    assert.deepEqual(pruneCheckpoints(dir, -1, ''), []);
    assert.equal(readdirSync(dir).length, 4);
  });
});
