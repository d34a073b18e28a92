// What a run folder holds, stage by stage, read from the files the stages leave (no libtorch
// needed): the `<stage>_config.yaml` each task writes when it starts, its `<stage>_state.json`
// (done / running / stopped at epoch e of n / failed: the one source of truth, stage-state.ts), the
// `<stage>_done.json` records of finished stages, and the metrics lines for the numbers. A pipeline
// folder has one stage per subfolder; a folder of a single `clusterfit run` is one stage. Folders
// written before state records existed are judged from their checkpoints and done records.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import YAML from 'yaml';
import { requireRegularFile } from '../torch/io/file-bytes.js';
import type { ClusterResult } from './cluster.js';
import type { EvaluateResult } from './evaluate.js';
import type { ExtractResult } from './extract.js';
import { readStageState, type StageOutcome } from './stage-state.js';

/** A stage's outcome; `started` only for folders older than state records, with nothing finished. */
export type StageState = StageOutcome | 'started';

export interface StageStatus {
  /** The stage's folder. */
  dir: string;
  /** train, extract, cluster, evaluate or nearest_neighbor. */
  stage: string;
  state: StageState;
  /** The key numbers, in words. */
  summary: string;
}

const STAGES = ['train', 'extract', 'cluster', 'evaluate', 'nearest_neighbor'];

