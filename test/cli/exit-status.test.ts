// Every command's exit status reflects its outcome, as a shell script, SLURM or CI reads it: 0 only
// when the work finished; a failure is non-zero with one `error:` line naming it, on one process and
// on N (the launcher's own status follows its workers'); a process layout that cannot work here is
// refused before any worker starts. (Finishing is 0 in the commands' own tests; a stop on request is
// 130 in test/tasks/resume.test.ts and distributed.test.ts.)
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cuda } from '../../src/torch/index.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

function clusterfit(...words: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...words], { encoding: 'utf8', timeout: 120000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** One failure: non-zero status, an error line matching `message`, and no stack trace. */
function assertFails(run: ReturnType<typeof clusterfit>, message: RegExp): void {
  assert.notEqual(run.status, 0, `expected a failure status\n${run.stderr}`);
  assert.notEqual(run.status, null, `killed by the test's timeout\n${run.stderr}`);
  assert.match(run.stderr, /^error: \S/m, run.stderr);
  assert.match(run.stderr, message);
  assert.doesNotMatch(run.stderr, /^\s+at .*\.js:\d+/m, 'no stack trace without CLUSTERFIT_DEBUG');
}

// A VISSL-style RotNet config of our own that asks for 8 GPU workers, as VISSL's *_8gpu_* configs do.
function gpuConfig(root: string, dataPath: string): string {
  const file = join(root, 'rotnet_8gpu.yaml');
  writeFileSync(
    file,
    `config:
  DATA:
    NUM_DATALOADER_WORKERS: 1
    TRAIN:
      DATA_SOURCES: [disk_folder]
      DATA_PATHS: [${JSON.stringify(dataPath)}]
      DATASET_NAMES: [eight_gpu_folder]
      BATCHSIZE_PER_REPLICA: 4
      TRANSFORMS: [{ name: ImgRotatePil }, { name: ToTensor }]
  MODEL:
    TRUNK: { NAME: cifar_resnet, RESNETS: { DEPTH: 20 } }
    HEAD: { PARAMS: [['mlp', { 'dims': [64, 4] }]] }
  LOSS: { name: cross_entropy_multiple_output_single_target }
  OPTIMIZER: { num_epochs: 1 }
  MACHINE: { DEVICE: gpu }
  DISTRIBUTED: { NUM_NODES: 1, NUM_PROC_PER_NODE: 8 }
  CHECKPOINT: { DIR: ${JSON.stringify(join(root, 'rotnet_8gpu'))} }
`,
  );
  return file;
}

const noGpu = cuda.deviceCount() < 8 ? false : 'this machine has 8 CUDA devices: the layout fits';

describe('exit status of every command', { timeout: 300000 }, () => {
  let root = '';
  let config = '';
  const missing = '/nonexistent/clusterfit-images';
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'clusterfit-exit-'));
    config = gpuConfig(root, missing);
  });

  it(
    'run_distributed_engines: gpu x 8 processes on a machine without 8 GPUs is refused before any worker starts',
    { skip: noGpu },
    () => {
      for (const tool of ['run_distributed_engines', 'run']) {
        const run = clusterfit(tool, `config=${config}`);
        assertFails(
          run,
          /MACHINE\.DEVICE is gpu on 8 processes .*nothing was started; set config\.MACHINE\.DEVICE=cpu/,
        );
        assert.equal(run.status, 1, tool);
        assert.doesNotMatch(run.stderr, /launcher: started/, 'no worker was started');
        assert.ok(!existsSync(join(root, 'rotnet_8gpu')), 'no run folder was made');
      }
    },
  );

  it('run and run_distributed_engines on 1 process: gpu without one, or a missing data path, is status 1', () => {
    for (const tool of ['run_distributed_engines', 'run']) {
      const one = 'config.DISTRIBUTED.NUM_PROC_PER_NODE=1';
      if (cuda.deviceCount() === 0) {
        assertFails(clusterfit(tool, `config=${config}`, one), /MACHINE\.DEVICE is gpu on one process/);
      }
      const dir = join(root, `missing-data-${tool}`);
      const data = clusterfit(
        tool,
        `config=${config}`,
        one,
        'config.MACHINE.DEVICE=cpu',
        `config.CHECKPOINT.DIR=${dir}`,
      );
      assertFails(data, /DATA\.TRAIN\.DATA_PATHS: data path '\/nonexistent\/clusterfit-images' does not exist/);
      assert.equal(data.status, 1);
      // Refused before the run folder is made: no folder holding only train_config.yaml.
      assert.ok(!existsSync(dir), `${tool} left ${dir}`);
    }
  });

  it('run and run_distributed_engines on 2 processes: a worker that fails makes the launcher fail, naming the rank', () => {
    for (const tool of ['run_distributed_engines', 'run']) {
      const run = clusterfit(
        tool,
        `config=${config}`,
        'config.DISTRIBUTED.NUM_PROC_PER_NODE=2',
        'config.MACHINE.DEVICE=cpu',
        `config.CHECKPOINT.DIR=${join(root, `two-${tool}`)}`,
      );
      assertFails(run, /rank [01] \(pid \d+\) exited with status 1; its log: .*rank[01]\.log/);
      assert.equal(run.status, 1, tool);
      assert.match(run.stderr, /its last error: error: DATA\.TRAIN\.DATA_PATHS: data path .* does not exist/);
    }
  });

  it("VISSL's other tools: a failure is status 1 on 1 process and on 2", () => {
    const knn = join(root, 'knn.yaml');
    writeFileSync(
      knn,
      `config:
  DATA:
    TRAIN: { DATA_SOURCES: [disk_folder], LABEL_SOURCES: [disk_folder], DATA_PATHS: [${JSON.stringify(missing)}] }
    TEST: { DATA_SOURCES: [disk_folder], LABEL_SOURCES: [disk_folder], DATA_PATHS: [${JSON.stringify(missing)}] }
  MODEL: { TRUNK: { NAME: cifar_resnet, RESNETS: { DEPTH: 20 } } }
  NEAREST_NEIGHBOR: { TOPK: [1] }
  MACHINE: { DEVICE: cpu }
`,
    );
    const runs = {
      cluster_features_and_label: [
        'config=demo/cluster_features',
        'config.MODEL.WEIGHTS_INIT.PARAMS_FILE=',
        `config.DATA.TRAIN.DATA_PATHS=[${missing}]`,
      ],
      nearest_neighbor_test: [`config=${knn}`],
    };
    for (const [tool, words] of Object.entries(runs)) {
      for (const procs of [1, 2]) {
        const run = clusterfit(
          tool,
          ...words,
          `config.DISTRIBUTED.NUM_PROC_PER_NODE=${procs}`,
          `config.CHECKPOINT.DIR=${join(root, `${tool}${procs}`)}`,
          `config.CLUSTERFIT.OUTPUT_DIR=${join(root, `${tool}${procs}`)}`,
        );
        assertFails(run, /data path '\/nonexistent\/clusterfit-images' does not exist/);
        assert.equal(run.status, 1, `${tool} on ${procs}`);
      }
    }
  });

  it('pipeline and demo: a missing data root is refused up front, a failing stage is status 1 on 2 processes; gpu x 2 is refused', () => {
    const out = join(root, 'pipeline');
    for (const procs of [1, 2]) {
      const refused = clusterfit(
        'pipeline',
        'preset=demo',
        `out=${out}`,
        `data=${missing}`,
        `config.DISTRIBUTED.NUM_PROC_PER_NODE=${procs}`,
      );
      assertFails(refused, /data=\/nonexistent\/clusterfit-images: .*train' does not exist/);
      assert.doesNotMatch(refused.stderr, /launcher: started/);
      assert.ok(!existsSync(out), 'no run folder is left behind');
    }
    // A root with train/ and test/ but no class folders fails inside the workers.
    const empty = join(root, 'empty');
    for (const split of ['train', 'test']) mkdirSync(join(empty, split), { recursive: true });
    const two = clusterfit(
      'pipeline',
      'preset=demo',
      `out=${join(root, 'pipeline2')}`,
      `data=${empty}`,
      'config.DISTRIBUTED.NUM_PROC_PER_NODE=2',
    );
    assertFails(two, /rank [01] .* exited with status 1.*\n.*has no class sub-folders/);
    assert.equal(two.status, 1);
    if (cuda.deviceCount() < 2) {
      const gpu = clusterfit(
        'demo',
        `out=${join(root, 'demo')}`,
        'config.DISTRIBUTED.NUM_PROC_PER_NODE=2',
        'config.MACHINE.DEVICE=gpu',
      );
      assertFails(gpu, /MACHINE\.DEVICE is gpu on 2 processes .*nothing was started/);
      assert.doesNotMatch(gpu.stderr, /launcher: started/);
    }
  });

  it('status, assign, convert, explore and report on a folder or file that is not there: status 1', () => {
    const gone = join(root, 'gone');
    assertFails(clusterfit('status', gone), /gone/);
    assertFails(clusterfit('assign', `run=${gone}`, `images=${gone}`, `out=${join(root, 'assigned')}`), /gone/);
    assertFails(clusterfit('convert', join(gone, 'checkpoint.torch'), join(root, 'out.pth')), /gone/);
    assertFails(clusterfit('explore', gone), /gone/);
    assertFails(clusterfit('report', gone, `out=${join(root, 'r.html')}`), /gone/);
  });

  it('usage mistakes are status 1 too, and --help / --version are 0', () => {
    assert.equal(clusterfit('frobnicate').status, 1);
    assert.equal(clusterfit('run').status, 1);
    assert.equal(clusterfit('run_distributed_engines').status, 1);
    assert.equal(clusterfit('run_distributed_engines', '--help').status, 0);
    assert.equal(clusterfit('--version').status, 0);
  });
});
