// VISSL's learning-rate configuration (OPTIMIZER.param_schedulers.lr) turned into a schedule,
// reproducing vissl/utils/hydra_config.py (infer_learning_rate -> get_scaled_lr_scheduler ->
// resolve_linear_schedule) and ClassyVision's scheduler construction, quirks included:
// - auto scaling: scaled_lr = base_value x (batch per replica x world size / base_lr_batch_size),
//   square-rooted for scaling_type 'sqrt';
// - multistep/step values become round(scaled_lr x gamma^i, 8), gamma = round(values[1]/values[0], 6);
// - cosine starts at scaled_lr and keeps its end/start ratio; linear and constant end at scaled_lr;
// - in a composite, a linear part's start_value is overwritten by base_value x (batch per *node* /
//   base_lr_batch_size), so the configured start is never used; on one node, a linear part with
//   start <= end is deleted (no warmup), and a composite left with one part becomes that part;
// - num_epochs (OPTIMIZER.num_epochs) reaches every part of a composite, so a 'fixed' multistep
//   part counts its milestones in global epochs.
import {
  compositeSchedule,
  constantSchedule,
  cosineSchedule,
  linearSchedule,
  multiStepSchedule,
  stepSchedule,
  type IntervalScaling,
  type ParamSchedule,
} from '../torch/optim/lr-scheduler.js';

export type UpdateInterval = 'epoch' | 'step';

/** A scheduler config as VISSL's YAML writes it (snake_case keys). */
export interface SchedulerConfig {
  name: 'constant' | 'linear' | 'cosine' | 'multistep' | 'step' | 'composite';
  value?: number;
  start_value?: number;
  end_value?: number;
  values?: number[];
  milestones?: number[];
  schedulers?: SchedulerConfig[];
  lengths?: number[];
  interval_scaling?: IntervalScaling[];
  update_interval?: UpdateInterval;
}

export interface LrSchedulerConfig extends SchedulerConfig {
  auto_lr_scaling?: {
    auto_scale: boolean;
    base_value: number;
    base_lr_batch_size: number;
    scaling_type?: 'linear' | 'sqrt';
  };
}

/** The run facts the LR rules depend on (DISTRIBUTED.*, DATA.TRAIN.BATCHSIZE_PER_REPLICA, OPTIMIZER.num_epochs). */
export interface RunSetup {
  numNodes: number;
  numProcPerNode: number;
  batchSizePerReplica: number;
  numEpochs: number;
}

/**
 * The config VISSL trains with after infer_learning_rate: a new object, the input is unchanged.
 * Without auto_lr_scaling.auto_scale the config is used as written.
 */
export function inferLearningRate(config: LrSchedulerConfig, setup: RunSetup): LrSchedulerConfig {
  const resolved = structuredClone(config);
  const scaling = resolved.auto_lr_scaling;
  if (!scaling?.auto_scale) return resolved;
  const scalingType = scaling.scaling_type ?? 'linear';
  if (scalingType !== 'linear' && scalingType !== 'sqrt') {
    throw new Error(`auto_lr_scaling.scaling_type must be 'linear' or 'sqrt', got '${String(scalingType)}'`);
  }
  const worldSize = setup.numNodes * setup.numProcPerNode;
  const factor = (setup.batchSizePerReplica * worldSize) / scaling.base_lr_batch_size;
  const scaledLr = scaling.base_value * (scalingType === 'sqrt' ? Math.sqrt(factor) : factor);
  scaleScheduler(resolved, scaledLr, resolved, setup);
  return resolved;
}

/** get_scaled_lr_scheduler: rewrites `config` in place for the scaled LR. */
function scaleScheduler(config: SchedulerConfig, scaledLr: number, root: LrSchedulerConfig, setup: RunSetup): void {
  switch (config.name) {
    case 'cosine': {
      const decay = required(config, 'end_value') / required(config, 'start_value');
      config.start_value = scaledLr;
      config.end_value = scaledLr * decay;
      return;
    }
    case 'multistep':
    case 'step': {
      const values = required(config, 'values');
      const gamma = values.length > 1 ? roundTo(values[1]! / values[0]!, 6) : 1;
      config.values = values.map((_, i) => roundTo(scaledLr * gamma ** i, 8));
      return;
    }
    case 'linear':
      config.end_value = scaledLr;
      return;
    case 'constant':
      config.value = scaledLr;
      return;
    case 'composite': {
      const parts = required(config, 'schedulers');
      for (const part of parts) scaleScheduler(part, scaledLr, root, setup);
      if (parts.some((part) => part.name === 'linear')) resolveLinearSchedule(config, root, setup);
      return;
    }
    default:
      throw new Error(`unknown param scheduler '${String((config as SchedulerConfig).name)}'`);
  }
}

