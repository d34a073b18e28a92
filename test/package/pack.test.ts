// The package as a user gets it: `npm pack`, then `npm install <tarball>` in a fresh project that
// has never seen this repository. There the CLI answers --help and --version; with the native addon
// absent it still explains itself and a training command fails with the fix, not a stack trace; a
// TypeScript program (examples/pipeline.ts, importing clusterfit/tasks and clusterfit/torch) compiles
// with tsc under `module: nodenext` and runs the whole pipeline; and the addons built from source
// by `npm rebuild clusterfit` (the path a machine without matching prebuilt addons takes) train a
// one-epoch stage of the shipped demo config from another working directory.
// Runs alone (scripts/run-tests.mjs): its from-source build keeps every core busy on its own.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../support/shared-data.js';
import { makeImageFolders } from '../tasks/support.js';

const MINUTE = 60_000;

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, timeout = 5 * MINUTE) {
  const result: SpawnSyncReturns<string> = spawnSync(command, args, {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout,
  });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '', error: result.error };
}

function ok(r: ReturnType<typeof run>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (${r.error?.message ?? ''}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const version = (name: string): string =>
  (createRequire(join(PROJECT_ROOT, 'package.json'))(`${name}/package.json`) as { version: string }).version;

describe('the packed package, installed in a fresh project', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'clusterfit-pack-'));
  const project = join(scratch, 'project');
  const cli = (): string => join(project, 'node_modules', '.bin', 'clusterfit');
  let tarball = '';

  before(() => {
    ok(run(process.execPath, ['scripts/prebuild.mjs'], PROJECT_ROOT), 'prebuild');
    const pack = ok(
      run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], PROJECT_ROOT),
      'npm pack',
    );
    const [info] = JSON.parse(pack) as { filename: string; files: { path: string }[] }[];
    tarball = join(scratch, info!.filename);
    const paths = info!.files.map((f) => f.path);
    assert.ok(paths.includes('LICENSE') && paths.includes('dist/src/cli/main.js'));
    assert.ok(!paths.some((p) => /^(test|bench|dist\/test|dist\/bench|\.ci)\//.test(p)), 'no tests, benchmarks or CI');
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'user-project', private: true, type: 'module' }),
    );
    ok(
      run(
        'npm',
        [
          'install',
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          tarball,
          `typescript@${version('typescript')}`,
          `@types/node@${version('@types/node')}`,
        ],
        project,
        {},
        10 * MINUTE,
      ),
      'npm install',
    );
  });

  it('answers --help and --version, with every addon available', () => {
    const help = ok(run(cli(), ['--help'], project), '--help');
    assert.match(help, /commands:[\s\S]*run +Runs one stage/);
    assert.doesNotMatch(help, /unavailable/);
    assert.match(ok(run(cli(), ['run', '--help'], project), 'run --help'), /example:\n +clusterfit run config=/);
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(ok(run(cli(), ['--version'], project), '--version').trim(), pkg.version);
  });

  it('without the native addon, --help and configs work and a training command says how to fix it', () => {
    const absent = { CLUSTERFIT_NATIVE: join(scratch, 'nothing-here.node') };
    const help = ok(run(cli(), ['--help'], project, absent), '--help without the addon');
    assert.match(help, /unavailable in this installation:\n +libtorch .*does not exist; fix: /);
    assert.match(ok(run(cli(), ['configs'], project, absent), 'configs'), /demo\/rotnet/);
    const train = run(cli(), ['run', 'config=demo/rotnet'], project, absent);
    assert.equal(train.status, 1);
    assert.match(train.stderr, /error: this command needs native addons that are not available:\n +libtorch/);
    assert.doesNotMatch(train.stderr, /at .*\.js:\d+/, 'no stack trace');
  });

  it('compiles examples/pipeline.ts with tsc (module nodenext) and runs the whole pipeline', async () => {
    const data = await makeImageFolders(8, 3);
    mkdirSync(join(project, 'src'));
    copyFileSync(join(PROJECT_ROOT, 'examples', 'pipeline.ts'), join(project, 'src', 'pipeline.ts'));
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          outDir: 'dist',
          types: ['node'],
        },
        include: ['src'],
      }),
    );
    ok(run(join(project, 'node_modules', '.bin', 'tsc'), ['-p', '.'], project), 'tsc');
    const tiny = [
      'config.OPTIMIZER.num_epochs=1',
      'config.DATA.NUM_DATALOADER_WORKERS=1',
      'config.DATA.TRAIN.BATCHSIZE_PER_REPLICA=6',
      'config.DATA.TEST.BATCHSIZE_PER_REPLICA=6',
      'config.CLUSTERFIT.NUM_CLUSTERS=4',
      'config.CLUSTERFIT.NUM_ITER=5',
      'config.NEAREST_NEIGHBOR.TOPK=5',
    ];
    const example = run(process.execPath, ['dist/pipeline.js', join(scratch, 'example'), data, ...tiny], project);
    const out = ok(example, 'the example');
    assert.match(out, /ClusterFit flatten/);
    assert.match(out, /K=4; tensors still alive: 0/);
    assert.match(example.stderr, /train epoch 1\/1: \d+ images/, 'the progress callback was called');
  });

  it('builds the addons from source (npm rebuild) and trains a demo stage from another working directory', () => {
    ok(
      run(
        'npm',
        ['rebuild', 'clusterfit', '--foreground-scripts'],
        project,
        { CLUSTERFIT_BUILD_FROM_SOURCE: '1' },
        20 * MINUTE,
      ),
      'npm rebuild from source',
    );
    const report = JSON.parse(
      readFileSync(join(project, 'node_modules', 'clusterfit', 'build', 'install-report.json'), 'utf8'),
    ) as { addons: Record<string, { ok: boolean; prebuilt?: boolean }> };
    assert.deepEqual(report.addons.native, { ok: true });
    assert.deepEqual(report.addons.image, { ok: true });
    const elsewhere = mkdtempSync(join(tmpdir(), 'clusterfit-cwd-'));
    const dir = join(elsewhere, 'rotnet');
    // The shipped config with its relative data paths, found from elsewhere; a sample of the demo's
    // images is enough to show the addons built here train (the whole epoch is the demo's business).
    const sample = ['config.DATA.TRAIN.DATA_LIMIT=256', 'config.DATA.TEST.DATA_LIMIT=64'];
    const stage = run(
      cli(),
      ['run', 'config=demo/rotnet', 'config.OPTIMIZER.num_epochs=1', ...sample, `config.CHECKPOINT.DIR=${dir}`],
      elsewhere,
      {},
      10 * MINUTE,
    );
    ok(stage, 'one epoch of demo/rotnet');
    assert.ok(existsSync(join(dir, 'model_final_checkpoint_phase0.torch')));
    assert.match(stage.stderr, /train epoch 1\/1: loss/);
    assert.match(stage.stderr, /on 256 images/, 'the sample of the shipped data set, found from another folder');
  });
});

