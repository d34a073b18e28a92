// Runs test/data/reference.py (torchvision 0.14 under /usr/bin/python3) to get reference answers.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Compiled to dist/test/data; the script stays in the source tree.
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '../../../test/data/reference.py');

export function reference<T>(command: string, job: unknown): T {
  const run = spawnSync('/usr/bin/python3', [SCRIPT, command], {
    input: JSON.stringify(job),
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (run.status !== 0) throw new Error(`reference.py ${command} failed:\n${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'clusterfit-data-'));
}
