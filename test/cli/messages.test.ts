// What the command line says, and where: errors are one line starting `error:` (no blank line
// first) that blame the word the user typed and give the fix; `--out x` and `--out=x` work for every
// option; expected things are not warnings, and a config warning is said once however many workers
// start; stderr is for people and stdout holds the result, or the JSON lines with --json.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeImageFolders, tinyRun } from '../tasks/support.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

function clusterfit(...words: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...words], { encoding: 'utf8', timeout: 120000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function assertError(run: ReturnType<typeof clusterfit>, message: RegExp): void {
  assert.equal(run.status, 1, run.stderr);
  assert.match(run.stderr, /^error: /, 'the error is the first line, with no blank line before it');
  assert.match(run.stderr, message);
  assert.doesNotMatch(run.stderr, /ENOENT|EADDRINUSE|^\s+at /m, 'no raw system error or stack');
}

describe('command-line messages', { timeout: 300000 }, () => {
  let root = '';
  before(async () => {
    root = await makeImageFolders(2, 1);
  });

  it('--name value and --name=value are name=value, for every option', () => {
    const missing = join(root, 'gone', 'r.html');
    for (const words of [['--out', missing], [`--out=${missing}`], [`out=${missing}`]]) {
      assertError(clusterfit('report', root, ...words), /out=.*gone\/r\.html: the folder .*gone does not exist/);
    }
    assertError(clusterfit('demo', '--out'), /demo: --out needs a value: out=<folder> \(or --out=\.\.\.\)/);
    assertError(clusterfit('configs', '--verbose'), /configs has no flag '--verbose'/);
    assert.match(clusterfit('-V').stdout, /^\d+\.\d+\.\d+\n$/);
  });

  it('a config key without config. is hinted; a typo in an override is blamed on the override', () => {
    assertError(
      clusterfit('run', 'config=demo/rotnet', 'OPTIMIZER.num_epochs=1'),
      /run has no option 'OPTIMIZER\.num_epochs'; a config key takes the config\. prefix: config\.OPTIMIZER\.num_epochs=1/,
    );
    const typo = clusterfit('run', 'config=demo/rotnet', 'config.OPTIMZER.num_epochs=1');
    assertError(
      typo,
      /unknown key OPTIMZER \(in override 'config\.OPTIMZER\.num_epochs=1'\); did you mean OPTIMIZER\?/,
    );
    assert.doesNotMatch(typo.stderr, /in file/);
  });

  it('an unwritable report path and a port in use are plain sentences', async () => {
    assertError(
      clusterfit('report', root, `out=${join(root, 'train')}`),
      /out=.*train: the report cannot be written there \(.*\); give another path/,
    );
    const server = createServer();
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const port = (server.address() as { port: number }).port;
    try {
      const run = spawnSync(process.execPath, [CLI, 'explore', root, `port=${port}`], {
        encoding: 'utf8',
        timeout: 60000,
      });
      assertError(
        { status: run.status, stdout: run.stdout, stderr: run.stderr },
        new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use: give another \\(port=<n>\\), or leave port out`),
      );
    } finally {
      server.close();
    }
  });

  it('a config warning is said once, in our words, however many workers start', () => {
    const run = clusterfit(
      'cluster_features_and_label',
      'config=demo/cluster_features',
      'config.CLUSTERFIT.N_ITER=3',
      'config.DISTRIBUTED.NUM_PROC_PER_NODE=2',
      'config.DATA.TRAIN.DATA_PATHS=[/nonexistent/clusterfit-images]',
      'config.MODEL.WEIGHTS_INIT.PARAMS_FILE=',
      `config.CLUSTERFIT.OUTPUT_DIR=${join(root, 'warned')}`,
    );
    assert.equal(run.status, 1, run.stderr);
    assert.equal(
      run.stderr.match(/CLUSTERFIT\.N_ITER .* is VISSL's old name of CLUSTERFIT\.NUM_ITER/g)?.length,
      1,
      run.stderr,
    );
    assert.match(run.stderr, /^warning: CLUSTERFIT\.N_ITER/m);
    assert.doesNotMatch(run.stderr, /\(node:\d+\)|--trace-warnings/);
    // The random-init features are what the config asks for: a note, not a warning.
    assert.doesNotMatch(run.stderr, /warning: MODEL\.WEIGHTS_INIT\.PARAMS_FILE is empty/);
  });

  it('stdout holds the JSON lines with --json and nothing else; without it, no JSON lines', () => {
    const words = (dir: string): string[] => [
      'run',
      'config=demo/rotnet',
      `config.DATA.TRAIN.DATA_PATHS=[${join(root, 'train')}]`,
      `config.DATA.TEST.DATA_PATHS=[${join(root, 'test')}]`,
      ...tinyRun(dir, 1),
    ];
    const json = clusterfit(...words(join(root, 'json')), '--json');
    assert.equal(json.status, 0, json.stderr);
    const lines = json.stdout.trim().split('\n');
    const events = lines.map((line) => (JSON.parse(line) as { event: string }).event);
    assert.ok(events.includes('stage_start') && events.includes('train_epoch'), json.stdout);
    assert.match(json.stderr, /training cifar_resnet-20 on 6 images/, 'messages stay on stderr');

    const plain = clusterfit(...words(join(root, 'plain')));
    assert.equal(plain.status, 0, plain.stderr);
    assert.equal(plain.stdout, '', 'run has no plain result: its outputs are files');
    assert.match(plain.stderr, /training cifar_resnet-20 on 6 images/);
    assertError(clusterfit('status', root, '--json'), /status takes no --json/);
  });
});
