// Runs test/data/reference.py (torchvision 0.14 with the tests' Python) to get reference answers.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { referenceScript } from '../support/reference-script.js';

export const reference = referenceScript('data');

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'clusterfit-data-'));
}
