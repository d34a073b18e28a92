// DISTRIBUTED.MAX_RESTARTS (torchrun's --max-restarts): when a worker fails, the supervisor stops
// this node's other workers (SIGTERM, SIGKILL after a grace) and they all start again, up to N
// times. A restarted training resumes from the run folder's last checkpoint, as the same command
// run again does (CHECKPOINT.AUTO_RESUME). Each restart is said on stderr, as a JSON line with
// --json, and in the header of every rank's log, which is appended to across restarts.
//
// Each node's launcher restarts its own workers; on several nodes the workers of the other nodes
// fail when their peers go (at the latest after DISTRIBUTED.TIMEOUT_S) and their launchers restart
// them in turn, so every node needs the same MAX_RESTARTS. The ranks meet again at the same
// RUN_ID (torchrun's static rendezvous; there is no elastic membership here).
import type { Outcome } from './supervisor.js';

export interface RestartEvent {
  event: 'restart';
  time: string;
  /** 1 for the first restart. */
  restart: number;
  max_restarts: number;
  /** The rank that failed, and how (`was killed by SIGKILL`, `exited with status 1`). */
  rank: number;
  reason: string;
}

export interface RestartOptions {
  maxRestarts: number;
  /** Starts every worker of this node (restart 0: the first start) and resolves when all have exited. */
  start: (restart: number) => Promise<Outcome>;
  /** The launcher's messages (stderr). */
  report: (line: string) => void;
  /** Told each restart (--json: a line on stdout). */
  event?: (event: RestartEvent) => void;
}

/** Runs the workers until they finish, are stopped, or have failed once more than maxRestarts allows. */
export async function superviseWithRestarts({ maxRestarts, start, report, event }: RestartOptions): Promise<number> {
  for (let restart = 0; ; restart++) {
    const outcome = await start(restart);
    if (outcome.failure === null) return outcome.status;
    if (outcome.restartable === null || restart >= maxRestarts) {
      const after = restart > 0 ? `\n  (after ${restart} restart(s); DISTRIBUTED.MAX_RESTARTS is ${maxRestarts})` : '';
      report(`error: ${outcome.failure}${after}`);
      return outcome.status;
    }
    const { rank, what } = outcome.restartable;
    report(
      `clusterfit launcher: restart ${restart + 1} of ${maxRestarts} after rank ${rank} ${what}: ` +
        'every rank starts again from the last checkpoint',
    );
    event?.({
      event: 'restart',
      time: new Date().toISOString(),
      restart: restart + 1,
      max_restarts: maxRestarts,
      rank,
      reason: what,
    });
  }
}

/** The command option that sets DISTRIBUTED.MAX_RESTARTS (`max_restarts=N`, `--max-restarts N`). */
export const MAX_RESTARTS_OPTION = {
  name: 'max_restarts',
  value: '<N>',
  description: 'restart every worker after one fails, up to N times (config.DISTRIBUTED.MAX_RESTARTS)',
};

/** `max_restarts=N` as the config override it stands for. */
export function maxRestartsOverrides(value: string | undefined): string[] {
  if (value === undefined) return [];
  if (!/^\d+$/.test(value)) {
    throw new Error(`max_restarts=${value}: give how many times the workers may restart, e.g. max_restarts=3`);
  }
  return [`config.DISTRIBUTED.MAX_RESTARTS=${value}`];
}
