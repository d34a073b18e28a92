// Where a pipeline's time went, per stage and per part of each stage, in wall and CPU seconds. The
// parts are the stages' own metrics lines added up as they are logged (training epochs with the
// main thread's wait for the loader, test passes, feature extraction, k-means, linear probes, kNN);
// whatever else a stage spent (building the model, loading weights, writing checkpoints and label
// files) is its remainder. The CLI prints the breakdown after the demo's table, and the
// pipeline_summary line keeps it, so a slow run says which part was slow.
import { Stopwatch, type Elapsed } from '../engine/stopwatch.js';

export interface TimePart extends Elapsed {
  name: string;
  /** How many metrics lines (epochs, passes, layers, ...) it adds up. */
  count: number;
  /** Training epochs only: the part of their wall time the main thread waited for the loader's batches. */
  data_wait_seconds?: number;
}

export interface StageTime extends Elapsed {
  stage: string;
  parts: TimePart[];
}

function isElapsed(value: unknown): value is Elapsed {
  const v = value as Partial<Elapsed> | null;
  return typeof v?.seconds === 'number' && typeof v.cpu_seconds === 'number';
}

/** The timed parts a metrics line reports: [part name, time, loader wait]. */
function partsOf(event: string, fields: Record<string, unknown>): [string, Elapsed, number?][] {
  if (event.endsWith('_epoch') && isElapsed(fields)) {
    const wait = typeof fields.data_wait_seconds === 'number' ? fields.data_wait_seconds : undefined;
    return [['training epochs', fields, wait]];
  }
  if (event.endsWith('_test') && isElapsed(fields)) return [['test passes', fields]];
  if (event === 'extract' && isElapsed(fields)) return [['feature extraction', fields]];
  if (event === 'kmeans' && isElapsed(fields)) return [['k-means', fields]];
  if (event === 'evaluate') {
    const time = (fields.time ?? {}) as { linear?: unknown; knn?: unknown };
    const parts: [string, Elapsed][] = [];
    if (isElapsed(time.linear)) parts.push(['linear probes', time.linear]);
    if (isElapsed(time.knn)) parts.push(['kNN', time.knn]);
    return parts;
  }
  return [];
}

export class PipelineTime {
  readonly stages: StageTime[] = [];
  #current: { time: StageTime; watch: Stopwatch } | undefined;

  /** Ends the stage in progress, if any, and starts timing `stage`. */
  begin(stage: string): void {
    this.end();
    this.#current = { time: { stage, seconds: 0, cpu_seconds: 0, parts: [] }, watch: new Stopwatch() };
  }

  /** Ends the stage in progress. */
  end(): void {
    if (!this.#current) return;
    const { time, watch } = this.#current;
    Object.assign(time, watch.read());
    this.stages.push(time);
    this.#current = undefined;
  }

  /** A metrics line of the stage in progress (RunLogger.setMetricsObserver). */
  observe(event: string, fields: Record<string, unknown>): void {
    const parts = this.#current?.time.parts;
    if (!parts) return;
    for (const [name, elapsed, wait] of partsOf(event, fields)) {
      let part = parts.find((p) => p.name === name);
      if (!part) {
        part = { name, seconds: 0, cpu_seconds: 0, count: 0 };
        parts.push(part);
      }
      part.seconds += elapsed.seconds;
      part.cpu_seconds += elapsed.cpu_seconds;
      part.count += 1;
      if (wait !== undefined) part.data_wait_seconds = (part.data_wait_seconds ?? 0) + wait;
    }
  }

  /** The stages' times as a table: each stage, its parts and its remainder, then the total. */
  table(): string {
    const width = 48;
    const num = (v: number | undefined): string => (v === undefined ? '' : v.toFixed(1)).padStart(8);
    const row = (label: string, wall?: number, cpu?: number): string =>
      `${label.padEnd(width)} ${num(wall)} ${num(cpu)}`.trimEnd();
    const header = `${'where the time went (seconds)'.padEnd(width)} ${'wall'.padStart(8)} ${'CPU'.padStart(8)}`;
    const rows = [header, '-'.repeat(header.length)];
    const total = { seconds: 0, cpu_seconds: 0 };
    for (const stage of this.stages) {
      rows.push(row(stage.stage, stage.seconds, stage.cpu_seconds));
      total.seconds += stage.seconds;
      total.cpu_seconds += stage.cpu_seconds;
      const rest = { seconds: stage.seconds, cpu_seconds: stage.cpu_seconds };
      for (const part of stage.parts) {
        rows.push(row(`  ${part.name} (${part.count})`, part.seconds, part.cpu_seconds));
        if (part.data_wait_seconds !== undefined) {
          rows.push(row('    of which waiting for the loader', part.data_wait_seconds, undefined));
        }
        rest.seconds -= part.seconds;
        rest.cpu_seconds -= part.cpu_seconds;
      }
      if (stage.parts.length > 0) {
        rows.push(row('  the rest (model, weights, checkpoints, files)', rest.seconds, rest.cpu_seconds));
      }
    }
    rows.push(row('total', total.seconds, total.cpu_seconds));
    rows.push(
      'CPU counts every thread of the process (libtorch, the loader), so it can exceed wall on several cores;',
      "on a machine busy with other work, compare CPU seconds and the stages' shares, not wall seconds.",
    );
    return rows.join('\n');
  }
}
