// The `clusterfit` command as a user runs it: the example (the shipped ImageNet ClusterFit
// config pointed at a tiny file list and shrunk by overrides) trains for real, and mistakes end in
// one line that names the problem.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PYTHON } from '../support/oracle.js';
import { makeImageFolders } from './support.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

function clusterfit(...words: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...words], { encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('clusterfit CLI', () => {
  let root = '';
  before(async () => {
    root = await makeImageFolders(2, 1);
    execFileSync(PYTHON, [
      '-c',
      `import numpy as np, glob, sys
paths = sorted(glob.glob(sys.argv[1] + '/train/*/*.jpg'))
np.save(sys.argv[1] + '/images.npy', np.array(paths))
np.save(sys.argv[1] + '/labels.npy', np.arange(len(paths), dtype=np.int64) % 3)`,
      root,
    ]);
  });

  it("runs the issue's example: clusterfit_resnet_8gpu_imagenet on a file list, one epoch, one process", () => {
    const dir = join(root, 'clusterfit');
    const run = clusterfit(
      'run',
      'config=pretrain/clusterfit/clusterfit_resnet_8gpu_imagenet',
      `config.DATA.TRAIN.DATA_PATHS=[${join(root, 'images.npy')}]`,
      `config.DATA.TRAIN.LABEL_PATHS=[${join(root, 'labels.npy')}]`,
      'config.DISTRIBUTED.NUM_PROC_PER_NODE=1',
      'config.OPTIMIZER.num_epochs=1',
      'config.MACHINE.DEVICE=cpu',
      'config.DATA.NUM_DATALOADER_WORKERS=1',
      `config.CHECKPOINT.DIR=${dir}`,
      '--json',
    );
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /training resnet-50 on 6 images for 1 epoch\(s\), 1 steps each/);
    assert.ok(existsSync(join(dir, 'model_final_checkpoint_phase0.torch')));
    const epoch = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; loss?: number })
      .find((r) => r.event === 'train_epoch');
    assert.ok(epoch && Number.isFinite(epoch.loss), run.stdout);
  });

  it('an unknown config key is one line with a suggestion, exit status 1', () => {
    const run = clusterfit('run', 'config=demo/rotnet', 'config.OPTIMIZER.num_epoch=1');
    assert.equal(run.status, 1);
    assert.match(run.stderr, /error: .*unknown key OPTIMIZER\.num_epoch .*did you mean OPTIMIZER\.num_epochs\?/s);
    assert.doesNotMatch(run.stderr, /at .*\.js:\d+/, 'no stack trace without CLUSTERFIT_DEBUG');
  });

  it('every command has its own --help with options and an example', () => {
    const overview = clusterfit('--help');
    assert.equal(overview.status, 0);
    const names = [...overview.stdout.matchAll(/^ {2}([a-z_]+) {2,}/gm)].map((m) => m[1]!);
    assert.ok(names.includes('status') && names.includes('assign') && names.length >= 7, overview.stdout);
    for (const name of names) {
      const help = clusterfit(name, '--help');
      assert.equal(help.status, 0, help.stderr);
      assert.match(help.stdout, new RegExp(`^usage: clusterfit ${name}`), name);
      assert.match(help.stdout, /\noptions:\n[\s\S]*\nexamples?:\n {2}clusterfit /, name);
    }
    assert.match(clusterfit('--version').stdout, /^\d+\.\d+\.\d+/);
  });

  it('an unknown option or command is an error with a suggestion, never silently ignored', () => {
    const out = clusterfit('run', 'config=demo/rotnet', 'out=runs/x');
    assert.equal(out.status, 1);
    assert.match(out.stderr, /run has no option 'out'; write config\.CHECKPOINT\.DIR=<folder> instead/);
    const typo = clusterfit('pipeline', 'preset=demo', 'outt=runs/x');
    assert.match(typo.stderr, /pipeline has no option 'outt'; did you mean out=\.\.\.\?/);
    const missing = clusterfit('pipeline', 'preset=demo');
    assert.match(missing.stderr, /pipeline needs out=<folder>/);
    const stage = clusterfit('demo', 'trian.config.OPTIMIZER.num_epochs=1');
    assert.match(stage.stderr, /unknown stage 'trian' .*did you mean train\?/);
    const flag = clusterfit('configs', '--verbose');
    assert.match(flag.stderr, /configs has no flag '--verbose'/);
    const command = clusterfit('stauts', 'runs/x');
    assert.equal(command.status, 1);
    assert.match(command.stderr, /unknown command 'stauts'; did you mean 'status'\?/);
  });

  it('lists the shipped configs and explains itself', () => {
    const configs = clusterfit('configs');
    assert.equal(configs.status, 0);
    assert.match(configs.stdout, /pretrain\/clusterfit\/clusterfit_resnet_8gpu_imagenet/);
    assert.match(configs.stdout, /demo\/rotnet/);
    assert.match(clusterfit('--help').stdout, /run +Runs one stage/);
    const unknown = clusterfit('frobnicate');
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  });
});