describe('the install step on a machine that lacks the libraries', () => {
  it('names what is missing with the one command that installs it, records it, and lets the install succeed', () => {
    // The package's scripts as npm lays them out (node_modules/clusterfit), with no prebuilt addon.
    const modules = join(mkdtempSync(join(tmpdir(), 'clusterfit-install-')), 'node_modules');
    const pkg = join(modules, 'clusterfit');
    cpSync(join(PROJECT_ROOT, 'scripts'), join(pkg, 'scripts'), { recursive: true });
    symlinkSync(join(PROJECT_ROOT, 'node_modules', 'node-addon-api'), join(modules, 'node-addon-api'));
    const nowhere = join(modules, 'nowhere');
    const install = run(process.execPath, ['scripts/install.mjs'], pkg, {
      LIBTORCH: nowhere,
      TURBOJPEG_HOME: nowhere,
      FAISS_HOME: nowhere,
      LIBLINEAR_HOME: nowhere,
    });
    assert.equal(install.status, 0, install.stderr);
    assert.match(
      install.stderr,
      /native addon not built: LIBTORCH=.* has no include\/.*Fix: apt-get install libtorch-dev && npm rebuild clusterfit/,
    );
    assert.match(
      install.stderr,
      /image addon not built: TurboJPEG was not found\. Fix: apt-get install libturbojpeg0-dev && npm rebuild clusterfit/,
    );
    assert.match(
      install.stderr,
      /optional faiss addon not built: FAISS was not found\. Fix: apt-get install libfaiss-dev/,
    );
    assert.match(
      install.stderr,
      /optional liblinear addon not built: liblinear was not found\. Fix: apt-get install liblinear-dev/,
    );
    assert.doesNotMatch(install.stderr, /at .*\.m?js:\d+/, 'no stack trace');
    const report = JSON.parse(readFileSync(join(pkg, 'build', 'install-report.json'), 'utf8')) as {
      addons: Record<string, { ok: boolean; fix?: string }>;
    };
    assert.equal(report.addons.native?.ok, false);
    assert.match(report.addons.native?.fix ?? '', /apt-get install libtorch-dev/);
    const strict = run(process.execPath, ['scripts/install.mjs'], pkg, {
      LIBTORCH: nowhere,
      TURBOJPEG_HOME: nowhere,
      CLUSTERFIT_INSTALL_STRICT: '1',
    });
    assert.equal(strict.status, 1);
  });
});
