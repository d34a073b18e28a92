// What a run tells the person watching it and the tools reading after it: one JSON line of metrics
// per logging step, always (appended to `metrics.jsonl` in the run folder, and on stdout only when
// asked: the CLI asks when stdout is not a terminal, so `| jq` works; a library caller's stdout is
// left alone); a progress bar with rate and ETA on a terminal, and progress events for a callback;
// and human messages on stderr, or wherever the caller sends them. A warning is said once.
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { makeDirectories } from '../torch/io/file-bytes.js';
import { dirname } from 'node:path';

export interface RunLoggerOptions {
  /** Where JSON lines are appended; none: not kept. */
  metricsFile?: string;
  /** Print JSON lines on stdout. Default: no. */
  jsonToStdout?: boolean;
  /** Show a progress bar on stderr. Default: when stderr is a terminal. */
  progressBar?: boolean;
  /** No human messages at all (tests). */
  quiet?: boolean;
  /** Where human messages (and warnings, prefixed `warning: `) go, one line per call. Default: stderr. */
  messages?: (line: string) => void;
  /** Called on every progress update (not throttled by the bar's redraw rate). */
  onProgress?: (event: ProgressEvent) => void;
}

export interface ProgressEvent {
  /** What is progressing, e.g. `train epoch 3/30` or `extract train`. */
  label: string;
  done: number;
  total: number;
  /** `unit`s per second. */
  rate: number;
  unit: string;
  /** Seconds left at that rate (Infinity before it is known). */
  etaSeconds: number;
  /** A pipeline's: seconds left in the whole run, every stage still to come included (Infinity before it is known). */
  runEtaSeconds?: number;
}

/** Seconds as 1h02m, 3m05s or 12s. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** Set by the launcher for the worker whose output it echoes on a terminal (its own stdio are pipes). */
export const TERMINAL_ENV = { stdout: 'CLUSTERFIT_STDOUT_IS_TTY', stderr: 'CLUSTERFIT_STDERR_IS_TTY' } as const;

/** Whether `stream` reaches a person: a terminal, or the launcher's echo of this worker to one. */
export function isTerminal(stream: 'stdout' | 'stderr'): boolean {
  return process[stream].isTTY === true || process.env[TERMINAL_ENV[stream]] === '1';
}

/**
 * Appends a line entirely or not at all: a write cut short (a full disk) is truncated away before
 * the error propagates, so metrics.jsonl never holds half a line that the next one would run into.
 */
function appendWholeLine(path: string, line: string): void {
  const fd = openSync(path, 'a');
  const bytes = Buffer.from(line);
  const size = fstatSync(fd).size;
  try {
    for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done);
  } catch (error) {
    ftruncateSync(fd, size);
    throw error;
  } finally {
    closeSync(fd);
  }
}

/** A process killed mid-write can still leave a partial last line: it is dropped before appending. */
function dropTornLine(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'r+');
  } catch {
    return; // no file yet
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return;
    const tail = Buffer.alloc(Math.min(size, 1 << 20));
    readSync(fd, tail, 0, tail.length, size - tail.length);
    if (tail[tail.length - 1] === 0x0a) return;
    const lastNewline = tail.lastIndexOf(0x0a);
    ftruncateSync(fd, lastNewline < 0 ? size - tail.length : size - tail.length + lastNewline + 1);
  } finally {
    closeSync(fd);
  }
}

export class RunLogger {
  readonly #metricsFile: string | undefined;
  readonly #jsonToStdout: boolean;
  readonly #progressBar: boolean;
  readonly #quiet: boolean;
  readonly #messages: ((line: string) => void) | undefined;
  readonly #onProgress: ((event: ProgressEvent) => void) | undefined;
  readonly #warned = new Set<string>();
  #barVisible = false;
  #lastBarAt = 0;
  #runEstimate: ((event: ProgressEvent) => number) | undefined;
  #metricsObserver: ((event: string, fields: Record<string, unknown>) => void) | undefined;

