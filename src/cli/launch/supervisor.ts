// The node agent's supervision of its workers. A worker blocked inside a collective runs no
// JavaScript, so it cannot answer a signal handler or a heartbeat: every limit is enforced from
// here, with signals the kernel delivers whatever the worker is doing.
//
// - Each worker's stdout and stderr go to <run dir>/logs/rank{R}.log (made when the rank starts,
//   appended to, never truncated); the first local worker's also to this terminal.
// - A rank that cannot be started (a process limit: EAGAIN) ends the start there: the ranks already
//   started are stopped, and the agent exits with one error naming the rank and the reason.
// - A worker that exits with a failure (any status but 0, or 130/143 after a stop request) ends the
//   run: the others get SIGTERM, and SIGKILL after FAILURE_GRACE_MS; the outcome names the rank, its
//   exit status or signal, its log and the last error line in it (the caller reports it, or restarts
//   the workers: see restarts.ts).
// - A worker stopped (SIGSTOP, state T in /proc) for TIMEOUT_S seconds is a failure too, and a
//   stopped worker is named as the likely cause when another rank fails first (its peers time out
//   waiting for it).
// - After one worker finishes, the others have TIMEOUT_S + FINISH_SLACK_S seconds to finish.
// - Ctrl-C (or SIGTERM) is forwarded once as SIGINT: the workers agree on the step to stop at and
//   checkpoint it. They are killed only if they have not exited TIMEOUT_S + FINISH_SLACK_S seconds
//   later, or at a second Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';

const FAILURE_GRACE_MS = 5000;
const FINISH_SLACK_S = 60;
const WATCH_INTERVAL_MS = 500;
/** Exit statuses of a worker that stopped cleanly on request (SIGINT / SIGTERM). */
const STOPPED_ON_REQUEST = new Set([130, 143]);

export interface WorkerSpec {
  rank: number;
  env: NodeJS.ProcessEnv;
  /** Echo this worker's output on the agent's stdout/stderr. */
  echo: boolean;
}

export interface SuperviseOptions {
  command: string;
  args: string[];
  workers: WorkerSpec[];
  logDir: string;
  timeoutS: number;
  /** Where the agent's own messages go (default process.stderr). */
  report?: (line: string) => void;
  /** Said in each log's header line after the worker's pid (e.g. which restart this is). */
  header?: string;
}

/** How the workers ended. */
export interface Outcome {
  /** The status the agent exits with: 0, 130 (stopped on request), or the failed rank's. */
  status: number;
  /** What failed, naming the rank, its log and its last error; null when nothing did. */
  failure: string | null;
  /**
   * The rank that failed after it had started, while no stop was requested: the failure a
   * restart of the workers may get past (one that could not be started would only fail again).
   */
  restartable: { rank: number; what: string } | null;
}

interface Worker {
  spec: WorkerSpec;
  child: ChildProcess;
  /** Null until the worker has started (and after its log failed). */
  log: WriteStream | null;
  logPath: string;
  /** The last few KB of the worker's stderr, to quote its error. */
  tail: string;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  stoppedSince: number | null;
}

/** True while the process is stopped by a signal (Linux /proc; elsewhere never known). */
export function isStopped(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'T' || state === 't';
  } catch {
    return false;
  }
}

function describeExit(exit: { code: number | null; signal: NodeJS.Signals | null }): string {
  return exit.signal !== null ? `was killed by ${exit.signal}` : `exited with status ${exit.code}`;
}

