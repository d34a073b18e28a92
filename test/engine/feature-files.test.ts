// Feature shards: written streaming in VISSL's layout, read back merged, deduplicated and sorted
// by dataset index; numpy opens every file.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arange, tensor } from '../../src/torch/index.js';
import { FeatureShardWriter, findFeatureShards, loadFeatures } from '../../src/engine/feature-files.js';
import { PYTHON } from '../support/oracle.js';

describe('feature shards', () => {
  it('round-trip with chunking, padding duplicates removed, rows sorted by index', () => {
    const dir = mkdtempSync(join(tmpdir(), 'features-'));
    const writer = new FeatureShardWriter(dir, 'train', 'res5', 3);
    // Dataset indices arrive shuffled, with index 1 twice (DistributedSampler padding).
    const order = [4, 1, 0, 3, 2, 1];
    for (let start = 0; start < order.length; start += 2) {
      const batch = order.slice(start, start + 2);
      const rows = tensor(
        batch.map((i) => [i, 10 * i]),
        { dtype: 'float32' },
      );
      writer.append(
        rows,
        batch,
        batch.map((i) => i % 2),
        batch.map((i) => `img${i}.jpg`),
      );
      rows.dispose();
    }
    const shards = writer.close();
    assert.deepEqual(
      shards.map((s) => s.prefix),
      ['rank0_chunk0', 'rank0_chunk1'],
    );
    assert.equal(findFeatureShards(dir, 'train', 'res5').length, 2);
    const loaded = loadFeatures(dir, 'train', 'res5');
    assert.deepEqual(loaded.indices, [0, 1, 2, 3, 4]);
    assert.deepEqual(loaded.features.toArray(), [0, 0, 1, 10, 2, 20, 3, 30, 4, 40]);
    assert.deepEqual(loaded.targets, [0, 1, 0, 1, 0]);
    assert.deepEqual(loaded.images, ['img0.jpg', 'img1.jpg', 'img2.jpg', 'img3.jpg', 'img4.jpg']);
    const shapes = execFileSync(PYTHON, [
      '-c',
      `import numpy as np, glob, sys
for f in sorted(glob.glob(sys.argv[1] + '/*.npy')): a = np.load(f); print(f.split('/')[-1], a.dtype, a.shape)`,
      dir,
    ]).toString();
    assert.match(shapes, /rank0_chunk0_train_res5_features.npy float32 \(4, 2\)/);
    assert.match(shapes, /rank0_chunk0_train_res5_inds.npy int64 \(4,\)/);
    assert.match(shapes, /rank0_chunk0_train_res5_targets.npy int64 \(4, 1\)/);
    assert.match(shapes, /rank0_chunk1_train_res5_images.npy <U8 \(2,\)/);
    assert.equal(readdirSync(dir).length, 8);
  });

  it('names what it looked for when a layer has no features', () => {
    const dir = mkdtempSync(join(tmpdir(), 'features-'));
    const writer = new FeatureShardWriter(dir, 'train', 'res4');
    writer.append(arange(4).float().reshape(2, 2), [0, 1], [0, 0], ['a', 'b']);
    writer.close();
    assert.throws(
      () => findFeatureShards(dir, 'train', 'res5'),
      /no '\*_train_res5_features.npy'.*found: rank0_chunk0_train_res4/,
    );
    assert.throws(() => findFeatureShards(join(dir, 'nope'), 'train', 'res5'), /does not exist/);
  });
});
