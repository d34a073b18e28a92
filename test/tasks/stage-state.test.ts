// One source of truth for a stage's state (done / running / stopped at epoch e of n / failed):
// `<stage>_state.json`, written by the stage and read alike by `clusterfit status`, the explorer's
// /api/stages and the report. A clean stop is "stopped" the moment the call returns (not after the
// metrics file ages); a process killed without a word is not "running"; a stopped-and-resumed stage
// is one stage with its attempts; a stage never shows another stage's test score.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/index.js';
import { RunLogger } from '../../src/engine/run-logger.js';
import { LOCK_NAME, lockRunFolder, releaseRunFolders } from '../../src/engine/run-lock.js';
import { RunFolder } from '../../src/explore/run.js';
import { trainTask } from '../../src/tasks/index.js';
import { readStageState, StageRecorder } from '../../src/tasks/stage-state.js';
import { formatStatus, runStatus } from '../../src/tasks/status.js';
import { makeImageFolders, tinyRun } from './support.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

describe('stage state', () => {
  let root = '';
  before(async () => {
    root = await makeImageFolders(4, 1);
  });

  it('a stopped training is "stopped at epoch e of n" at once, in status and the explorer; resumed, it is one stage', async () => {
    const run = join(root, 'run');
    const dir = join(run, 'rotnet');
    const metricsFile = join(run, 'metrics.jsonl');
    const cfg = loadConfig({
      config: 'demo/rotnet',
      overrides: [
        `config.DATA.TRAIN.DATA_PATHS=[${JSON.stringify(join(root, 'train'))}]`,
        `config.DATA.TEST.DATA_PATHS=[${JSON.stringify(join(root, 'test'))}]`,
        ...tinyRun(dir, 3),
        'config.TEST_EVERY_NUM_EPOCH=1',
      ],
    });
    mkdirSync(run, { recursive: true });
    // As a pipeline does: one metrics file in the run folder, the stage in a subfolder.
    const logger = (): RunLogger => new RunLogger({ quiet: true, jsonToStdout: false, metricsFile });
    const first = await trainTask(cfg, { logger: logger() });
    assert.equal(first.completed, true);
    releaseRunFolders();

    // A second stage (ClusterFit's place) in the same file, stopped after its first epoch.
    const second = join(run, 'clusterfit');
    const cfg2 = loadConfig({
      config: 'demo/rotnet',
      overrides: [
        `config.DATA.TRAIN.DATA_PATHS=[${JSON.stringify(join(root, 'train'))}]`,
        ...tinyRun(second, 3),
        'config.TEST_MODEL=False',
      ],
    });
    let stopNow = false;
    // The logger reports progress; the stop is asked for one step into epoch 2.
    const stopping = new RunLogger({
      quiet: true,
      jsonToStdout: false,
      metricsFile,
      onProgress: (event) => {
        if (event.label.startsWith('train epoch 2/')) stopNow = true;
      },
    });
    const stopped = await trainTask(cfg2, {
      logger: stopping,
      stop: {
        get requested() {
          return stopNow;
        },
      },
    });
    releaseRunFolders();
    assert.equal(stopped.completed, false);
    const state = readStageState(second, 'train')!;
    assert.equal(state.state, 'stopped');
    assert.equal(state.epochs, 3);
    assert.ok(state.epoch! >= 1 && state.epoch! < 3, JSON.stringify(state));

    // status, straight after the stop: stopped, with its own numbers only (the first stage tested, this one did not).
    const lines = formatStatus(run, runStatus(run)).split('\n');
    const rotnetLine = lines.find((l) => l.startsWith('rotnet'))!;
    const secondLine = lines.find((l) => l.startsWith('clusterfit'))!;
    assert.match(rotnetLine, /train +done +3\/3 epochs; train loss [\d.]+, test top-1 [\d.]+/);
    assert.match(
      secondLine,
      new RegExp(`train +stopped +at epoch ${state.epoch} of 3; train loss [\\d.]+; the same command resumes it`),
    );
    assert.doesNotMatch(secondLine, /top-1/, 'a stage that never tested shows no test score');

    // The explorer's /api/stages (RunFolder.stages) says the same.
    const folder = new RunFolder(run);
    const before = folder.stages();
    assert.deepEqual(
      before.map((s) => [s.name, s.state?.state, s.finished]),
      [
        ['rotnet', 'done', true],
        ['clusterfit', 'stopped', false],
      ],
    );

    // Resumed to the end: still two stages, the second with two attempts.
    const resumed = await trainTask(cfg2, { logger: logger() });
    releaseRunFolders();
    assert.equal(resumed.completed, true);
    const after = folder.stages();
    assert.deepEqual(
      after.map((s) => [s.name, s.state?.state, s.state?.attempts.map((a) => a.state)]),
      [
        ['rotnet', 'done', ['done']],
        ['clusterfit', 'done', ['stopped', 'done']],
      ],
    );
    assert.deepEqual(after[1]!.epochs.epoch, [0, 1, 2], 'one curve across both attempts');
    folder.dispose();
    assert.match(formatStatus(run, runStatus(run)), /clusterfit +train +done +3\/3 epochs/);
  });

  it('running while its process holds the lock; failed once that process is gone without a word', () => {
    const dir = mkdtempSync(join(tmpdir(), 'clusterfit-state-'));
    lockRunFolder(dir, 'CHECKPOINT.DIR', () => {});
    const recorder = new StageRecorder(dir, 'train', { writer: true, epochs: 30 });
    recorder.epoch(3);
    assert.deepEqual(
      { state: readStageState(dir, 'train')!.state, epoch: readStageState(dir, 'train')!.epoch },
      { state: 'running', epoch: 3 },
    );
    releaseRunFolders();
    // The lock gone with the process (as at exit) but no outcome recorded: not running.
    assert.equal(readStageState(dir, 'train')!.state, 'failed');

    // A lock and a record left by a process killed with SIGKILL.
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const pid = Number(gone.stdout);
    const record = JSON.parse(readFileSync(join(dir, 'train_state.json'), 'utf8')) as { pid: number };
    writeFileSync(join(dir, 'train_state.json'), JSON.stringify({ ...record, pid }));
    writeFileSync(join(dir, LOCK_NAME), `${pid} ${hostname()}\n`);
    const killed = readStageState(dir, 'train')!;
    assert.equal(killed.state, 'failed');
    assert.match(killed.error!, new RegExp(`process \\(${pid} on .*\\) ended without recording an outcome`));
  });

  it('a failure is recorded with its error; status shows it and exits 0 (status itself did not fail)', async () => {
    const dir = join(root, 'failing');
    const cfg = loadConfig({
      config: 'demo/rotnet',
      overrides: [
        `config.DATA.TRAIN.DATA_PATHS=[${JSON.stringify(join(root, 'train'))}]`,
        ...tinyRun(dir, 1),
        'config.TEST_MODEL=False',
        // A head of 2 classes for 4 rotation labels: fails at the first step.
        "config.MODEL.HEAD.PARAMS=[['mlp', {'dims': [64, 2]}]]",
      ],
    });
    await assert.rejects(trainTask(cfg, { logger: new RunLogger({ quiet: true, jsonToStdout: false }) }));
    releaseRunFolders();
    assert.equal(readStageState(dir, 'train')!.state, 'failed');
    const status = spawnSync(process.execPath, [CLI, 'status', dir], { encoding: 'utf8' });
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /train +failed +.*label/);
  });
});
