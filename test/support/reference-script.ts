// Runs a reference.py beside a test folder (kept in the source tree, not dist/) with the Python
// that has torch: `command` names the job, its input goes in as JSON and the answer comes back as JSON.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PYTHON } from './oracle.js';

const SOURCE_TEST_DIR = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..'), 'test');

/** A `reference(command, job)` for test/<folder>/reference.py. */
export function referenceScript(folder: string): <T>(command: string, job: unknown) => T {
  const script = join(SOURCE_TEST_DIR, folder, 'reference.py');
  return <T>(command: string, job: unknown): T => {
    const run = spawnSync(PYTHON, [script, command], {
      input: JSON.stringify(job),
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    if (run.status !== 0) throw new Error(`${folder}/reference.py ${command} failed:\n${run.stderr}`);
    return JSON.parse(run.stdout) as T;
  };
}
