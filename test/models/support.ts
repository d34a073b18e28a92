// Shared helpers for the model tests: the PyTorch references (reference.py) for the oracle, and
// checkpoint state dicts as plain records.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tensor } from '../../src/torch/index.js';
import type { StateDict } from '../../src/torch/nn/index.js';

// reference.py lives in the source tree (test/models), not in dist/.
const REFERENCE_DIR = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..'), 'test', 'models');

/** Oracle setup that imports reference.py's helpers, then runs `code`. */
export function withReference(code: string): string {
  return `import sys\nsys.path.insert(0, ${JSON.stringify(REFERENCE_DIR)})\nfrom reference import *\n${code}`;
}

/** A checkpoint's (Ordered)Dict of tensors as a StateDict. */
export function asStateDict(value: unknown): StateDict {
  if (!(value instanceof Map)) throw new Error('expected a state dict (a dict of tensors)');
  return Object.fromEntries(value as Map<string, Tensor>);
}

export function tempFolder(): string {
  return mkdtempSync(join(tmpdir(), 'clusterfit-models-'));
}

/** Decodes the uint8 JSON tensor reference.py's shapes_json returns. */
export function decodeJson<T>(t: Tensor): T {
  return JSON.parse(Buffer.from(t.data() as Uint8Array).toString()) as T;
}

export function disposeAll(state: StateDict): void {
  for (const t of Object.values(state)) t.dispose();
}
