// Hostile configs, command lines and run folders, through the tasks and the CLI: each ends in one
// error line naming the key or file (exit 1, no stack, no unhandled rejection), or in the right
// result; nothing hangs (every test is bounded) and no checkpoint is lost or overwritten.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { RunLogger } from '../../src/engine/run-logger.js';
import { clusterTask, trainTask, type TrainResult } from '../../src/tasks/index.js';
import { makeImageFolders, tinyRun } from '../tasks/support.js';
import { tempDir } from './files.js';

const CLI = new URL('../../src/cli/main.js', import.meta.url).pathname;
const BOUND = { timeout: 120_000 };
const quiet = (): { logger: RunLogger } => ({ logger: new RunLogger({ quiet: true, jsonToStdout: false }) });

function cli(words: string[]): { status: number | null; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...words], { encoding: 'utf8', timeout: 90_000 });
  return { status: run.status, stderr: run.stderr };
}

/** Exit 1 with one `error:` line matching `pattern`, and no stack trace or unhandled rejection. */
function failsWithOneLine(words: string[], pattern: RegExp): string {
  const { status, stderr } = cli(words);
  assert.equal(status, 1, stderr);
  const errorLines = stderr.split('\n').filter((line) => line.startsWith('error: '));
  assert.equal(errorLines.length, 1, stderr);
  assert.match(stderr, pattern);
  assert.doesNotMatch(stderr, /\n\s+at |Unhandled|node:internal/);
  return stderr;
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('hostile runs', () => {
  let root = '';
  const data = (): string[] => [
    `config.DATA.TRAIN.DATA_PATHS=[${JSON.stringify(join(root, 'train'))}]`,
    `config.DATA.TEST.DATA_PATHS=[${JSON.stringify(join(root, 'test'))}]`,
  ];
  const dir = tempDir();
  before(async () => {
    root = await makeImageFolders(4, 1);
  });

  it('out-of-range, NaN and infinite values are refused naming the key; stray words are errors', BOUND, () => {
    const bad: [string, RegExp][] = [
      ['config.OPTIMIZER.num_epochs=-1', /OPTIMIZER\.num_epochs .* must be >= 1, got -1/],
      ['config.OPTIMIZER.weight_decay=.inf', /OPTIMIZER\.weight_decay .* must be a finite number, got Infinity/],
      [
        'config.OPTIMIZER.param_schedulers.lr.values=[0.1,.nan]',
        /param_schedulers\.lr\.values\[1\] .* must be a finite number/,
      ],
      ['config.OPTIMIZER.momentum=1.5', /OPTIMIZER\.momentum .* must be >= 0 and < 1/],
      ['config.DATA.TRAIN.BATCHSIZE_PER_REPLICA=0', /BATCHSIZE_PER_REPLICA .* must be >= 1/],
      ['config.DATA.NUM_DATALOADER_WORKERS=-2', /NUM_DATALOADER_WORKERS .* must be >= 0/],
      ['config.NEAREST_NEIGHBOR.SIGMA=0.0', /SIGMA .* must be > 0/],
      [
        'config.DATA.TRAIN.TRANSFORMS=[{name: ToTensor}, {name: Normalize, mean: [0,0,0], std: [0,1,1]}]',
        /'std' must be positive/,
      ],
    ];
    for (const [override, pattern] of bad) {
      assert.throws(() => loadConfig({ config: 'demo/rotnet', overrides: [override] }), pattern, override);
    }
    const out = join(dir, 'stray');
    failsWithOneLine(
      ['run', 'config=demo/rotnet', `config.CHECKPOINT.DIR=${out}`, 'config.OPTIMIZER.num_epochs'],
      /run does not take 'config\.OPTIMIZER\.num_epochs'; an override needs a value/,
    );
    assert.equal(existsSync(out), false, 'nothing ran');
  });

  it('a YAML config whose alias contains itself, and an output folder under /proc, end with an error', BOUND, () => {
    const looped = join(dir, 'loop.yaml');
    writeFileSync(looped, 'config:\n  DATA: &d\n    TRAIN: *d\n');
    failsWithOneLine(['run', `config=${looped}`], /loop\.yaml: an alias \(\*name\) refers to a node that contains it/);
    failsWithOneLine(
      ['run', 'config=demo/rotnet', ...data(), 'config.CHECKPOINT.DIR=/proc/clusterfit/run'],
      /CHECKPOINT\.DIR: the output folder '\/proc\/clusterfit\/run' cannot be written .*virtual filesystem/,
    );
  });

  it('a batch too large for any buffer (CenterCrop 100000) ends in the one-line error, naming the keys', BOUND, () => {
    failsWithOneLine(
      [
        'run',
        'config=demo/rotnet',
        ...data(),
        ...tinyRun(join(dir, 'huge'), 1),
        'config.DATA.TRAIN.TRANSFORMS=[{name: CenterCrop, size: 100000}, {name: ToTensor}]',
      ],
      /more than one buffer can hold; lower DATA\.TRAIN\.BATCHSIZE_PER_REPLICA or the output size in DATA\.TRAIN\.TRANSFORMS/,
    );
  });

  it('NUM_DATALOADER_WORKERS=0 trains; a run whose every image is skipped writes no checkpoint', BOUND, async () => {
    const inline = join(dir, 'inline');
    const cfg = loadConfig({
      config: 'demo/rotnet',
      overrides: [...data(), ...tinyRun(inline, 1), 'config.DATA.NUM_DATALOADER_WORKERS=0', 'config.TEST_MODEL=False'],
    });
    const result = await trainTask(cfg, quiet());
    assert.equal(result.completed, true);
    assert.equal(result.position.iteration, 3, '12 images in batches of 4');

    const empty = join(dir, 'skipped');
    const broken = join(dir, 'broken');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(broken, 'a'), { recursive: true });
    for (let i = 0; i < 4; i++) writeFileSync(join(broken, 'a', `${i}.jpg`), 'not a jpeg');
    const skipping = loadConfig({
      config: 'demo/rotnet',
      overrides: [
        ...tinyRun(empty, 1),
        `config.DATA.TRAIN.DATA_PATHS=[${JSON.stringify(broken)}]`,
        'config.DATA.TRAIN.SKIP_BAD_IMAGES=True',
        'config.TEST_MODEL=False',
      ],
    });
    await assert.rejects(trainTask(skipping, quiet()), /gave no batch .*nothing was checkpointed/);
    assert.deepEqual(
      readdirSync(empty).filter((name) => name.endsWith('.torch')),
      [],
      'no "final" checkpoint of random weights',
    );
  });

  it('a stopped and resumed epoch reports the whole epoch, as an uninterrupted one', BOUND, async () => {
    const words = (out: string) => [
      ...data(),
      ...tinyRun(out, 1),
      'config.TEST_MODEL=False',
      'config.DATA.NUM_DATALOADER_WORKERS=0',
    ];
    const whole = (await trainTask(
      loadConfig({ config: 'demo/rotnet', overrides: words(join(dir, 'whole')) }),
      quiet(),
    )) as TrainResult;
    const split = join(dir, 'split');
    let asked = 0;
    const stop = {
      get requested() {
        return ++asked >= 2;
      },
    };
    const first = await trainTask(loadConfig({ config: 'demo/rotnet', overrides: words(split) }), { ...quiet(), stop });
    assert.equal(first.completed, false);
    assert.equal(first.position.step, 2);
    const second = await trainTask(loadConfig({ config: 'demo/rotnet', overrides: words(split) }), quiet());
    assert.equal(second.train.length, 1);
    assert.ok(
      Math.abs(second.train[0]!.loss - whole.train[0]!.loss) < 1e-9,
      `${second.train[0]!.loss} vs ${whole.train[0]!.loss}`,
    );
    assert.deepEqual(second.train[0]!.accuracy, whole.train[0]!.accuracy);
  });

  it('resume passes over a damaged newest checkpoint with a warning', BOUND, async () => {
    const out = join(dir, 'rot');
    const words = [...data(), ...tinyRun(out, 2), 'config.TEST_MODEL=False', 'config.DATA.NUM_DATALOADER_WORKERS=0'];
    await trainTask(
      loadConfig({ config: 'demo/rotnet', overrides: [...words, 'config.OPTIMIZER.num_epochs=1'] }),
      quiet(),
    );
    const phase0 = join(out, 'model_phase0.torch');
    const final0 = join(out, 'model_final_checkpoint_phase0.torch');
    // Pretend the run was set for 2 epochs: a damaged phase-1 file that is newer than phase 0.
    writeFileSync(phase0, readFileSync(final0));
    rmSync(final0);
    const damaged = readFileSync(phase0);
    damaged[Math.floor(damaged.length / 2)]! ^= 0xff; // inside the weights
    writeFileSync(join(out, 'model_phase1.torch'), damaged);
    const warnings: string[] = [];
    const logger = new RunLogger({ quiet: true, jsonToStdout: false });
    logger.warn = (message: string) => void warnings.push(message);
    const result = await trainTask(loadConfig({ config: 'demo/rotnet', overrides: words }), { logger });
    assert.equal(result.completed, true);
    assert.match(
      warnings.join('\n'),
      /model_phase1\.torch is damaged or incomplete .*resuming from .*model_phase0\.torch/,
    );
  });

  it('convert never overwrites its input, checkpoint.torch or a training checkpoint', BOUND, () => {
    const out = join(dir, 'inline');
    const final = readdirSync(out).find((name) => name.startsWith('model_final'))!;
    const input = join(out, final);
    const before = sha(input);
    failsWithOneLine(['convert', input, input], /refusing to overwrite .*: it is the input checkpoint/);
    failsWithOneLine(['convert', input, join(out, 'checkpoint.torch')], /refusing to overwrite .*: it is a symlink/);
    const copy = join(dir, 'copy.pth');
    writeFileSync(copy, readFileSync(input));
    failsWithOneLine(['convert', input, copy], /refusing to overwrite .*: it is a training checkpoint/);
    assert.equal(sha(input), before);
    const target = join(dir, 'tv.pth');
    assert.equal(cli(['convert', input, target]).status, 0);
    assert.equal(cli(['convert', input, target]).status, 0, 'an earlier conversion may be replaced');
  });

  it('a run folder is locked against a second run; a stale lock is taken over', BOUND, async () => {
    const out = join(dir, 'locked');
    const holder = spawn('sleep', ['60']);
    try {
      const { mkdirSync } = await import('node:fs');
      mkdirSync(out, { recursive: true });
      const { hostname } = await import('node:os');
      writeFileSync(join(out, '.clusterfit.lock'), `${holder.pid} ${hostname()}\n`);
      failsWithOneLine(
        ['run', 'config=demo/rotnet', ...data(), ...tinyRun(out, 1)],
        new RegExp(`CHECKPOINT\\.DIR: another run \\(process ${holder.pid} on .*\\) is using`),
      );
      assert.deepEqual(readdirSync(out), ['.clusterfit.lock'], 'nothing was written');
    } finally {
      holder.kill('SIGKILL');
    }
    await new Promise((resolve) => holder.once('exit', resolve));
    const { status, stderr } = cli([
      'run',
      'config=demo/rotnet',
      ...data(),
      ...tinyRun(out, 1),
      'config.TEST_MODEL=False',
    ]);
    assert.equal(status, 0, stderr);
    assert.match(stderr, /was left by process \d+, which is no longer running: taking the folder over/);
    assert.equal(existsSync(join(out, '.clusterfit.lock')), false, 'released at exit');
  });
});

