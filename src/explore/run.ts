// What a run folder holds, for the explorer: training stages (curves from every metrics.jsonl),
// clusterings (`*_summary.json` of the cluster stage) and evaluations (`evaluation.json`), for a
// pipeline folder or a single stage's folder alike. Curves are read again when a metrics file grows,
// so a page polling a run in progress sees it live.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { readStageState, type StageState } from '../tasks/stage-state.js';
import { Clustering } from './clustering.js';

export interface StageCurves {
  name: string;
  /** The task that wrote the curves: train, or evaluate (its linear probes). */
  task: string;
  /** The stage's state record (done / running / stopped at epoch e of n / failed), when it has one. */
  state?: StageState;
  /** True when it finished: its state record says done (for folders without one: a summary closed it). */
  finished: boolean;
  steps: { iteration: number[]; loss: number[]; lr: number[]; imagesPerSec: number[] };
  epochs: { epoch: number[]; loss: number[]; top1: (number | null)[] };
  tests: { epoch: number[]; loss: number[]; top1: (number | null)[] };
}

export interface EvaluationRow {
  model: string;
  folder: string;
  layer: string;
  dim: number;
  linearTop1: number | null;
  linearTop5: number | null;
  knnTop1: number | null;
}

/** Folders never looked into: extracted features, TensorBoard logs, the explorer's own cache. */
const SKIP = new Set(['features', 'tb_logs', '.explore', 'node_modules']);
export const CACHE_FOLDER = '.explore';

/** Files named `name` in `root` and its sub-folders, `depth` levels down. */
function findFiles(root: string, test: (name: string) => boolean, depth = 2): string[] {
  const found: string[] = [];
  const walk = (dir: string, level: number): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.isFile() && test(entry.name)) found.push(join(dir, entry.name));
      else if (entry.isDirectory() && level < depth && !SKIP.has(entry.name) && !entry.name.endsWith('_features')) {
        walk(join(dir, entry.name), level + 1);
      }
    }
  };
  walk(root, 0);
  return found;
}

type Line = Record<string, unknown> & { event: string };

const top1 = (accuracy: unknown): number | null => {
  const first = Array.isArray(accuracy) ? (accuracy[0] as Record<string, number> | undefined) : undefined;
  return typeof first?.top1 === 'number' ? first.top1 : null;
};

function emptyStage(name: string, task = 'train'): StageCurves {
  return {
    name,
    task,
    finished: false,
    steps: { iteration: [], loss: [], lr: [], imagesPerSec: [] },
    epochs: { epoch: [], loss: [], top1: [] },
    tests: { epoch: [], loss: [], top1: [] },
  };
}

/** Columns of `a` then `b` as one series sorted by `key`; for a key in both, `b`'s row wins. */
function mergeSeries<T extends Record<string, (number | null)[]>>(a: T, b: T, key: keyof T): T {
  const rows = new Map<number, Record<string, number | null>>();
  for (const series of [a, b]) {
    (series[key] as number[]).forEach((x, i) => {
      rows.set(x, Object.fromEntries(Object.entries(series).map(([name, values]) => [name, values[i] ?? null])));
    });
  }
  const sorted = [...rows.entries()].sort((p, q) => p[0] - q[0]).map(([, row]) => row);
  return Object.fromEntries(Object.keys(a).map((name) => [name, sorted.map((row) => row[name] ?? null)])) as T;
}

/**
 * The training stages of one metrics.jsonl: a pipeline's file holds its stages one after another,
 * each opened by a `stage_start` line naming its folder (files from before it: named by the folder
 * of its checkpoints) and closed by a `*_summary` line. The attempts of one stage (stopped, then
 * resumed) are one stage.
 */
