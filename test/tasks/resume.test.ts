// Runs that die or are stopped lose nothing: a run killed with SIGKILL resumes from its last
// complete checkpoint and trains every remaining epoch; Ctrl-C (SIGINT) checkpoints the exact step
// and the same command continues from there. Both through the real CLI.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { makeImageFolders, tinyRun } from './support.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function start(words: string[]): { child: ChildProcess; exit: Promise<Exit> } {
  const child = spawn(process.execPath, [CLI, 'run', 'config=demo/rotnet', '--json', ...words], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<Exit>((done) => child.on('exit', (code, signal) => done({ code, signal, stderr })));
  return { child, exit };
}

/** The epochs whose end a metrics file records, from line `from` on. */
function epochsTrained(metricsFile: string, from = 0): number[] {
  return readFileSync(metricsFile, 'utf8')
    .trim()
    .split('\n')
    .slice(from)
    .map((line) => JSON.parse(line) as { event: string; epoch: number })
    .filter((record) => record.event === 'train_epoch')
    .map((record) => record.epoch);
}

function lineCount(file: string): number {
  return readFileSync(file, 'utf8').trim().split('\n').length;
}

describe('resuming', () => {
  let root = '';
  const words = (dir: string, epochs: number): string[] => [
    `config.DATA.TRAIN.DATA_PATHS=[${JSON.stringify(join(root, 'train'))}]`,
    `config.DATA.TEST.DATA_PATHS=[${JSON.stringify(join(root, 'test'))}]`,
    'config.TEST_MODEL=False',
    ...tinyRun(dir, epochs),
  ];
  before(async () => {
    root = await makeImageFolders(8, 1);
  });

  it('a run killed mid-training resumes from the last complete checkpoint and loses no epoch', async () => {
    const dir = join(root, 'killed');
    const first = start(words(dir, 6));
    while (!existsSync(join(dir, 'model_phase0.torch'))) await new Promise((r) => setTimeout(r, 5));
    first.child.kill('SIGKILL');
    const killed = await first.exit;
    assert.equal(killed.signal, 'SIGKILL');
    const atKill = readdirSync(dir).filter((f) => f.endsWith('.torch'));
    assert.ok(
      !atKill.some((f) => f.startsWith('model_final')),
      `the run finished before it was killed: ${atKill.join(', ')}`,
    );

    const metrics = join(dir, 'metrics.jsonl');
    const firstRunLines = lineCount(metrics);
    const second = await start(words(dir, 6)).exit;
    assert.equal(second.code, 0, second.stderr);
    const resumedAt = /resuming from .*model_phase(\d+)\.torch at epoch (\d+), step 0/.exec(second.stderr);
    assert.ok(resumedAt, second.stderr);
    const checkpointPhase = Number(resumedAt[1]);
    assert.equal(Number(resumedAt[2]), checkpointPhase + 2, 'resumes at the epoch after the checkpoint (1-based)');
    // The first run completed epochs 0..phase (at least), the second trains phase+1..5: no epoch lost.
    const firstRun = epochsTrained(metrics).slice(0, epochsTrained(metrics).length - (5 - checkpointPhase));
    assert.deepEqual(
      firstRun.slice(0, checkpointPhase + 1),
      Array.from({ length: checkpointPhase + 1 }, (_, i) => i),
    );
    assert.deepEqual(
      epochsTrained(metrics, firstRunLines),
      Array.from({ length: 5 - checkpointPhase }, (_, i) => checkpointPhase + 1 + i),
    );
    assert.ok(existsSync(join(dir, 'model_final_checkpoint_phase5.torch')));
  });

  it('CHECKPOINT.KEEP_LAST=2 keeps the newest two phase checkpoints and the final one', async () => {
    const dir = join(root, 'keep');
    const run = await start([...words(dir, 4), 'config.CHECKPOINT.KEEP_LAST=2']).exit;
    assert.equal(run.code, 0, run.stderr);
    const kept = readdirSync(dir)
      .filter((name) => name.endsWith('.torch') && name !== 'checkpoint.torch')
      .sort();
    assert.deepEqual(kept, ['model_final_checkpoint_phase3.torch', 'model_phase1.torch', 'model_phase2.torch']);
  });

  it('Ctrl-C checkpoints the exact step and the same command continues from it', async () => {
    const dir = join(root, 'stopped');
    // One image a batch: 24 steps an epoch, so the stop asked after step 2 lands mid-epoch even when
    // a loaded machine delays the signal by many steps.
    const stepWords = (): string[] => [...words(dir, 2), 'config.DATA.TRAIN.BATCHSIZE_PER_REPLICA=1'];
    const first = start(stepWords());
    let stoppedAfter = -1;
    createInterface({ input: first.child.stdout! }).on('line', (line) => {
      const record = JSON.parse(line) as { event: string; epoch: number; step: number };
      if (stoppedAfter < 0 && record.event === 'train' && record.epoch === 0 && record.step === 2) {
        stoppedAfter = record.step;
        first.child.kill('SIGINT');
      }
    });
    const stopped = await first.exit;
    assert.equal(stopped.code, 130, stopped.stderr);
    const perEpoch = Number(/(\d+) steps each/.exec(stopped.stderr)?.[1]);
    assert.equal(perEpoch, 24, stopped.stderr);
    const at = /stopping at epoch 1, step (\d+)/.exec(stopped.stderr);
    assert.ok(at, stopped.stderr);
    const step = Number(at[1]);
    assert.ok(step >= 2 && step < perEpoch, `stopped at step ${step} of ${perEpoch}`);
    assert.ok(existsSync(join(dir, 'model_phase0.torch')));

    const second = await start(stepWords()).exit;
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, new RegExp(`resuming from .*model_phase0\\.torch at epoch 1, step ${step}`));
    const steps = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; epoch: number; step: number })
      .filter((r) => r.event === 'train' && r.epoch === 0)
      .map((r) => r.step);
    // Steps 1..step before the stop, then step+1..24 after it: each step of epoch 0 once.
    assert.deepEqual(
      steps,
      Array.from({ length: perEpoch }, (_, i) => i + 1),
    );
    assert.ok(existsSync(join(dir, 'model_final_checkpoint_phase1.torch')));

    // Finished: the same command has nothing left to do, unless OVERWRITE_EXISTING asks to start over.
    const done = await start(stepWords()).exit;
    assert.match(done.stderr, /is already complete/);
    const over = await start([...words(dir, 2), 'config.CHECKPOINT.OVERWRITE_EXISTING=True']).exit;
    assert.equal(over.code, 0, over.stderr);
    assert.doesNotMatch(over.stderr, /resuming|already complete/);
    assert.match(over.stderr, /train epoch 1\/2/);
  });
});
