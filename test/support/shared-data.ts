// Where the shared data folder (real datasets and pretrained weights, never committed) is, for the
// tests and benchmarks that use it: CLUSTERFIT_SHARED_DATA when set, else `shared/data` in the
// project root or in a folder above it (../shared beside a checkout, ../../shared beside a worktree).
// No machine's absolute path is written in a test.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (dist/test/support/ -> three folders up). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function findSharedData(): string {
  if (process.env.CLUSTERFIT_SHARED_DATA) return resolve(process.env.CLUSTERFIT_SHARED_DATA);
  const candidates = [0, 1, 2].map((up) => join(PROJECT_ROOT, ...Array<string>(up).fill('..'), 'shared', 'data'));
  return resolve(candidates.find((dir) => existsSync(dir)) ?? candidates[1]!);
}

/** The shared data folder (it may be absent: tests that need it skip, saying which path they looked at). */
export const SHARED_DATA = findSharedData();

/** A path inside the shared data folder. */
export function sharedData(...parts: string[]): string {
  return join(SHARED_DATA, ...parts);
}
