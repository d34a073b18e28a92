// The whole pipeline on a tiny image folder (the demo preset, shrunk to seconds): every stage runs
// for real, the files each stage hands to the next are what numpy and the next stage expect, and
// the final table compares the two models.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { imageFolder } from '../../src/data/index.js';
import { RunLogger, type ProgressEvent } from '../../src/engine/run-logger.js';
import { runPipeline } from '../../src/tasks/index.js';
import { memoryStats } from '../../src/torch/index.js';
import { PYTHON } from '../support/oracle.js';
import { makeImageFolders } from './support.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

function clusterfit(...words: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...words], { encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('pipeline', () => {
  it('runs pretrain -> cluster -> train -> evaluate and hands consistent files between stages', async () => {
    const root = await makeImageFolders(8, 3);
    const out = join(root, 'run');
    const liveBefore = memoryStats().liveTensors;
    const events: ProgressEvent[] = [];
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
      logger: new RunLogger({ quiet: true, jsonToStdout: false, onProgress: (e) => events.push(e) }),
    });
    assert.equal(result.completed, true);
    // Progress: the test pass after training has its own bar, over the 9 test images; every event
    // carries the whole run's ETA, which counts the stages to come (more than the stage's own ETA
    // while RotNet trains) and is the stage's own at the very end.
    const tests = events.filter((e) => e.label === 'train test after epoch 1');
    assert.ok(tests.length > 0, [...new Set(events.map((e) => e.label))].join(', '));
    assert.ok(tests.every((e) => e.total === 9));
    assert.equal(tests.at(-1)?.done, 9);
    assert.ok(events.every((e) => e.runEtaSeconds !== undefined && e.runEtaSeconds >= e.etaSeconds));
    const pretraining = events.filter((e) => e.label === 'train epoch 1/1' && e.rate > 0)[0]!;
    assert.ok(Number.isFinite(pretraining.runEtaSeconds) && pretraining.runEtaSeconds! > pretraining.etaSeconds);
    assert.equal(events.at(-1)?.runEtaSeconds, events.at(-1)?.etaSeconds);
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

    // The demo's cluster and evaluation configs extract the same features, so the RotNet's images
    // went through it once: the k-means and the RotNet's evaluation read the same files.
    assert.ok(existsSync(join(out, 'rotnet_features', 'rank0_chunk0_train_res3_features.npy')));
    assert.ok(!existsSync(join(out, 'eval_rotnet', 'features')));
    assert.ok(existsSync(join(out, 'eval_random', 'features')));

    // Where the time went: every stage, its parts from the stages' metrics lines, and the rest.
    const stagesTimed = result.time.map((t) => t.stage);
    assert.deepEqual(stagesTimed, [
      '1/4 RotNet pretraining',
      '2/4 features and k-means',
      '3/4 ClusterFit training on the cluster ids',
      '4/4 evaluation of random init',
      '4/4 evaluation of RotNet',
      '4/4 evaluation of ClusterFit',
    ]);
    const parts = (stage: number): Record<string, number> =>
      Object.fromEntries(result.time[stage]!.parts.map((p) => [p.name, p.count]));
    assert.deepEqual(parts(0), { 'training epochs': 1, 'test passes': 1 });
    assert.deepEqual(parts(1), { 'feature extraction': 2, 'k-means': 1 });
    assert.deepEqual(parts(2), { 'training epochs': 1 });
    assert.deepEqual(parts(3), { 'feature extraction': 2, kNN: 3, 'linear probes': 3 });
    assert.deepEqual(parts(4), { kNN: 3, 'linear probes': 3 });
    for (const stage of result.time) {
      assert.ok(stage.seconds > 0 && stage.cpu_seconds > 0, JSON.stringify(stage));
      const sum = stage.parts.reduce((a, p) => a + p.seconds, 0);
      assert.ok(sum <= stage.seconds, `${stage.stage}: parts ${sum} s within the stage's ${stage.seconds} s`);
    }
    assert.ok(result.time[0]!.parts[0]!.data_wait_seconds! >= 0);
    assert.match(result.timeTable, /^1\/4 RotNet pretraining +\d+\.\d +\d+\.\d$/m);
    assert.match(result.timeTable, /^ {2}training epochs \(1\) .*\n {4}of which waiting for the loader +\d+\.\d$/m);
    assert.match(result.timeTable, /^total +\d+\.\d +\d+\.\d$/m);

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
    assert.doesNotMatch(said, /^extracted |k-means: /m);
    assert.equal(statSync(train.labels).mtimeMs, labelsWritten);
    assert.equal(again.table, result.table);

    // `clusterfit status` names every stage as done, with its key numbers.
    const status = clusterfit('status', out);
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /^rotnet +train +done +1\/1 epochs/m);
    assert.match(status.stdout, /^rotnet_features +extract +done +res3, res4, flatten of 24 train and 9 test images/m);
    assert.match(status.stdout, /^clusters +cluster +done +K=4 on 24 images/m);
    assert.match(status.stdout, /^clusterfit +train +done/m);
    assert.match(status.stdout, /^eval_clusterfit +evaluate +done +top-1 on 9 test images: res3 linear/m);

    // `clusterfit assign` labels the same images as the cluster stage did, with the same clusters.
    const assigned = join(root, 'assigned');
    const run = clusterfit('assign', `run=${out}`, `images=${join(root, 'train')}`, `out=${assigned}`);
    assert.equal(run.status, 0, run.stderr);
    const labelsFile = run.stdout.trim(); // the result alone on stdout (JSON lines only with --json)
    const same = execFileSync(PYTHON, [
      '-c',
      `import numpy as np, sys
a, ai, c, ci = (np.load(p) for p in sys.argv[1:5])
order = {str(p): i for i, p in enumerate(ci)}
print(a.dtype, len(a), all(a[i] == c[order[str(p)]] for i, p in enumerate(ai)))`,
      labelsFile,
      labelsFile.replace(/_labels\.npy$/, '_images.npy'),
      train.labels,
      train.imagesFile,
    ]).toString();
    assert.equal(same.trim(), 'int64 24 True');
  });
  it('runs every stage on 2 processes from one command (NUM_PROC_PER_NODE=2), rank 0 alone writing the run folder', async () => {
    const root = await makeImageFolders(8, 3);
    const out = join(root, 'run2');
    const words = [
      'pipeline',
      'preset=demo',
      `out=${out}`,
      `data=${root}`,
      'config.DISTRIBUTED.NUM_PROC_PER_NODE=2',
      'config.OPTIMIZER.num_epochs=1',
      'config.DATA.NUM_DATALOADER_WORKERS=1',
      'config.DATA.TRAIN.BATCHSIZE_PER_REPLICA=3',
      'config.DATA.TEST.BATCHSIZE_PER_REPLICA=3',
      'cluster.config.CLUSTERFIT.NUM_CLUSTERS=4',
      'cluster.config.CLUSTERFIT.NUM_ITER=5',
      'evaluate.config.NEAREST_NEIGHBOR.TOPK=5',
    ];
    const run = spawnSync(process.execPath, [CLI, ...words], {
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, OMP_NUM_THREADS: '1' },
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /clusterfit launcher: node 0 of 1, 2 worker\(s\)/);
    // The table once (rank 0), on stdout (the result); each stage split in 2 x 3 = 6 images per step: 24 images, 4 steps.
    assert.equal(run.stdout.match(/^features +linear top-1/gm)?.length, 1, run.stdout);
    assert.match(run.stdout, /K=4 on 24 train images/);
    for (const r of [0, 1]) {
      const log = readFileSync(join(out, 'logs', `rank${r}.log`), 'utf8');
      assert.match(log, /on 24 images for 1 epoch\(s\), 4 steps each/, `rank ${r}`);
    }
    // Extraction wrote one file per rank; the labels are one file, for every image once.
    assert.ok(readdirSync(join(out, 'rotnet_features')).some((f) => f.startsWith('rank1_')));
    const labels = execFileSync(PYTHON, [
      '-c',
      'import numpy as np, sys; print(len(np.load(sys.argv[1])), len(set(np.load(sys.argv[2]).tolist())))',
      join(out, 'clusters', 'demo_train_flatten_N4_D64_labels.npy'),
      join(out, 'clusters', 'demo_train_flatten_N4_D64_images.npy'),
    ]).toString();
    assert.equal(labels.trim(), '24 24');
    // Rank 0's metrics only: one pipeline summary, no second writer.
    const summaries = readFileSync(join(out, 'metrics.jsonl'), 'utf8').match(/"event":"pipeline_summary"/g);
    assert.equal(summaries?.length, 1);
  });

  it('refuses a stage override that gives one stage another process layout, before starting anything', () => {
    const run = clusterfit(
      'pipeline',
      'preset=demo',
      'out=/nonexistent/never',
      'train.config.DISTRIBUTED.NUM_PROC_PER_NODE=2',
    );
    assert.equal(run.status, 1);
    assert.match(
      run.stderr,
      /NUM_NODES x NUM_PROC_PER_NODE is 1 x 2 for the train stage and 1 x 1 for the pretrain stage: set them for all stages/,
    );
    assert.doesNotMatch(run.stderr, /launcher|RotNet pretraining/);
  });
});
