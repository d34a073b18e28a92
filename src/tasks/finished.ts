// Remembers that a stage finished, so running the same command again skips it (as a finished
// training run is skipped by its final checkpoint): `<dir>/<stage>_done.json` holds the stage's
// result and a fingerprint of what produced it (the resolved config, the task's own options and
// the size and time of the weights file it started from). A stage is skipped only when the
// fingerprint is the same, every output file it lists still exists, and CHECKPOINT.OVERWRITE_EXISTING
// is off; anything else runs it again.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configToYaml, type Config } from '../config/index.js';

interface DoneRecord<T> {
  fingerprint: string;
  files: string[];
  result: T;
}

/** What produced a stage's outputs: the config, the stage's options, and the weights file's identity. */
export function stageFingerprint(cfg: Config, extra: unknown = null): string {
  const weights = cfg.MODEL.WEIGHTS_INIT.PARAMS_FILE;
  const stat = weights && existsSync(weights) ? statSync(weights) : null;
  return createHash('sha256')
    .update(configToYaml(cfg))
    .update(JSON.stringify(extra ?? null))
    .update(stat ? `${stat.size}:${stat.mtimeMs}` : '')
    .digest('hex');
}

function recordFile(dir: string, stage: string): string {
  return join(dir, `${stage}_done.json`);
}

/** The result a finished stage recorded in `dir`, when it is still valid for `fingerprint`. */
export function finishedResult<T>(cfg: Config, dir: string, stage: string, fingerprint: string): T | undefined {
  if (cfg.CHECKPOINT.OVERWRITE_EXISTING) return undefined;
  const file = recordFile(dir, stage);
  if (!existsSync(file)) return undefined;
  try {
    const record = JSON.parse(readFileSync(file, 'utf8')) as DoneRecord<T>;
    if (record.fingerprint !== fingerprint || !record.files.every((f) => existsSync(f))) return undefined;
    return record.result;
  } catch {
    return undefined;
  }
}

/** Records that the stage finished with `result`, whose outputs are `files`. */
export function recordFinished<T>(dir: string, stage: string, fingerprint: string, files: string[], result: T): T {
  const record: DoneRecord<T> = { fingerprint, files, result };
  writeFileSync(recordFile(dir, stage), JSON.stringify(record, null, 2));
  return result;
}
