// The sharded path of k-means in one process: a shard that holds the whole training set, in a
// shuffled order with the positions naming where each row sits, and a sum over one rank. The
// initial centroids then come through the gather and every iteration through the flat sum, and the
// result must be the unsharded one. (Two real ranks: test/tasks/distributed.test.ts.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/torch/index.js';
import { kmeans } from '../../src/cluster/index.js';
import { randPerm } from '../../src/cluster/random.js';
import { mixture } from './reference.js';

test('a shard holding every row, shuffled, gives the unsharded centroids and objectives', () => {
  torch.tidy(() => {
    const x = mixture(600, 8, 12, 3);
    const order = randPerm(600, 7);
    const shuffled = torch.indexSelect(x, 0, torch.tensor(order).to('int64'));
    let sums = 0;
    for (const pruning of [false, true]) {
      const plain = kmeans(x, 12, { niter: 8, pruning });
      const sharded = kmeans(shuffled, 12, {
        niter: 8,
        pruning,
        shard: { total: 600, positions: order, sum: () => void sums++ },
      });
      assert.ok(sums > 8, 'the shard sum runs for the initial centroids and every iteration');
      plain.objective.forEach((o, i) => assert.ok(Math.abs(o - (sharded.objective[i] as number)) <= 1e-5 * o));
      assert.deepEqual(
        sharded.iterations.map((s) => s.nsplit),
        plain.iterations.map((s) => s.nsplit),
      );
      const diff = plain.centroids.sub(sharded.centroids).abs().max().item();
      assert.ok(diff < 1e-4, `centroids differ by ${diff}`);
    }
  });
});

test('a shard whose positions do not match its rows is refused', () => {
  torch.tidy(() => {
    const x = mixture(50, 4, 3, 1);
    assert.throws(
      () => kmeans(x, 3, { shard: { total: 100, positions: new Int32Array(10), sum: () => {} } }),
      /the shard names 10 positions for 50 rows/,
    );
  });
});