/** The worker's last `error: ...` line, else its last non-empty line. */
function lastError(tail: string): string | null {
  const lines = tail
    .split(/\r?\n|\r/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const error = [...lines].reverse().find((l) => /^error:|Error:/.test(l));
  return error ?? lines.at(-1) ?? null;
}

/** Status the agent exits with when a worker failed so: its status, or 128 + signal number. */
function exitStatusOf(exit: { code: number | null; signal: NodeJS.Signals | null }): number {
  if (exit.signal !== null) return 128 + (constants.signals[exit.signal] ?? 0);
  return exit.code === 0 || exit.code === null ? 1 : exit.code;
}

/** Starts the workers and resolves with how they ended, once all have exited. */
export function supervise(options: SuperviseOptions): Promise<Outcome> {
  const report = options.report ?? ((line: string) => process.stderr.write(`${line}\n`));
  mkdirSync(options.logDir, { recursive: true });
  const limitMs = (options.timeoutS + FINISH_SLACK_S) * 1000;

  return new Promise((resolveOutcome) => {
    let failure: string | null = null;
    let failureStatus = 1;
    let restartable: Outcome['restartable'] = null;
    let interrupted = false;
    let finishDeadline: NodeJS.Timeout | null = null;
    let killTimer: NodeJS.Timeout | null = null;
    const workers: Worker[] = [];

    const alive = (): Worker[] => workers.filter((w) => w.exit === null);
    const killAll = (): void => {
      for (const w of alive()) w.child.kill('SIGKILL');
    };
    const stoppedNote = (except: Worker): string => {
      const stopped = workers.filter((w) => w !== except && (w.stoppedSince !== null || isStopped(w.child.pid ?? -1)));
      return stopped
        .map(
          (w) =>
            `\n  rank ${w.spec.rank} (pid ${w.child.pid}) was stopped (SIGSTOP or a debugger) and did not answer: ` +
            `the likely cause; its log: ${w.logPath}`,
        )
        .join('');
    };

    /** Records the first failure and stops everyone else. */
    const fail = (worker: Worker, what: string, status: number): void => {
      if (failure !== null) return;
      const error = lastError(worker.tail);
      const started = worker.child.pid !== undefined;
      failure =
        (started
          ? `rank ${worker.spec.rank} (pid ${worker.child.pid}) ${what}; its log: ${worker.logPath}`
          : `rank ${worker.spec.rank} ${what}; ${workers.length - 1} of ${options.workers.length} ranks had started and were stopped`) +
        (error ? `\n  its last error: ${error}` : '') +
        stoppedNote(worker);
      failureStatus = status;
      if (started && !interrupted) restartable = { rank: worker.spec.rank, what };
      report(`clusterfit launcher: rank ${worker.spec.rank} ${what}; stopping the other ranks`);
      for (const w of alive()) {
        if (w === worker) continue;
        // A stopped process cannot act on SIGTERM: it only leaves on SIGKILL.
        w.child.kill(isStopped(w.child.pid ?? -1) ? 'SIGKILL' : 'SIGTERM');
      }
      killTimer ??= setTimeout(killAll, FAILURE_GRACE_MS);
    };

    const watch = setInterval(() => {
      const now = Date.now();
      for (const w of alive()) {
        if (!isStopped(w.child.pid ?? -1)) {
          w.stoppedSince = null;
          continue;
        }
        w.stoppedSince ??= now;
        if (now - w.stoppedSince >= options.timeoutS * 1000) {
          fail(w, `has been stopped (SIGSTOP or a debugger) for ${options.timeoutS} s (DISTRIBUTED.TIMEOUT_S)`, 1);
        }
      }
    }, WATCH_INTERVAL_MS);

    const onSignal = (signal: NodeJS.Signals): void => {
      if (interrupted) {
        report(`clusterfit launcher: ${signal} again: killing every rank now`);
        killAll();
        return;
      }
      interrupted = true;
      report(
        `clusterfit launcher: ${signal}: every rank stops at the same step and rank 0 checkpoints it ` +
          `(${signal === 'SIGINT' ? 'Ctrl-C' : signal} again kills them now)`,
      );
      for (const w of alive()) w.child.kill('SIGINT');
      killTimer ??= setTimeout(() => {
        report(`clusterfit launcher: ranks still running ${limitMs / 1000} s after the stop request; killing them`);
        killAll();
      }, limitMs);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    let settled = false;
    const settle = (): void => {
      if (settled || alive().length > 0) return;
      settled = true;
      clearInterval(watch);
      for (const t of [killTimer, finishDeadline]) if (t !== null) clearTimeout(t);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      Promise.all(workers.map((w) => new Promise((r) => (w.log ? w.log.end(r) : r(null))))).then(
        () => {
          if (failure !== null) {
            // A stop requested after the failure (Ctrl-C during the grace) is no time to restart.
            resolveOutcome({ status: failureStatus, failure, restartable: interrupted ? null : restartable });
          } else {
            const stopped = interrupted || workers.some((w) => STOPPED_ON_REQUEST.has(w.exit?.code ?? 0));
            resolveOutcome({ status: stopped ? 130 : 0, failure: null, restartable: null });
          }
        },
        () => resolveOutcome({ status: 1, failure: 'the workers’ logs could not be closed', restartable: null }),
      );
    };

    for (const spec of options.workers) {
      // Its own process group: a terminal's Ctrl-C reaches the agent only, which forwards it once
      // (a worker that saw it twice would quit without its checkpoint). stdin stays an open pipe the
      // worker watches, so workers leave when the agent dies without a word (SIGKILL).
      const child = spawn(options.command, options.args, {
        env: spec.env,
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
      });
      const logPath = join(options.logDir, `rank${spec.rank}.log`);
      const worker: Worker = { spec, child, log: null, logPath, tail: '', exit: null, stoppedSince: null };
      workers.push(worker);
      child.stdin?.on('error', () => {});
      // Every error event is handled (a second one unhandled would end the agent with a stack).
      child.on('error', (error) => {
        if (worker.exit !== null) return;
        worker.exit = { code: 1, signal: null };
        fail(worker, `could not be started (${error.message})`, 1);
        settle();
      });
      // No pid: the process could not be made (EAGAIN under a process limit, EMFILE, ENOENT). Its
      // error event follows; starting the remaining ranks would only fail the same way.
      if (child.pid === undefined) break;
      // The log is made once its rank has started, and appended to: a log of an earlier (or, if
      // the run folder is in use, a running) job is never truncated.
      const log = createWriteStream(logPath, { flags: 'a' });
      log.on('error', (error) => {
        if (worker.log === null) return;
        worker.log = null;
        report(
          `clusterfit launcher: cannot write ${logPath} (${error.message}); rank ${spec.rank}'s output is not logged`,
        );
      });
      log.write(
        `== clusterfit launcher (pid ${process.pid}): rank ${spec.rank}, pid ${child.pid}` +
          `${options.header ? `, ${options.header}` : ''}, ${new Date().toISOString()} ==\n`,
      );
      worker.log = log;
      child.stdout?.on('data', (chunk: Buffer) => {
        worker.log?.write(chunk);
        if (spec.echo) process.stdout.write(chunk);
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        worker.log?.write(chunk);
        if (spec.echo) process.stderr.write(chunk);
        worker.tail = (worker.tail + chunk.toString('utf8')).slice(-4096);
      });
      child.once('close', (code, signal) => {
        worker.exit = { code, signal };
        child.stdin?.destroy();
        const clean = signal === null && (code === 0 || STOPPED_ON_REQUEST.has(code ?? -1));
        if (!clean) {
          fail(worker, describeExit(worker.exit), exitStatusOf(worker.exit));
        } else if (finishDeadline === null && failure === null && alive().length > 0) {
          finishDeadline = setTimeout(() => {
            const late = alive()[0];
            if (late !== undefined)
              fail(late, `had not finished ${limitMs / 1000} s after rank ${spec.rank} finished`, 1);
          }, limitMs);
        }
        settle();
      });
    }
    report(
      `clusterfit launcher: started ${workers
        .filter((w) => w.child.pid !== undefined)
        .map((w) => `rank ${w.spec.rank} (pid ${w.child.pid})`)
        .join(', ')}; ` + `logs in ${options.logDir}`,
    );
  });
}
