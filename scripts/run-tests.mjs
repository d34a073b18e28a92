// Runs the test suite (`npm test`'s last step) with every temporary file under one scratch folder,
// removed when the suite ends. The tests make hundreds of scratch folders (trained runs, feature
// files, installed packages): left in /tmp they came to 29 GB on the development machine in a day.
// TMPDIR is honoured by Node's os.tmpdir(), Python's tempfile, npm and Chromium alike.
// Arguments are passed on to `node --test` (e.g. --test-name-pattern=...). The reporter
// (test-reporter.mjs) is node's `spec` plus the slowest tests and a closing count line.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const scratch = mkdtempSync(join(tmpdir(), 'clusterfit-tests-'));
const reporter = join(dirname(fileURLToPath(import.meta.url)), 'test-reporter.mjs');
const args = [
  '--test',
  '--expose-gc',
  '--test-concurrency=1',
  `--test-reporter=${reporter}`,
  '--test-reporter-destination=stdout',
  ...process.argv.slice(2),
];
if (!process.argv.slice(2).some((arg) => !arg.startsWith('-'))) args.push('dist/test/');
const child = spawn(process.execPath, args, { stdio: 'inherit', env: { ...process.env, TMPDIR: scratch } });

// Ctrl-C reaches the child through the terminal; a TERM sent to this process alone is passed on.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));

child.on('exit', (code, signal) => {
  rmSync(scratch, { recursive: true, force: true });
  if (signal) console.error(`run-tests: the test runner was stopped by ${signal}`);
  process.exit(code ?? 1);
});
