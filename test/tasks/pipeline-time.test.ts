// How the pipeline's time breakdown adds up the stages' metrics lines (pipeline-time.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PipelineTime } from '../../src/tasks/pipeline-time.js';

describe('pipeline: where the time went', () => {
  it("adds up each stage's timed metrics lines into parts, the rest being the stage's remainder", async () => {
    const time = new PipelineTime();
    time.observe('train_epoch', { seconds: 9, cpu_seconds: 9 }); // before any stage: not counted
    time.begin('1/4 RotNet pretraining');
    time.observe('train_epoch', { seconds: 2, cpu_seconds: 3.5, data_wait_seconds: 0.25 });
    time.observe('train', { seconds: 1, cpu_seconds: 1 }); // a step line: no part
    time.observe('train_epoch', { seconds: 2, cpu_seconds: 3.5, data_wait_seconds: 0.5 });
    time.observe('train_test', { seconds: 0.5, cpu_seconds: 0.75 });
    // 30 ms asked, at least 20 checked: a timer may fire a millisecond early by a finer clock.
    await new Promise((resolve) => setTimeout(resolve, 30));
    time.begin('4/4 evaluation of RotNet');
    time.observe('kmeans_iteration', { seconds: 1 }); // per iteration, not a part (the `kmeans` line is)
    time.observe('evaluate', {
      layer: 'flatten',
      time: { knn: { seconds: 0.125, cpu_seconds: 0.125 }, linear: { seconds: 1, cpu_seconds: 1.5 } },
    });
    time.end();
    time.observe('train_epoch', { seconds: 9, cpu_seconds: 9 }); // after the end: not counted
    const [pretrain, evaluation] = time.stages;
    assert.deepEqual(pretrain!.parts, [
      { name: 'training epochs', seconds: 4, cpu_seconds: 7, count: 2, data_wait_seconds: 0.75 },
      { name: 'test passes', seconds: 0.5, cpu_seconds: 0.75, count: 1 },
    ]);
    assert.deepEqual(
      evaluation!.parts.map((p) => [p.name, p.seconds, p.cpu_seconds, p.count]),
      [
        ['linear probes', 1, 1.5, 1],
        ['kNN', 0.125, 0.125, 1],
      ],
    );
    assert.ok(pretrain!.seconds >= 0.02);
    const table = time.table();
    assert.match(table, /^ {2}training epochs \(2\) +4\.0 +7\.0$/m);
    assert.match(table, /^ {4}of which waiting for the loader +0\.8$/m);
    assert.match(table, /^ {2}test passes \(1\) +0\.5 +0\.8$/m);
    const rest = (pretrain!.seconds - 4.5).toFixed(1);
    assert.match(table, new RegExp(`^ {2}the rest \\(model, weights, checkpoints, files\\) +${rest} `, 'm'));
    assert.match(table, /^total +\d+\.\d +\d+\.\d$/m);
  });
});