export function stagesOf(
  metricsFile: string,
  runRoot: string,
  warn: (message: string) => void = (message) => process.stderr.write(`warning: ${message}\n`),
): StageCurves[] {
  const text = readFileSync(metricsFile, 'utf8');
  const all = text.split('\n');
  // The last line without its newline is being written right now: not junk, just not yet whole.
  if (!text.endsWith('\n')) all.pop();
  const junk: number[] = [];
  const lines = all.flatMap((l, index): Line[] => {
    if (l.trim() === '') return [];
    let line: unknown;
    try {
      line = JSON.parse(l);
    } catch {
      line = undefined;
    }
    // A line that is not a metrics record (a number, a list, junk written by hand) is no curve point.
    if (typeof line !== 'object' || line === null || Array.isArray(line)) {
      junk.push(index + 1);
      return [];
    }
    const record = line as Record<string, unknown>;
    return [{ ...record, event: typeof record.event === 'string' ? record.event : '' }];
  });
  if (junk.length > 0) {
    const more = junk.length > 1 ? ` (and ${junk.length - 1} more line(s))` : '';
    warn(`${metricsFile}: line ${junk[0]} is not a metrics record (a JSON object)${more}; skipped`);
  }
  const stages: StageCurves[] = [];
  let current: StageCurves | null = null;
  let folder: string | null = null;
  let task = 'train';
  const open = (): StageCurves => (current ??= emptyStage('', task));
  const close = (finished: boolean): void => {
    if (current === null) return;
    const fallback = relative(runRoot, dirname(metricsFile)) || basename(runRoot);
    current.name =
      folder !== null ? relative(runRoot, folder) || basename(runRoot) : `${fallback} (training ${stages.length + 1})`;
    current.finished = finished;
    const same = stages.find((s) => s.name === current?.name);
    if (same) {
      // A resumed stage: one curve, where the resumed run's points replace those it repeats.
      same.steps = mergeSeries(same.steps, current.steps, 'iteration');
      same.epochs = mergeSeries(same.epochs, current.epochs, 'epoch');
      same.tests = mergeSeries(same.tests, current.tests, 'epoch');
      same.finished = finished;
    } else stages.push(current);
    current = null;
    folder = null;
    task = 'train';
  };
  for (const line of lines) {
    const e = line.event;
    if (typeof line.iteration === 'number' && typeof line.lr === 'number' && typeof line.loss === 'number') {
      const stage = open();
      const last = stage.steps.iteration.at(-1);
      if (last !== undefined && line.iteration <= last) {
        close(false);
      }
      const s = open().steps;
      s.iteration.push(line.iteration);
      s.loss.push(line.loss);
      s.lr.push(line.lr);
      s.imagesPerSec.push(typeof line.images_per_sec === 'number' ? line.images_per_sec : NaN);
    } else if (e.endsWith('_epoch') && typeof line.epoch === 'number') {
      const s = open().epochs;
      s.epoch.push(line.epoch);
      s.loss.push(line.loss as number);
      s.top1.push(top1(line.accuracy));
    } else if (e.endsWith('_test') && typeof line.epoch === 'number') {
      const s = open().tests;
      s.epoch.push(line.epoch);
      s.loss.push(line.loss as number);
      s.top1.push(top1(line.accuracy));
    } else if (e === 'stage_start' && typeof line.dir === 'string') {
      close(false);
      folder = line.dir;
      task = typeof line.stage === 'string' ? line.stage : 'train';
    } else if (e === 'checkpoint' && typeof line.path === 'string') {
      folder = dirname(line.path);
    } else if (e.endsWith('_summary') && Array.isArray(line.train)) {
      if (typeof line.checkpoint === 'string') folder = dirname(line.checkpoint);
      open();
      close(true);
    }
  }
  close(false);
  return stages;
}

const MODEL_NAMES: Record<string, string> = {
  eval_random: 'random init',
  eval_rotnet: 'RotNet',
  eval_clusterfit: 'ClusterFit',
};

/** The evaluation.json files' rows; a file that cannot be read is listed in `problems`, not a failed page. */
export function evaluationsOf(runRoot: string, problems: string[] = []): EvaluationRow[] {
  return findFiles(runRoot, (name) => name === 'evaluation.json').flatMap((file) => {
    let result: {
      layers: { layer: string; dim: number; linear?: Record<string, number>; knn?: Record<string, number> }[];
    };
    try {
      result = JSON.parse(readFileSync(file, 'utf8')) as typeof result;
      if (!Array.isArray(result?.layers) || !result.layers.every((l) => typeof l === 'object' && l !== null))
        throw new Error("no list of 'layers'");
    } catch (error) {
      problems.push(`${relative(runRoot, file)}: not an evaluation record (${(error as Error).message})`);
      return [];
    }
    const folder = relative(runRoot, dirname(file)) || '.';
    const model = MODEL_NAMES[basename(dirname(file))] ?? folder;
    return result.layers.map((l) => ({
      model,
      folder,
      layer: l.layer,
      dim: l.dim,
      linearTop1: l.linear?.top1 ?? null,
      linearTop5: l.linear?.top5 ?? null,
      knnTop1: l.knn?.top1 ?? null,
    }));
  });
}