function readJson<T>(file: string): T | undefined {
  try {
    // A FIFO would block the read forever: a done record that is not a regular file is not one.
    requireRegularFile(file, 'stage record');
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function doneResult<T>(dir: string, stage: string): T | undefined {
  return readJson<{ result: T }>(join(dir, `${stage}_done.json`))?.result;
}

function metricsLines(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  // A FIFO would block the read forever and a link to /dev/zero never end.
  requireRegularFile(file, 'metrics file');
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

/** The metrics file a stage in `dir` wrote to: its own, or its pipeline's one folder up. */
function metricsFileOf(dir: string): string | undefined {
  return [join(dir, 'metrics.jsonl'), join(dirname(dir), 'metrics.jsonl')].find(existsSync);
}

/**
 * The last train epoch's loss and test top-1 before the newest checkpoint saved into `dir`. A
 * pipeline's file holds its stages one after another: what one stage logged is forgotten when the
 * next starts (or the previous one's summary closes it), so a stage never shows another's numbers.
 */
function lastTrainNumbers(dir: string): { loss?: number; top1?: number } {
  const file = metricsFileOf(dir);
  if (!file) return {};
  let epoch: { loss?: number } | undefined;
  let test: { accuracy?: { top1?: number }[] } | undefined;
  let found: { loss?: number; top1?: number } = {};
  for (const record of metricsLines(file)) {
    if (record.event === 'stage_start' || (typeof record.event === 'string' && record.event.endsWith('_summary'))) {
      epoch = undefined;
      test = undefined;
    }
    if (record.event === 'train_epoch') epoch = record as { loss?: number };
    if (record.event === 'train_test') test = record as { accuracy?: { top1?: number }[] };
    if (record.event === 'checkpoint' && typeof record.path === 'string' && dirname(record.path) === dir) {
      found = { loss: epoch?.loss, top1: test?.accuracy?.[0]?.top1 };
    }
  }
  return found;
}

function trainStatus(dir: string): StageStatus {
  const config = YAML.parse(readFileSync(join(dir, 'train_config.yaml'), 'utf8')) as {
    config?: { OPTIMIZER?: { num_epochs?: number } };
  };
  const total = config.config?.OPTIMIZER?.num_epochs ?? 0;
  const names = readdirSync(dir);
  const phase = (pattern: RegExp): number => Math.max(-1, ...names.map((n) => Number(pattern.exec(n)?.[1] ?? -1)));
  const final = phase(/^model_final_checkpoint_phase(\d+)\.torch$/);
  const latest = phase(/^model_phase(\d+)\.torch$/);
  const { loss, top1 } = lastTrainNumbers(dir);
  const numbers = [
    loss !== undefined ? `train loss ${loss.toFixed(4)}` : '',
    top1 !== undefined ? `test top-1 ${top1.toFixed(2)}` : '',
  ].filter(Boolean);
  const tail = numbers.length > 0 ? `; ${numbers.join(', ')}` : '';
  const recorded = readStageState(dir, 'train');
  const status = (state: StageState, words: string): StageStatus => ({ dir, stage: 'train', state, summary: words });
  if (recorded !== undefined) {
    const epochs = `${recorded.epoch ?? 0}/${recorded.epochs ?? total} epochs`;
    const resume = '; the same command resumes it';
    switch (recorded.state) {
      case 'done':
        return status('done', `${epochs}${tail}`);
      case 'running':
        return status('running', `${epochs} done${tail}`);
      case 'stopped':
        return status('stopped', `at epoch ${recorded.epoch ?? 0} of ${recorded.epochs ?? total}${tail}${resume}`);
      case 'failed':
        return status('failed', `${recorded.error}; ${epochs} done${tail}${latest >= 0 ? resume : ''}`);
    }
  }
  if (final >= 0) return status('done', `${final + 1}/${total} epochs${tail}`);
  if (latest < 0) return status('started', `no checkpoint yet (0/${total} epochs)`);
  return status('stopped', `checkpoint of epoch ${latest + 1}/${total}${tail}; the same command resumes it`);
}

/** A stage that has not recorded a result: where its state record says it stands. */
function unfinished(dir: string, stage: string): StageStatus {
  const recorded = readStageState(dir, stage);
  const state = recorded?.state ?? 'started';
  const summary =
    state === 'running'
      ? 'in progress'
      : state === 'failed'
        ? `${recorded?.error}; the same command redoes it`
        : 'not finished; the same command redoes it';
  return { dir, stage, state, summary };
}

function clusterStatus(dir: string): StageStatus {
  const done = doneResult<ClusterResult>(dir, 'cluster');
  if (!done) return unfinished(dir, 'cluster');
  const s = done.stats;
  const objective = done.objective;
  return {
    dir,
    stage: 'cluster',
    state: 'done',
    summary:
      `K=${done.numClusters} on ${done.splits[0]?.images ?? 0} images (${done.dim}-d); sizes ${s.smallest}/${s.median}/${s.largest} ` +
      `(min/median/max), ${s.empty} empty; objective ${objective[0]?.toFixed(1)} -> ${objective[objective.length - 1]?.toFixed(1)}`,
  };
}

function evaluateStatus(dir: string, stage: string): StageStatus {
  const done = doneResult<EvaluateResult>(dir, stage);
  if (!done) return unfinished(dir, stage);
  const pct = (v: number | undefined): string => (v === undefined ? '-' : v.toFixed(2));
  const layers = done.layers.map((l) => `${l.layer} linear ${pct(l.linear?.top1)} kNN ${pct(l.knn.top1)}`);
  return { dir, stage, state: 'done', summary: `top-1 on ${done.testImages} test images: ${layers.join('; ')}` };
}

function extractStatus(dir: string): StageStatus {
  const records = readdirSync(dir).filter((n) => /^extract_.*_done\.json$/.test(n));
  const done = records.map((n) => readJson<{ result: ExtractResult }>(join(dir, n))?.result).filter((r) => r);
  if (done.length === 0) return unfinished(dir, 'extract');
  const images = Object.entries(done[0]!.images).map(([split, n]) => `${n} ${split}`);
  const layers = done.flatMap((r) => Object.keys(Object.values(r!.shards)[0] ?? {}));
  return { dir, stage: 'extract', state: 'done', summary: `${layers.join(', ')} of ${images.join(' and ')} images` };
}

function stagesIn(dir: string): StageStatus[] {
  const found: StageStatus[] = [];
  for (const stage of STAGES) {
    if (!existsSync(join(dir, `${stage}_config.yaml`))) continue;
    if (stage === 'train') found.push(trainStatus(dir));
    else if (stage === 'cluster') found.push(clusterStatus(dir));
    else if (stage === 'extract') found.push(extractStatus(dir));
    else found.push(evaluateStatus(dir, stage));
  }
  return found;
}

/** Every stage found in `runDir` and its subfolders (two levels), in the order they started. */
export function runStatus(runDir: string): StageStatus[] {
  const root = resolve(runDir);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new Error(`${root} is not a folder: give the run folder (the out= of a pipeline, or a CHECKPOINT.DIR)`);
  }
  const dirs = [root];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const sub = join(root, entry.name);
    dirs.push(sub);
    for (const inner of readdirSync(sub, { withFileTypes: true })) {
      if (inner.isDirectory()) dirs.push(join(sub, inner.name));
    }
  }
  // A stage writes its config when it starts (again on every re-run, so the file's birth time).
  const started = (s: StageStatus): number => {
    const stat = statSync(join(s.dir, `${s.stage}_config.yaml`));
    return stat.birthtimeMs || stat.mtimeMs;
  };
  const stages = dirs.flatMap(stagesIn).sort((a, b) => started(a) - started(b));
  if (stages.length === 0) {
    throw new Error(`${root} holds no stage of a run (no *_config.yaml written by a clusterfit stage)`);
  }
  return stages;
}

/** One line per stage: `<folder>  <stage>  <state>  <numbers>`. */
export function formatStatus(runDir: string, stages: StageStatus[]): string {
  const root = resolve(runDir);
  const name = (s: StageStatus): string => (s.dir === root ? '.' : s.dir.slice(root.length + 1));
  const width = Math.max(...stages.map((s) => name(s).length));
  const stageWidth = Math.max(...stages.map((s) => s.stage.length));
  return stages
    .map((s) => `${name(s).padEnd(width)}  ${s.stage.padEnd(stageWidth)} ${s.state.padEnd(8)} ${s.summary}`)
    .join('\n');
}