describe('hostile cluster configs', () => {
  it('a LAYER_NAME the pool map does not extract is named with both keys before any work', BOUND, async () => {
    const out = tempDir();
    const cfg = loadConfig({
      config: 'demo/cluster_features',
      overrides: [
        'config.CLUSTERFIT.FEATURES.LAYER_NAME=res2',
        `config.CLUSTERFIT.OUTPUT_DIR=${join(out, 'clusters')}`,
        `config.CLUSTERFIT.FEATURES.PATH=${join(out, 'features')}`,
      ],
    });
    await assert.rejects(
      clusterTask(cfg, { log: { quiet: true } }),
      /LAYER_NAME is 'res2', but MODEL\.FEATURE_EVAL_SETTINGS\.LINEAR_EVAL_FEAT_POOL_OPS_MAP extracts only 'flatten'/,
    );
    assert.deepEqual(readdirSync(out), [], 'nothing was written');
  });
});

describe('hostile run outputs', () => {
  it('metrics.jsonl: a torn last line left by a crash is dropped, and every line parses', BOUND, () => {
    const dir = tempDir();
    const file = join(dir, 'metrics.jsonl');
    writeFileSync(file, '{"event":"train","step":1}\n{"event":"tra');
    const logger = new RunLogger({ metricsFile: file, quiet: true, jsonToStdout: false });
    logger.metrics('train', { step: 2 });
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.deepEqual(
      lines.map((line) => (JSON.parse(line) as { step: number }).step),
      [1, 2],
    );
  });

  it('a label outside the head names the label file', BOUND, async () => {
    const dir = tempDir();
    const root = await makeImageFolders(2, 1);
    const { imageFolder } = await import('../../src/data/datasets.js');
    const { writeNpy } = await import('../../src/torch/io/index.js');
    const { tensor } = await import('../../src/torch/index.js');
    const paths = imageFolder(join(root, 'train')).samples.map((s) => s.path);
    const images = join(dir, 'images.npy');
    const labelsPath = join(dir, 'labels.npy');
    writeNpy(images, paths);
    const labels = tensor(
      paths.map((_, i) => (i === 3 ? 1000 : 0)),
      { dtype: 'int64' },
    );
    writeNpy(labelsPath, labels);
    labels.dispose();
    const cfg = loadConfig({
      config: 'demo/clusterfit',
      overrides: [
        ...tinyRun(join(dir, 'run'), 1),
        `config.DATA.TRAIN.DATA_PATHS=[${JSON.stringify(images)}]`,
        `config.DATA.TRAIN.LABEL_PATHS=[${JSON.stringify(labelsPath)}]`,
        'config.TEST_MODEL=False',
        'config.DATA.NUM_DATALOADER_WORKERS=0',
      ],
    });
    await assert.rejects(trainTask(cfg, quiet()), (error: Error) => {
      assert.match(
        error.message,
        /DATA\.TRAIN\.LABEL_PATHS: .*labels\.npy holds label 1000, outside the model's classes/,
      );
      return true;
    });
  });
});
