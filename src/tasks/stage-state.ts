// The one source of truth for where a stage stands: `<dir>/<stage>_state.json`, written by the
// stage itself (rank 0) when it starts, after each training epoch, and when it ends: done, stopped
// on request at epoch e of n, or failed with its error. `clusterfit status`, the explorer and the
// report all read it through `readStageState`, so they cannot disagree, and none of them guesses
// from a file's age. Each run of the stage is one attempt in the record's history, so a stage
// stopped and resumed three times is one stage with four attempts, not four stages.
//
// A record that says `running` is believed only while the process it names holds the folder's
// lock: a process killed without a word (SIGKILL, a crash, a power cut) leaves `running` behind,
// and is reported as failed ("ended without recording an outcome"), resumable by the same command.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { LOCK_NAME, processAlive } from '../engine/run-lock.js';
import { StopRequested } from '../engine/stop-signal.js';

export type StageOutcome = 'running' | 'done' | 'stopped' | 'failed';

export interface StageAttempt {
  /** ISO times. */
  started: string;
  ended?: string;
  state: StageOutcome;
  /** Training epochs complete when the attempt ended (or now, while it runs). */
  epoch?: number;
  error?: string;
}

interface StageRecord {
  stage: string;
  pid: number;
  host: string;
  /** The process holding the folder's lock, when not `pid` itself (the launcher of a multi-process run). */
  lockPid?: number;
  /** Training stages: the epochs the config asks for. */
  epochs?: number;
  attempts: StageAttempt[];
}

export interface StageState {
  stage: string;
  state: StageOutcome;
  /** Training epochs complete (for a stopped stage: where it stopped). */
  epoch?: number;
  epochs?: number;
  /** Why it failed. */
  error?: string;
  /** Every run of the stage, oldest first; the last is the current state. */
  attempts: StageAttempt[];
}

function recordFile(dir: string, stage: string): string {
  return join(dir, `${stage}_state.json`);
}

function readRecord(dir: string, stage: string): StageRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(recordFile(dir, stage), 'utf8')) as StageRecord;
    return Array.isArray(record.attempts) && record.attempts.length > 0 ? record : undefined;
  } catch {
    return undefined; // none yet, or damaged: the caller falls back to what the folder holds
  }
}

/**
 * Whether the process a `running` record names still runs the stage: it (or its launcher) holds the
 * folder's lock and it lives. A worker the launcher restarted left its attempt behind: failed.
 */
function stillRunning(dir: string, record: StageRecord): boolean {
  let lock: string;
  try {
    lock = readFileSync(join(dir, LOCK_NAME), 'utf8');
  } catch {
    return false; // the lock is released when the process exits
  }
  const [pid, host] = lock.trim().split(' ');
  if (Number(pid) !== (record.lockPid ?? record.pid) || host !== record.host) return false;
  // Another machine's process cannot be asked; its lock is the best word there is.
  return host !== hostname() || processAlive(record.pid);
}

/** Where the stage `stage` in `dir` stands, or undefined when it never recorded a state (older runs). */
export function readStageState(dir: string, stage: string): StageState | undefined {
  const record = readRecord(dir, stage);
  if (record === undefined) return undefined;
  const attempts = record.attempts.map((a) => ({ ...a }));
  const last = attempts[attempts.length - 1]!;
  if (last.state === 'running' && !stillRunning(dir, record)) {
    last.state = 'failed';
    last.error = `its process (${record.pid} on ${record.host}) ended without recording an outcome (killed or crashed)`;
  }
  return {
    stage: record.stage,
    state: last.state,
    ...(last.epoch !== undefined ? { epoch: last.epoch } : {}),
    ...(record.epochs !== undefined ? { epochs: record.epochs } : {}),
    ...(last.error !== undefined ? { error: last.error } : {}),
    attempts,
  };
}

/** A few words for a state: `done`, `running (epoch 3 of 30)`, `stopped at epoch 3 of 30`, `failed: ...`. */
export function describeStageState(state: StageState): string {
  const of = state.epochs !== undefined ? ` of ${state.epochs}` : '';
  switch (state.state) {
    case 'done':
      return 'done';
    case 'running':
      return state.epoch !== undefined ? `running (epoch ${state.epoch}${of} done)` : 'running';
    case 'stopped':
      return state.epoch !== undefined ? `stopped at epoch ${state.epoch}${of}` : 'stopped';
    case 'failed':
      return `failed: ${state.error ?? 'no error recorded'}`;
  }
}

/** Writes a stage's record as the stage goes; every method is a no-op on ranks other than 0. */
export class StageRecorder {
  readonly #dir: string;
  readonly #record: StageRecord | undefined;

  constructor(
    dir: string,
    stage: string,
    { writer, epochs, lockPid }: { writer: boolean; epochs?: number; lockPid?: number },
  ) {
    this.#dir = dir;
    if (!writer) return;
    const previous = readStageState(dir, stage)?.attempts ?? [];
    this.#record = {
      stage,
      pid: process.pid,
      host: hostname(),
      ...(lockPid !== undefined && lockPid !== process.pid ? { lockPid } : {}),
      ...(epochs !== undefined ? { epochs } : {}),
      attempts: [...previous, { started: new Date().toISOString(), state: 'running' }],
    };
    this.#write();
  }

  /** Training epochs complete so far. */
  epoch(done: number): void {
    this.#update({ epoch: done });
  }

  done(epoch?: number): void {
    this.#update({ state: 'done', ended: new Date().toISOString(), ...(epoch !== undefined ? { epoch } : {}) });
  }

  stopped(epoch?: number): void {
    this.#update({ state: 'stopped', ended: new Date().toISOString(), ...(epoch !== undefined ? { epoch } : {}) });
  }

  failed(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.#update({ state: 'failed', ended: new Date().toISOString(), error: message.split('\n')[0] });
  }

  /**
   * Runs the stage's body and records how it ended: `outcome` tells done from stopped by its result;
   * a throw is recorded as failed and rethrown.
   */
  async track<T>(body: () => Promise<T>, outcome: (result: T) => { stopped: boolean; epoch?: number }): Promise<T> {
    let result: T;
    try {
      result = await body();
    } catch (error) {
      if (error instanceof StopRequested) this.stopped();
      else this.failed(error);
      throw error;
    }
    const { stopped, epoch } = outcome(result);
    if (stopped) this.stopped(epoch);
    else this.done(epoch);
    return result;
  }

  #update(change: Partial<StageAttempt>): void {
    if (this.#record === undefined) return;
    const attempts = this.#record.attempts;
    attempts[attempts.length - 1] = { ...attempts[attempts.length - 1]!, ...change };
    this.#write();
  }

  #write(): void {
    // Whole or not at all: a reader never sees half a record.
    const file = recordFile(this.#dir, this.#record!.stage);
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(this.#record, null, 2)}\n`);
    renameSync(temporary, file);
  }
}
