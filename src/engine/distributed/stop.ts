// Ctrl-C across ranks: each rank's signal handler only sets its own flag, and the ranks must stop
// at the same step or the ones still training block in their next collective. So every step each
// rank contributes its flag to a one-element MAX all-reduce, and all of them see the same answer.
import { anyRank, worldSize } from './ranks.js';
import type { StopSignal } from '../stop-signal.js';

/** A stop signal whose `requested` changes only in `agree()`, to the same value on every rank. */
export function agreedStop(local: StopSignal | undefined): StopSignal | undefined {
  if (worldSize() === 1) return local;
  let agreed = false;
  return {
    get requested() {
      return agreed;
    },
    agree() {
      agreed ||= anyRank(local?.requested ?? false);
    },
  };
}
