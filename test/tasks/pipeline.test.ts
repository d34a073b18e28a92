// The whole pipeline on a tiny image folder (the demo preset, shrunk to seconds): every stage runs
// for real, the files each stage hands to the next are what numpy and the next stage expect, and
// the final table compares the two models.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { imageFolder } from '../../src/data/index.js';
import { RunLogger } from '../../src/engine/run-logger.js';
import { runPipeline } from '../../src/tasks/index.js';
import { memoryStats } from '../../src/torch/index.js';
import { PYTHON } from '../support/oracle.js';
import { makeImageFolders } from './support.js';

describe('pipeline', () => {
  it('runs pretrain -> cluster -> train -> evaluate and hands consistent files between stages', async () => {
    const root = await makeImageFolders(8, 3);
    const out = join(root, 'run');
    const liveBefore = memoryStats().liveTensors;
    const shrink = ['config.OPTIMIZER.num_epochs=1', 'config.DATA.NUM_DATALOADER_WORKERS=1'];
    const stageOverrides = {
      pretrain: shrink,
      cluster: [...shrink, 'config.CLUSTERFIT.NUM_CLUSTERS=4', 'config.CLUSTERFIT.NUM_ITER=5'],
      train: shrink,
      evaluate: ['config.OPTIMIZER.num_epochs=2', 'config.NEAREST_NEIGHBOR.TOPK=5'],
    };
    const result = await runPipeline({
      preset: 'demo',
      outputDir: out,
      dataRoot: root,
      overrides: ['config.DATA.TRAIN.BATCHSIZE_PER_REPLICA=6', 'config.DATA.TEST.BATCHSIZE_PER_REPLICA=6'],
      stageOverrides,
      logger: new RunLogger({ quiet: true, jsonToStdout: false }),
    });
    assert.equal(result.completed, true);
    assert.match(result.table ?? '', /random init flatten .*\nRotNet res3.*\nClusterFit res3/s);
    assert.match(result.table ?? '', /K=4 on 24 train images/);
    assert.ok(existsSync(join(out, 'clusterfit', 'checkpoint.torch')));

    // The label files: int64, one entry per image, in ImageFolder order, no duplicated image.
    const clusters = result.clusters!;
    assert.equal(clusters.numClusters, 4);
    const train = clusters.splits[0]!;
    const summary = JSON.parse(
      execFileSync(PYTHON, [
        '-c',
        `import numpy as np, json, sys
labels = np.load(sys.argv[1]); images = np.load(sys.argv[2])
print(json.dumps({"dtype": str(labels.dtype), "n": len(labels), "images": [str(p) for p in images],
  "unique": len(set(images.tolist())), "range": [int(labels.min()), int(labels.max())]}))`,
        train.labels,
        train.imagesFile,
      ]).toString(),
    ) as { dtype: string; n: number; images: string[]; unique: number; range: [number, number] };
    const folder = imageFolder(join(root, 'train'));
    assert.equal(summary.dtype, 'int64');
    assert.equal(summary.n, folder.samples.length);
    assert.equal(summary.unique, folder.samples.length);
    assert.deepEqual(
      summary.images,
      folder.samples.map((s) => s.path),
    );
    assert.ok(summary.range[0] >= 0 && summary.range[1] < 4);
    assert.equal(clusters.splits[1]?.images, 9);
    assert.deepEqual(
      result.rotnet?.layers.map((l) => [l.layer, l.dim]),
      [
        ['res3', 512],
        ['res4', 256],
        ['flatten', 64],
      ],
    );
    assert.equal(memoryStats().liveTensors, liveBefore, 'the pipeline leaves no tensor behind');

    // Running it again skips every finished stage: training, extraction, k-means and evaluation.
    const labelsWritten = statSync(train.labels).mtimeMs;
    const messages: string[] = [];
    const again = await runPipeline({
      preset: 'demo',
      outputDir: out,
      dataRoot: root,
      overrides: ['config.DATA.TRAIN.BATCHSIZE_PER_REPLICA=6', 'config.DATA.TEST.BATCHSIZE_PER_REPLICA=6'],
      stageOverrides,
      logger: new RunLogger({ messages: (line) => messages.push(line) }),
    });
    assert.equal(again.completed, true);
    const said = messages.join('\n');
    assert.equal(said.match(/training in .* is already complete/g)?.length, 2, said);
    assert.match(said, /clusters are already made in .*clusters \(K=4\); skipping/);
    assert.equal(said.match(/is already evaluated; skipping/g)?.length, 3, said);
    assert.doesNotMatch(said, /extracted |k-means: /);
    assert.equal(statSync(train.labels).mtimeMs, labelsWritten);
    assert.equal(again.table, result.table);
  });
});