  constructor(options: RunLoggerOptions = {}) {
    this.#metricsFile = options.metricsFile;
    this.#quiet = options.quiet ?? false;
    this.#jsonToStdout = options.jsonToStdout ?? false;
    this.#messages = options.messages;
    this.#onProgress = options.onProgress;
    this.#progressBar =
      !this.#quiet && (options.progressBar ?? (options.messages === undefined && isTerminal('stderr')));
    if (this.#metricsFile) {
      makeDirectories(dirname(this.#metricsFile));
      dropTornLine(this.#metricsFile);
    }
  }

  /** One metrics record: `{"event": ..., "time": ..., ...fields}`. */
  metrics(event: string, fields: Record<string, unknown>): void {
    this.#metricsObserver?.(event, fields);
    const line = JSON.stringify({ event, time: new Date().toISOString(), ...fields });
    if (this.#metricsFile) appendWholeLine(this.#metricsFile, line + '\n');
    if (this.#jsonToStdout) {
      this.#clearBar();
      process.stdout.write(line + '\n');
    }
  }

  info(message: string): void {
    if (this.#quiet) return;
    this.#say(message);
  }

  /** Says `message` the first time only: a pipeline's stages and repeated loads would repeat it. */
  warn(message: string): void {
    if (this.#warned.has(message)) return;
    this.#warned.add(message);
    this.#say(`warning: ${message}`);
  }

  #say(line: string): void {
    if (this.#messages) {
      this.#messages(line);
      return;
    }
    this.#clearBar();
    process.stderr.write(line + '\n');
  }

  /**
   * Redraws the progress line (at most 10 times a second): `label [#####.....] 120/500 85.3 img/s ETA 4s`.
   * `rate` is items per second of whatever unit `unit` names.
   */
  progress(label: string, done: number, total: number, rate: number, unit: string, extra = ''): void {
    const event: ProgressEvent = {
      label,
      done,
      total,
      rate,
      unit,
      etaSeconds: rate > 0 ? (total - done) / rate : Infinity,
    };
    if (this.#runEstimate) event.runEtaSeconds = this.#runEstimate(event);
    this.#onProgress?.(event);
    if (!this.#progressBar) return;
    const now = Date.now();
    if (done < total && now - this.#lastBarAt < 100) return;
    this.#lastBarAt = now;
    const width = 24;
    const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : 0;
    const eta = rate > 0 ? formatDuration((total - done) / rate) : '?';
    const bar = '#'.repeat(filled) + '.'.repeat(width - filled);
    const run = event.runEtaSeconds === undefined ? '' : ` · run ETA ${formatDuration(event.runEtaSeconds)}`;
    const line = `${label} [${bar}] ${done}/${total} ${rate.toFixed(1)} ${unit}/s ETA ${eta}${run}${extra ? ' ' + extra : ''}`;
    process.stderr.write(`\r${line.slice(0, (process.stderr.columns || 120) - 1)}\x1b[K`);
    this.#barVisible = true;
  }

  /**
   * A whole run's estimate (a pipeline's, over its stages): given each progress event, the seconds
   * left in the run, shown on the bar as `run ETA` and passed on as the event's `runEtaSeconds`.
   * `undefined` removes it.
   */
  setRunEstimate(estimate: ((event: ProgressEvent) => number) | undefined): void {
    this.#runEstimate = estimate;
  }

  /**
   * Sees every metrics record as it is logged (a pipeline's, to add up where its time went);
   * `undefined` removes it.
   */
  setMetricsObserver(observer: ((event: string, fields: Record<string, unknown>) => void) | undefined): void {
    this.#metricsObserver = observer;
  }

  /** Ends the current progress line so the next message starts on its own line. */
  endProgress(): void {
    this.#clearBar();
  }

  #clearBar(): void {
    if (!this.#barVisible) return;
    process.stderr.write('\r\x1b[K');
    this.#barVisible = false;
  }
}