/** resolve_linear_schedule: the warmup rule (https://arxiv.org/abs/1706.02677) as VISSL applies it. */
function resolveLinearSchedule(composite: SchedulerConfig, root: LrSchedulerConfig, setup: RunSetup): void {
  const { base_value, base_lr_batch_size } = root.auto_lr_scaling!;
  // VISSL uses the batch per node here, not the global batch (its own TODO asks why).
  const startValue = base_value * ((setup.batchSizePerReplica * setup.numProcPerNode) / base_lr_batch_size);
  const parts = composite.schedulers!;
  let removed = -1;
  parts.forEach((part, i) => {
    if (part.name !== 'linear') return;
    part.start_value = startValue;
    if (setup.numNodes === 1 && startValue <= required(part, 'end_value')) removed = i;
  });
  // Only the schedulers list loses the warmup; lengths and interval_scaling keep theirs, as in VISSL.
  if (removed >= 0) parts.splice(removed, 1);
  if (parts.length === 1) Object.assign(composite, parts[0]);
}

/** ClassyVision's default update interval per scheduler, used where the config names none. */
const DEFAULT_UPDATE_INTERVAL: Record<SchedulerConfig['name'], UpdateInterval> = {
  constant: 'epoch',
  multistep: 'epoch',
  step: 'epoch',
  linear: 'step',
  cosine: 'step',
  composite: 'step',
};

/** build_param_scheduler for a resolved config, with num_epochs as ClassyVision passes it. */
export function buildParamSchedule(config: SchedulerConfig, numEpochs: number): ParamSchedule {
  switch (config.name) {
    case 'constant':
      return constantSchedule(required(config, 'value'));
    case 'linear':
      return linearSchedule(required(config, 'start_value'), required(config, 'end_value'));
    case 'cosine':
      return cosineSchedule(required(config, 'start_value'), required(config, 'end_value'));
    case 'step':
      return stepSchedule(required(config, 'values'));
    case 'multistep':
      return multiStepSchedule({
        numEpochs,
        ...reachableSteps(required(config, 'values'), config.milestones, numEpochs),
      });
    case 'composite':
      return compositeSchedule({
        schedules: required(config, 'schedulers').map((part) => buildParamSchedule(part, numEpochs)),
        lengths: required(config, 'lengths'),
        intervalScaling: config.interval_scaling,
      });
    default:
      throw new Error(`unknown param scheduler '${String((config as SchedulerConfig).name)}'`);
  }
}

/**
 * The multistep values a run of `numEpochs` reaches. ClassyVision refuses milestones at or past
 * the end of training; a shortened run (`num_epochs=1` on a 105-epoch config, to try a config
 * out) should instead train with the values it reaches, so later milestones are dropped.
 */
function reachableSteps(
  values: number[],
  milestones: number[] | undefined,
  numEpochs: number,
): { values: number[]; milestones?: number[] } {
  if (milestones === undefined) return { values };
  const reached = milestones.filter((m) => m < numEpochs).length;
  if (reached === milestones.length || reached !== milestones.findIndex((m) => m >= numEpochs)) {
    return { values, milestones };
  }
  return { values: values.slice(0, reached + 1), milestones: milestones.slice(0, reached) };
}

/** Where training is: an epoch and, for per-step updates, the iteration inside it. */
export interface Progress {
  epoch: number;
  iteration?: number;
  iterationsPerEpoch?: number;
}

/** The LR VISSL uses at any point of a run, from its config and the run setup. */
export class VisslLrSchedule {
  /** The config after VISSL's inference (what VISSL would log as the effective schedule). */
  readonly resolved: LrSchedulerConfig;
  readonly updateInterval: UpdateInterval;
  readonly #schedule: ParamSchedule;
  readonly #numEpochs: number;

  constructor(config: LrSchedulerConfig, setup: RunSetup) {
    this.resolved = inferLearningRate(config, setup);
    this.updateInterval = this.resolved.update_interval ?? DEFAULT_UPDATE_INTERVAL[this.resolved.name];
    this.#schedule = buildParamSchedule(this.resolved, setup.numEpochs);
    this.#numEpochs = setup.numEpochs;
  }

  /**
   * The LR for a training step. 'epoch' schedules change at epoch starts only (where = epoch /
   * numEpochs); 'step' schedules at every iteration (where = iterations done / total iterations).
   */
  lrAt({ epoch, iteration = 0, iterationsPerEpoch = 1 }: Progress): number {
    const where =
      this.updateInterval === 'epoch'
        ? epoch / this.#numEpochs
        : (epoch * iterationsPerEpoch + iteration) / (this.#numEpochs * iterationsPerEpoch);
    return this.#schedule(where);
  }
}

function required<K extends keyof SchedulerConfig>(config: SchedulerConfig, key: K): NonNullable<SchedulerConfig[K]> {
  const value = config[key];
  if (value === undefined || value === null) throw new Error(`param scheduler '${config.name}' needs '${key}'`);
  return value as NonNullable<SchedulerConfig[K]>;
}

/** Python's round(x, digits) for the values VISSL rounds (ties, rare in binary, may differ). */
function roundTo(x: number, digits: number): number {
  return Number(x.toFixed(digits));
}
