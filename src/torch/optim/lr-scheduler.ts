// Parameter schedules as pure functions of training progress, with the semantics of fvcore's and
// ClassyVision's ParamScheduler (which VISSL uses): a schedule maps `where`, the fraction of
// training done, in [0, 1], to a value. Nothing here knows about epochs except MultiStep, whose
// milestones are epochs out of `numEpochs`, exactly as ClassyVision's MultiStepParamScheduler.

/** A parameter's value as a function of the fraction of training done. */
export type ParamSchedule = (where: number) => number;

/** fvcore's WHERE_EPSILON: guards epoch boundaries against rounding in where = epoch / numEpochs. */
export const WHERE_EPSILON = 1e-6;

function checkWhere(where: number): void {
  if (!(where >= 0 && where <= 1)) throw new RangeError(`a schedule is defined for where in [0, 1], got ${where}`);
}

export function constantSchedule(value: number): ParamSchedule {
  return (where) => {
    checkWhere(where);
    return value;
  };
}

/** From startValue at where = 0 to endValue at where = 1. */
export function linearSchedule(startValue: number, endValue: number): ParamSchedule {
  return (where) => {
    checkWhere(where);
    return endValue * where + startValue * (1 - where);
  };
}

/** Half a cosine from startValue (where = 0) to endValue (where = 1). */
export function cosineSchedule(startValue: number, endValue: number): ParamSchedule {
  return (where) => {
    checkWhere(where);
    return endValue + 0.5 * (startValue - endValue) * (1 + Math.cos(Math.PI * where));
  };
}

/** The values in equal parts of training: values[floor(where x values.length)]. */
export function stepSchedule(values: number[]): ParamSchedule {
  if (values.length === 0) throw new Error('a step schedule needs at least one value');
  return (where) => {
    checkWhere(where);
    return values[Math.min(Math.floor((where + WHERE_EPSILON) * values.length), values.length - 1)]!;
  };
}

export interface MultiStepOptions {
  values: number[];
  numEpochs: number;
  /** Epochs at which the next value starts; default: equally spaced, ceil(numEpochs / values). */
  milestones?: number[];
}

/** values[i] from milestone i-1 (inclusive) to milestone i (exclusive), at epoch floor(where x numEpochs). */
export function multiStepSchedule({ values, numEpochs, milestones }: MultiStepOptions): ParamSchedule {
  if (values.length === 0) throw new Error('a multistep schedule needs at least one value');
  if (!Number.isInteger(numEpochs) || numEpochs < values.length) {
    throw new Error(`a multistep schedule needs an integral numEpochs >= the number of values (got ${numEpochs})`);
  }
  const width = Math.ceil(numEpochs / values.length);
  const steps = milestones ?? values.slice(1).map((_, i) => width * (i + 1));
  if (steps.length !== values.length - 1) {
    throw new Error(
      `a multistep schedule with ${values.length} values needs ${values.length - 1} milestones, got ${steps.length}`,
    );
  }
  steps.forEach((milestone, i) => {
    const previous = i === 0 ? 0 : steps[i - 1]!;
    if (!(milestone > previous && milestone < numEpochs)) {
      throw new Error(
        `multistep milestones must increase strictly within (0, ${numEpochs}): got [${steps.join(', ')}]`,
      );
    }
  });
  return (where) => {
    checkWhere(where);
    const epoch = Math.floor((where + WHERE_EPSILON) * numEpochs);
    // bisect_right: the number of milestones <= epoch.
    return values[steps.filter((milestone) => milestone <= epoch).length]!;
  };
}

/** 'rescaled' runs a part as if it were the whole schedule; 'fixed' gives it the global where. */
export type IntervalScaling = 'rescaled' | 'fixed';

export interface CompositeOptions {
  schedules: ParamSchedule[];
  /** Fractions of training, summing to 1 (within 1e-3; the last absorbs the difference). */
  lengths: number[];
  /** Per part; default all 'rescaled'. */
  intervalScaling?: IntervalScaling[];
}

/** The parts one after another, as ClassyVision's CompositeParamScheduler. */
export function compositeSchedule({ schedules, lengths, intervalScaling }: CompositeOptions): ParamSchedule {
  const scaling = intervalScaling ?? schedules.map((): IntervalScaling => 'rescaled');
  if (schedules.length === 0) throw new Error('a composite schedule needs at least one part');
  if (lengths.length !== schedules.length || scaling.length !== schedules.length) {
    throw new Error('a composite schedule needs as many lengths and interval scalings as schedules');
  }
  const total = lengths.reduce((a, b) => a + b, 0);
  if (Math.abs(total - 1) >= 1e-3) throw new Error(`the lengths of a composite schedule must sum to 1, got ${total}`);
  const parts = [...lengths.slice(0, -1), 1 - lengths.slice(0, -1).reduce((a, b) => a + b, 0)];
  return (where) => {
    checkWhere(where);
    let i = 0;
    let start = 0;
    while (where + WHERE_EPSILON > start + parts[i]! && i < parts.length - 1) start += parts[i++]!;
    // Within WHERE_EPSILON before a boundary, the next part already runs: clamp its local where.
    const local = Math.min(1, Math.max(0, (where - start) / parts[i]!));
    return schedules[i]!(scaling[i] === 'rescaled' ? local : where);
  };
}
