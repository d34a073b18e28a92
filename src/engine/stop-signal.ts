// Ctrl-C as a request, not a kill: the first SIGINT (or SIGTERM, as a scheduler sends) asks the
// running loop to stop at the next step boundary, where it checkpoints; a second one exits at once.
export interface StopSignal {
  readonly requested: boolean;
  /** Called by a loop once per step, at the same step on every rank: makes `requested` agree across
   * ranks (see distributed/stop.ts). Absent in a single process. */
  agree?(): void;
}

export interface StopHandler extends StopSignal {
  /** Removes the signal handlers. */
  dispose(): void;
}

export function stopOnSignals(onFirst: (signal: string) => void = () => {}): StopHandler {
  let requested = false;
  const handle = (signal: NodeJS.Signals): void => {
    if (requested) process.exit(signal === 'SIGINT' ? 130 : 143);
    requested = true;
    onFirst(signal);
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
  return {
    get requested() {
      return requested;
    },
    dispose() {
      process.off('SIGINT', handle);
      process.off('SIGTERM', handle);
    },
  };
}

/** A stop signal that is never raised (library use without signal handling). */
export const NEVER_STOP: StopSignal = { requested: false };

/**
 * Thrown by work that cannot checkpoint mid-way (feature extraction) when a stop is requested: a
 * stop, not a failure (the stage is recorded as stopped, and the command exits with 130).
 */
export class StopRequested extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StopRequested';
  }
}
