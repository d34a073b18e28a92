// Feature shards: written streaming in VISSL's layout, read back merged, deduplicated and sorted
// by dataset index, whole or one rank's block at a time; numpy opens every file.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arange, tensor } from '../../src/torch/index.js';
import { ownedRows } from '../../src/engine/distributed/cluster.js';
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

  it('reads a block of the merged order from shards of another world size, and no row outside it', () => {
    // As a 2-rank extraction writes them: rank r gets every other index (r, r + 2, ...), rank 1's
    // list padded with index 0 again (DistributedSampler), in chunks of 4 rows, batches of 2.
    const dir = mkdtempSync(join(tmpdir(), 'features-'));
    const n = 27;
    const indexOfRow = new Map<string, number[]>();
    for (const rank of [0, 1]) {
      const order = Array.from({ length: 14 }, (_, i) => ((2 * i + rank) % (n + 1)) % n);
      const writer = new FeatureShardWriter(dir, 'train', 'res5', 4, rank);
      for (let start = 0; start < order.length; start += 2) {
        const batch = order.slice(start, start + 2);
        const rows = tensor(
          batch.map((i) => [i, -i, 0.5 * i]),
          { dtype: 'float32' },
        );
        writer.append(
          rows,
          batch,
          batch.map((i) => i % 3),
          batch.map((i) => `img${i}.jpg`),
        );
        rows.dispose();
      }
      writer.close().forEach((shard, c) => indexOfRow.set(shard.features, order.slice(4 * c, 4 * c + 4)));
    }
    const whole = loadFeatures(dir, 'train', 'res5');
    assert.deepEqual(whole.rows, [0, n]);
    assert.deepEqual(
      whole.indices,
      Array.from({ length: n }, (_, i) => i),
    );
    for (let rank = 0; rank < 3; rank++) {
      const read: number[] = [];
      const block = loadFeatures(dir, 'train', 'res5', {
        rows: (rows) => ownedRows(rows, rank, 3),
        onRead: (file, start, end) => read.push(...(indexOfRow.get(file) ?? []).slice(start, end)),
      });
      const [start, end] = ownedRows(n, rank, 3);
      assert.deepEqual(block.rows, [start, end]);
      assert.deepEqual(block.features.toArray(), whole.features.narrow(0, start, end - start).toArray());
      // Each row of the block read once (the padding copy of index 0 never), nothing else.
      assert.deepEqual(
        read.sort((a, b) => a - b),
        whole.indices.slice(start, end),
      );
      // The small per-row files are read whole: every rank knows every image.
      assert.deepEqual(block.indices, whole.indices);
      assert.deepEqual(block.targets, whole.targets);
      assert.deepEqual(block.images, whole.images);
      block.features.dispose();
    }
    whole.features.dispose();
    assert.throws(
      () => loadFeatures(dir, 'train', 'res5', { rows: () => [5, 40] }),
      /rows \[5, 40\) are out of range for the 27 train features/,
    );
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
