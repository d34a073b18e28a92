// `clusterfit run` on 2 Gloo ranks over loopback, as a user runs it: RotNet training stopped with
// Ctrl-C and resumed on 1 process; extraction and k-means equal to the one-process run (each rank
// reading only its rows of the features, also from another world size's files, with PCA); a rank
// killed (SIGKILL) or frozen (SIGSTOP) mid-training named by the launcher within the timeout; and
// the bad inputs (world size, unreachable master, checkpoint of another model) in one line each.
// Every wait is bounded, so a regression fails instead of hanging.
// Runs alone (scripts/run-tests.mjs): a killed or frozen rank must be named within DISTRIBUTED.TIMEOUT_S.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { loadTrainingCheckpoint } from '../../src/engine/checkpoint.js';
import { ownedRows } from '../../src/engine/distributed/cluster.js';
import { loadFeatures } from '../../src/engine/feature-files.js';
import { readNpy } from '../../src/torch/io/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { readStageState } from '../../src/tasks/stage-state.js';
import { CLI, clusterfit, ENV, rankPid, training } from './launch-support.js';
import { makeImageFolders, tinyRun } from './support.js';

describe('clusterfit run on 2 Gloo ranks', { timeout: 600000 }, () => {
  let root = '';
  before(async () => {
    root = await makeImageFolders(9, 2);
  });

  const rotnet = (dir: string, epochs: number, procs: number): string[] => [
    'config=demo/rotnet',
    ...tinyRun(dir, epochs),
    `config.DATA.TRAIN.DATA_PATHS=[${join(root, 'train')}]`,
    `config.DATA.TEST.DATA_PATHS=[${join(root, 'test')}]`,
    'config.TEST_MODEL=False',
    `config.DISTRIBUTED.NUM_PROC_PER_NODE=${procs}`,
    'config.DISTRIBUTED.TIMEOUT_S=20',
  ];

  it('trains, is stopped with Ctrl-C at the same step on both ranks, resumes on 1 process and finishes', async () => {
    const dir = join(root, 'rotnet');
    let interrupted = false;
    // Tested after each epoch (on both ranks' shares of the test set); Ctrl-C once epoch 1 was tested.
    const withTests = ['config.TEST_MODEL=True', 'config.TEST_EVERY_NUM_EPOCH=1'];
    // SyncBatchNorm on 2 ranks keeps BatchNorm's names: the 1-process run resumes its checkpoint.
    const syncBn = 'config.MODEL.SYNC_BN_CONFIG.CONVERT_BN_TO_SYNC_BN=True';
    const stopped = await clusterfit([...rotnet(dir, 3, 2), ...withTests, syncBn], {
      until: (output, pid) => {
        if (!interrupted && /"event":"train_test"/.test(output)) {
          interrupted = true;
          process.kill(pid, 'SIGINT');
        }
      },
    });
    assert.equal(stopped.status, 130, stopped.stderr);
    const logs = [0, 1].map((r) => readFileSync(join(dir, 'logs', `rank${r}.log`), 'utf8'));
    const stopLine = /stopping at epoch (\d+), step (\d+)|stopping after epoch (\d+)/;
    const where = logs.map((log) => stopLine.exec(log)?.[0]);
    assert.ok(where[0] !== undefined, logs[0]);
    assert.equal(where[1], where[0], 'both ranks stop at the same step');
    const metrics = readFileSync(join(dir, 'metrics.jsonl'), 'utf8');
    assert.match(metrics, /"event":"checkpoint"/);
    assert.match(metrics, /"event":"train_test"/);
    assert.doesNotMatch(readFileSync(join(dir, 'logs', 'rank1.log'), 'utf8'), /"event":/, 'rank 1 writes no metrics');

    // The checkpoint names its model: resuming it into another one says so.
    const other = await clusterfit([...rotnet(dir, 3, 1), "config.MODEL.HEAD.PARAMS=[['mlp', {'dims': [64, 5]}]]"]);
    assert.equal(other.status, 1);
    assert.match(other.stderr, /error: cannot resume from .*model_phase\d\.torch: it holds another model/);

    const resumed = await clusterfit([...rotnet(dir, 3, 1), ...withTests]);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, /resuming from .* \(written by 2 rank\(s\), resumed on 1\)|resuming from .*step 0/);
    assert.ok(existsSync(join(dir, 'model_final_checkpoint_phase2.torch')));
  });

  it('extraction and k-means on 2 and 3 ranks, each reading only its rows, equal the one-process results', async () => {
    /** cluster_features into root/<out>/clusters, from root/<features> (extracted there first unless `extract` is false). */
    const cluster = (
      out: string,
      procs: number,
      { features = `${out}/features`, extract = true, extra = [] as string[] } = {},
    ) =>
      clusterfit([
        'config=demo/cluster_features',
        `config.DATA.TRAIN.DATA_PATHS=[${join(root, 'train')}]`,
        `config.DATA.TEST.DATA_PATHS=[${join(root, 'test')}]`,
        'config.DATA.TRAIN.BATCHSIZE_PER_REPLICA=4',
        'config.DATA.TEST.BATCHSIZE_PER_REPLICA=4',
        'config.DATA.NUM_DATALOADER_WORKERS=1',
        "config.MODEL.WEIGHTS_INIT.PARAMS_FILE=''",
        `config.EXTRACT_FEATURES.OUTPUT_DIR=${join(root, features)}`,
        `config.CHECKPOINT.DIR=${join(root, features)}`,
        `config.CLUSTERFIT.FEATURES.PATH=${join(root, features)}`,
        `config.CLUSTERFIT.FEATURES.EXTRACT=${extract ? 'True' : 'False'}`,
        `config.CLUSTERFIT.OUTPUT_DIR=${join(root, out, 'clusters')}`,
        'config.CLUSTERFIT.NUM_CLUSTERS=4',
        `config.DISTRIBUTED.NUM_PROC_PER_NODE=${procs}`,
        'config.DISTRIBUTED.TIMEOUT_S=20',
        ...extra,
      ]);
    const file = (out: string, name: string): Tensor =>
      readNpy(join(root, out, 'clusters', `demo_${name}.npy`)) as Tensor;
    /** Labels of both splits identical, centroids within 1e-4. */
    const assertSameClusters = (a: string, b: string, prefix: string): void => {
      for (const split of ['train', 'test'])
        assert.deepEqual(
          file(b, `${split}_${prefix}_labels`).toArray(),
          file(a, `${split}_${prefix}_labels`).toArray(),
          `${b} ${split} labels`,
        );
      const diff = file(a, `train_${prefix}_centroids`)
        .sub(file(b, `train_${prefix}_centroids`))
        .abs()
        .max()
        .item();
      assert.ok(diff < 1e-4, `${b}: centroids differ from ${a}'s by ${diff}`);
    };
    /** Each rank of the run in root/<out> read exactly its block of the 27 train and 6 test rows. */
    const assertEachRankReadItsRows = (out: string, procs: number): void => {
      for (let r = 0; r < procs; r++) {
        const log = readFileSync(join(root, out, 'clusters', 'logs', `rank${r}.log`), 'utf8');
        for (const [split, n] of [
          ['train', 27],
          ['test', 6],
        ] as const) {
          const [start, end] = ownedRows(n, r, procs);
          assert.match(
            log,
            new RegExp(
              `${split} features: this rank holds rows \\[${start}, ${end}\\) of ${n}; read ${end - start} feature rows from the files`,
            ),
            `rank ${r} of ${out}`,
          );
        }
      }
    };

    const one = await cluster('cluster1', 1);
    assert.equal(one.status, 0, one.stderr);
    const two = await cluster('cluster2', 2);
    assert.equal(two.status, 0, two.stderr);
    const features = [1, 2].map((p) => loadFeatures(join(root, `cluster${p}`, 'features'), 'train', 'flatten'));
    const [f1, f2] = features as [ReturnType<typeof loadFeatures>, ReturnType<typeof loadFeatures>];
    assert.deepEqual(f2.indices, f1.indices, 'every image once, no padding duplicates');
    assert.ok(existsSync(join(root, 'cluster2', 'features', 'rank1_chunk0_train_flatten_features.npy')));
    assert.ok(f1.features.sub(f2.features).abs().max().item() < 1e-5);
    for (const t of [f1.features, f2.features]) t.dispose();
    assertSameClusters('cluster1', 'cluster2', 'flatten_N4_D64');
    assertEachRankReadItsRows('cluster2', 2);

    // The 2-rank features clustered on 3 ranks (blocks that straddle both ranks' shard files, and
    // the sampler's padding row), with the PCA fitted from statistics summed over the ranks and a
    // DATA_LIMIT sample, against one process clustering the same files.
    const pca = ['config.CLUSTERFIT.FEATURES.DIMENSIONALITY_REDUCTION=8', 'config.CLUSTERFIT.DATA_LIMIT=20'];
    const pcaOne = await cluster('pca1', 1, { features: 'cluster2/features', extract: false, extra: pca });
    assert.equal(pcaOne.status, 0, pcaOne.stderr);
    const pcaThree = await cluster('pca3', 3, { features: 'cluster2/features', extract: false, extra: pca });
    assert.equal(pcaThree.status, 0, pcaThree.stderr);
    assertSameClusters('pca1', 'pca3', 'flatten_N4_D8');
    assertEachRankReadItsRows('pca3', 3);

    // Extracting again on 1 process into the 2-rank folder leaves no rank-1 shard to merge.
    const again = await cluster('cluster2', 1);
    assert.equal(again.status, 0, again.stderr);
    assert.ok(!existsSync(join(root, 'cluster2', 'features', 'rank1_chunk0_train_flatten_features.npy')));
  });

  it('nearest_neighbor on 2 nodes (node_id=0 and 1 on loopback) equals the one-process scores', async () => {
    const words = (dir: string): string[] => [
      'config=demo/evaluate',
      'config.ENGINE_NAME=nearest_neighbor',
      `config.DATA.TRAIN.DATA_PATHS=[${join(root, 'train')}]`,
      `config.DATA.TEST.DATA_PATHS=[${join(root, 'test')}]`,
      'config.DATA.TRAIN.BATCHSIZE_PER_REPLICA=4',
      'config.DATA.TEST.BATCHSIZE_PER_REPLICA=4',
      'config.DATA.NUM_DATALOADER_WORKERS=1',
      "config.MODEL.WEIGHTS_INIT.PARAMS_FILE=''",
      `config.CHECKPOINT.DIR=${dir}`,
      'config.DISTRIBUTED.NUM_PROC_PER_NODE=1',
      'config.DISTRIBUTED.TIMEOUT_S=20',
    ];
    const one = await clusterfit(words(join(root, 'knn1')));
    assert.equal(one.status, 0, one.stderr);
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    server.close();
    const nodes = ['0', '1'].map((node) =>
      clusterfit([
        ...words(join(root, 'knn2')),
        'config.DISTRIBUTED.NUM_NODES=2',
        `config.DISTRIBUTED.RUN_ID=127.0.0.1:${port}`,
        `node_id=${node}`,
      ]),
    );
    for (const node of await Promise.all(nodes)) assert.equal(node.status, 0, node.stderr);
    assert.ok(existsSync(join(root, 'knn2', 'logs', 'rank1.log')), 'node 1 runs global rank 1');
    const scores = (dir: string): unknown =>
      (JSON.parse(readFileSync(join(root, dir, 'evaluation.json'), 'utf8')) as { layers: unknown }).layers;
    assert.deepEqual(scores('knn2'), scores('knn1'));
  });

  it('a rank killed with SIGKILL mid-training is named by the launcher, every time', async () => {
    for (let attempt = 0; attempt < 2; attempt++) {
      let killed = false;
      // MAX_RESTARTS is 0 by default; the second time as the command-line option.
      const restarts = attempt === 0 ? [] : ['max_restarts=0'];
      const run = await clusterfit([...rotnet(join(root, `killed${attempt}`), 50, 2), ...restarts], {
        limitS: 90,
        until: (output) => {
          const pid = rankPid(output, 1);
          if (!killed && pid !== null && training(output)) {
            killed = true;
            process.kill(pid, 'SIGKILL');
          }
        },
      });
      assert.equal(run.status, 137, run.stderr);
      assert.match(run.stderr, /error: rank 1 \(pid \d+\) was killed by SIGKILL; its log: .*rank1\.log/);
    }
  });

  it('with --max-restarts 1 a rank killed mid-epoch restarts every rank from the last checkpoint to the end', async () => {
    const dir = join(root, 'restarted');
    const epochs = 3;
    let killed = 0;
    const run = await clusterfit([...rotnet(dir, epochs, 2), '--max-restarts', '1'], {
      limitS: 240,
      until: (output) => {
        // Killed in epoch 1, once epoch 0's checkpoint is written.
        const pid = rankPid(output, 1);
        if (killed === 0 && pid !== null && training(output, 1)) {
          killed = pid;
          process.kill(pid, 'SIGKILL');
        }
      },
    });
    assert.ok(killed > 0, run.stderr);
    assert.equal(run.status, 0, run.stderr);
    assert.match(
      run.stderr,
      /clusterfit launcher: restart 1 of 1 after rank 1 was killed by SIGKILL: every rank starts again/,
    );
    const event = run.stdout.split('\n').find((line) => line.includes('"event":"restart"'));
    assert.ok(event, run.stdout);
    assert.deepEqual(
      (({ restart, max_restarts, rank, reason }) => ({ restart, max_restarts, rank, reason }))(JSON.parse(event)),
      { restart: 1, max_restarts: 1, rank: 1, reason: 'was killed by SIGKILL' },
    );
    // Each rank's log holds both starts, the second resuming from epoch 0's checkpoint.
    for (const rank of [0, 1]) {
      const log = readFileSync(join(dir, 'logs', `rank${rank}.log`), 'utf8');
      const starts = log.split(/^== clusterfit launcher .*$/m).slice(1);
      assert.equal(starts.length, 2, log);
      assert.match(log, new RegExp(`rank ${rank}, pid \\d+, restart 1 of 1, `));
    }
    const second = readFileSync(join(dir, 'logs', 'rank0.log'), 'utf8').split('restart 1 of 1')[1];
    assert.match(second ?? '', /resuming from .*model_phase0\.torch/);
    const final = loadTrainingCheckpoint(join(dir, `model_final_checkpoint_phase${epochs - 1}.torch`));
    assert.equal(final.epoch, epochs - 1, 'the last phase');
    final.dispose();
    assert.deepEqual(
      readStageState(dir, 'train')?.attempts.map((a) => a.state),
      ['failed', 'done'],
      'the killed start is recorded as failed, the restart as done',
    );
    assert.ok(!existsSync(join(dir, '.clusterfit.lock')), 'the launcher releases the folder');
  });

  it('a rank frozen with SIGSTOP is named within DISTRIBUTED.TIMEOUT_S', async () => {
    let frozen = 0;
    const run = await clusterfit([...rotnet(join(root, 'frozen'), 50, 2), 'config.DISTRIBUTED.TIMEOUT_S=5'], {
      limitS: 90,
      until: (output) => {
        const pid = rankPid(output, 1);
        if (frozen === 0 && pid !== null && training(output)) {
          frozen = pid;
          process.kill(pid, 'SIGSTOP');
        }
      },
    });
    assert.notEqual(run.status, 0, run.stderr);
    assert.match(run.stderr, /rank 1 \(pid \d+\) (has been|was) stopped/);
    assert.ok(run.seconds < 60, `took ${run.seconds} s`);
  });

  it('a world size other than NUM_NODES x NUM_PROC_PER_NODE names both', () => {
    const run = spawnSync(process.execPath, [CLI, 'run', ...rotnet(join(root, 'world'), 1, 1)], {
      env: { ...ENV, RANK: '0', WORLD_SIZE: '2', LOCAL_RANK: '0', MASTER_ADDR: '127.0.0.1', MASTER_PORT: '29999' },
      encoding: 'utf8',
      timeout: 60000,
    });
    assert.equal(run.status, 1, run.stderr);
    assert.match(
      run.stderr,
      /started in a group of 2 process\(es\) \(WORLD_SIZE\), but the config asks for .* = 1 x 1 = 1/,
    );
  });

  it('a master that never answers ends after TIMEOUT_S naming the address', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    server.close();
    const run = spawnSync(
      process.execPath,
      [CLI, 'run', ...rotnet(join(root, 'unreachable'), 1, 2), 'config.DISTRIBUTED.TIMEOUT_S=3'],
      {
        env: {
          ...ENV,
          RANK: '1',
          WORLD_SIZE: '2',
          LOCAL_RANK: '1',
          LOCAL_WORLD_SIZE: '2',
          MASTER_ADDR: '127.0.0.1',
          MASTER_PORT: String(port),
        },
        encoding: 'utf8',
        timeout: 60000,
      },
    );
    assert.equal(run.status, 1, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(`rank 1 of 2 could not join the group at 127.0.0.1:${port} within DISTRIBUTED.TIMEOUT_S=3 s`),
    );
  });
});
