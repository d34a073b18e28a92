// Purity, NMI and ARI against scikit-learn on the same labels: random clusterings, a perfect one,
// one cluster for everything, clusters that are empty, and labels that agree only by chance.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clusterScores, contingency, type ClusterScores } from '../../src/explore/scores.js';
import { tensor } from '../../src/torch/index.js';
import { referenceScript } from '../support/reference-script.js';

const reference = referenceScript('explore');

function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

interface Case {
  clusters: number[];
  classes: number[];
  k: number;
  c: number;
}

function randomCase(n: number, k: number, c: number, seed: number, agreement: number): Case {
  const random = lcg(seed);
  const classes = Array.from({ length: n }, () => Math.floor(random() * c));
  // A cluster id follows the class with probability `agreement`, else is random; clusters k-1 and up may stay empty.
  const clusters = classes.map((y) => (random() < agreement ? y % (k - 1) : Math.floor(random() * (k - 1))));
  return { clusters, classes, k, c };
}

describe('cluster scores', () => {
  it('equal scikit-learn purity, normalized_mutual_info_score and adjusted_rand_score', () => {
    const cases: Case[] = [
      randomCase(500, 11, 10, 1, 0.7),
      randomCase(2000, 40, 7, 2, 0.3),
      randomCase(300, 5, 5, 3, 0),
      { clusters: [0, 0, 1, 1, 2, 2], classes: [1, 1, 0, 0, 2, 2], k: 3, c: 3 },
      { clusters: [0, 0, 0, 0], classes: [0, 1, 0, 1], k: 1, c: 2 },
      { clusters: [0, 0, 0], classes: [0, 0, 0], k: 1, c: 1 },
      { clusters: [3, 3, 0, 0, 0], classes: [1, 1, 1, 0, 0], k: 6, c: 2 },
    ];
    const expected = reference<ClusterScores[]>('scores', { cases });
    cases.forEach((test, i) => {
      const table = contingency(
        tensor(test.clusters, { dtype: 'int64' }),
        tensor(test.classes, { dtype: 'int64' }),
        test.k,
        test.c,
      );
      const ours = clusterScores(table);
      table.dispose();
      const want = expected[i] as ClusterScores;
      for (const key of ['purity', 'nmi', 'ari'] as const) {
        assert.ok(
          Math.abs(ours[key] - want[key]) < 1e-9,
          `case ${i} ${key}: ours ${ours[key]}, scikit-learn ${want[key]}`,
        );
      }
    });
  });
});