/** A run folder, read on demand: curves every time (cheap), clusterings once each (indexed). */
export class RunFolder {
  readonly root: string;
  readonly #clusterings = new Map<string, { key: string; clustering: Clustering }>();
  #stageCache = new Map<string, { key: string; stages: StageCurves[] }>();
  readonly #warned = new Set<string>();

  constructor(root: string) {
    this.root = resolve(root);
    if (!existsSync(this.root) || !statSync(this.root).isDirectory()) {
      throw new Error(`${this.root} is not a folder: give the output folder of a pipeline or of one stage`);
    }
  }

  stages(): StageCurves[] {
    const curves = findFiles(this.root, (name) => name === 'metrics.jsonl').flatMap((file) => {
      const stat = statSync(file);
      const key = `${stat.size}:${stat.mtimeMs}`;
      const cached = this.#stageCache.get(file);
      if (cached?.key === key) return cached.stages;
      // One warning a file, not one each time a live run's file grows.
      const stages = stagesOf(file, this.root, (message) => {
        if (this.#warned.has(file)) return;
        this.#warned.add(file);
        process.stderr.write(`warning: ${message}\n`);
      });
      this.#stageCache.set(file, { key, stages });
      return stages;
    });
    // The state record, read every time (it changes without the metrics file growing: a stop, a kill).
    return curves.map((stage) => {
      const dir = resolve(this.root, stage.name === basename(this.root) ? '.' : stage.name);
      const state = readStageState(dir, stage.task);
      return state === undefined ? stage : { ...stage, state, finished: state.state === 'done' };
    });
  }

  /** Ids of the clusterings (their file prefix), with their summary files. */
  clusteringFiles(): Map<string, string> {
    const files = findFiles(this.root, (name) => /_N\d+_D\d+_summary\.json$/.test(name));
    return new Map(files.map((f) => [basename(f).replace(/_summary\.json$/, ''), f]));
  }

  clustering(id: string): Clustering {
    const file = this.clusteringFiles().get(id);
    if (file === undefined) throw new RangeError(`no clustering '${id}' in ${this.root}`);
    // Files rewritten since they were indexed (the cluster stage run again) are indexed again: an
    // open reader of the old images.npy would go on showing the old images.
    const prefix = file.slice(0, -'_summary.json'.length);
    const key = [file, `${prefix}_labels.npy`, `${prefix}_images.npy`]
      .map((f) => {
        const stat = statSync(f, { throwIfNoEntry: false });
        return stat ? `${stat.ino}:${stat.size}:${stat.mtimeMs}` : '-';
      })
      .join('/');
    const cached = this.#clusterings.get(id);
    if (cached?.key === key) return cached.clustering;
    cached?.clustering.dispose();
    this.#clusterings.delete(id);
    const clustering = new Clustering(file, this.root);
    this.#clusterings.set(id, { key, clustering });
    return clustering;
  }

  clusterings(): Clustering[] {
    return [...this.clusteringFiles().keys()].map((id) => this.clustering(id));
  }

  evaluations(): EvaluationRow[] {
    return evaluationsOf(this.root);
  }

  /** Everything the page shows first. A clustering that cannot be read is a problem listed, not a failed page. */
  overview(): {
    name: string;
    stages: StageCurves[];
    clusterings: Clustering['info'][];
    evaluations: EvaluationRow[];
    problems: string[];
  } {
    const problems: string[] = [];
    const clusterings = [...this.clusteringFiles()].flatMap(([id, file]) => {
      try {
        return [this.clustering(id).info];
      } catch (error) {
        problems.push(`${relative(this.root, file)}: ${(error as Error).message}`);
        return [];
      }
    });
    const evaluations = evaluationsOf(this.root, problems);
    return { name: basename(this.root), stages: this.stages(), clusterings, evaluations, problems };
  }

  dispose(): void {
    for (const { clustering } of this.#clusterings.values()) clustering.dispose();
    this.#clusterings.clear();
  }
}
