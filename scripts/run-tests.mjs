// Runs the test suite (`npm test`'s last step) with every temporary file under one scratch folder,
// removed when the suite ends. The tests make hundreds of scratch folders (trained runs, feature
// files, installed packages): left in /tmp they came to 29 GB on the development machine in a day.
// TMPDIR is honoured by Node's os.tmpdir(), Python's tempfile, npm and Chromium alike.
//
// The whole suite runs in two phases. First every test file that does not ask to run alone, as many
// files at a time as there are cores (at most 4: each file is a process that loads libtorch, and
// most of a file's time is start-up, child processes and waits, not both cores' worth of compute).
// Then, one at a time, the files whose first lines hold the marker below: those that assert that
// something ends within a time limit (a stopped rank, a cut link, a launcher's grace periods) or that
// keep every core busy themselves (the from-source build): on a machine shared with other test files
// their limits would measure the load, not our code.
//
// Arguments are passed on to `node --test` (e.g. --test-name-pattern=...); files or folders among them
// run in one phase, one file at a time, as named. The reporter (test-reporter.mjs) is node's `spec`;
// the slowest tests and the closing count line cover both phases and come once, at the very end.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printSummary } from './test-reporter.mjs';

/** A test file whose opening comment holds this line runs alone, after the others. */
const ALONE_MARKER = '// Runs alone (scripts/run-tests.mjs):';
const SUITE = 'dist/test';

const scratch = mkdtempSync(join(tmpdir(), 'clusterfit-tests-'));
const records = join(scratch, 'reporter-records.jsonl');
const reporter = join(dirname(fileURLToPath(import.meta.url)), 'test-reporter.mjs');
const given = process.argv.slice(2);
const options = given.filter((arg) => arg.startsWith('-'));
const named = given.filter((arg) => !arg.startsWith('-'));

const phases = named.length > 0 ? [{ concurrency: 1, files: named }] : suitePhases(Math.min(4, availableParallelism()));

let current = null;
// Ctrl-C reaches the child through the terminal; a TERM sent to this process alone is passed on.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => current?.kill(signal));

let status = 0;
for (const phase of phases) {
  if (phase.files.length === 0) continue;
  const outcome = await runPhase(phase);
  if (outcome.signal) {
    console.error(`run-tests: the test runner was stopped by ${outcome.signal}`);
    status = 1;
    break;
  }
  if (outcome.code !== 0) status = outcome.code ?? 1;
}
printSummary(readRecords());
rmSync(scratch, { recursive: true, force: true });
process.exit(status);

function suitePhases(concurrency) {
  const files = testFiles(SUITE);
  const alone = files.filter(runsAlone);
  return [
    { concurrency, files: files.filter((file) => !alone.includes(file)) },
    { concurrency: 1, files: alone },
  ];
}

/** Every *.test.js under `dir`, in a stable order (worker scripts and helpers are not test files). */
function testFiles(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test.js'))
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name))
    .sort();
}

function runsAlone(file) {
  return readFileSync(file, 'utf8').slice(0, 4000).includes(ALONE_MARKER);
}

function runPhase({ concurrency, files }) {
  const args = [
    '--test',
    '--expose-gc',
    `--test-concurrency=${concurrency}`,
    `--test-reporter=${reporter}`,
    '--test-reporter-destination=stdout',
    ...options,
    ...files,
  ];
  current = spawn(process.execPath, args, {
    stdio: 'inherit',
    env: { ...process.env, TMPDIR: scratch, CLUSTERFIT_TEST_RECORDS: records },
  });
  return new Promise((resolve) => current.on('exit', (code, signal) => resolve({ code, signal })));
}

function readRecords() {
  try {
    return readFileSync(records, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line));
  } catch {
    return [];
  }
}
