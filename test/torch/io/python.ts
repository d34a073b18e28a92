// Runs a Python script with PyTorch and numpy (the oracle's interpreter) for the io tests.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PYTHON } from '../../support/oracle.js';

/** Runs `script` with `args` in sys.argv[1:]; returns its stdout, or throws with its stderr. */
export function python(script: string, ...args: string[]): string {
  const result = spawnSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (result.status !== 0)
    throw new Error(`python failed (${result.status ?? result.error?.message}): ${result.stderr}`);
  return result.stdout;
}

export function tempFolder(): string {
  return mkdtempSync(join(tmpdir(), 'clusterfit-io-'));
}
