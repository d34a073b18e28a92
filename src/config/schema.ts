// The config schema: which keys exist and what type each value has. configs/defaults.yaml is the
// one source of both the keys and the defaults; the types are read off the default values (an
// integer default means an integer key). This module adds what a default value cannot say: which
// subtrees are free-form, the element type of lists whose default is empty, the allowed values of
// enumerated keys, and VISSL's old key names.

export type ScalarKind = 'bool' | 'int' | 'float' | 'string';

/** The numbers a key accepts: [min, max], an end open when marked. */
export interface NumberRange {
  readonly min?: number;
  readonly max?: number;
  readonly minOpen?: boolean;
  readonly maxOpen?: boolean;
}

export type SchemaNode =
  | { kind: ScalarKind; choices?: readonly string[]; range?: NumberRange }
  | { kind: 'list'; element: SchemaNode | null }
  | { kind: 'dict'; children: ReadonlyMap<string, SchemaNode> }
  /** Free-form: any value of the given shape, not looked into (null shape: anything). */
  | { kind: 'free'; shape: 'list' | 'dict' | null };

/**
 * Values read as they are, by the stage that uses them: transform parameters (src/data checks them
 * when the config loads), head and pooling specs (src/models), sub-schedulers of a composite LR
 * schedule (src/engine), the loss' class weights, and dict options with no defaults. A '*' matches
 * any one key.
 */
export const FREE_FORM: readonly string[] = [
  'DATA.*.TRANSFORMS',
  'MODEL.HEAD.PARAMS',
  'MODEL.FEATURE_EVAL_SETTINGS.LINEAR_EVAL_FEAT_POOL_OPS_MAP',
  'OPTIMIZER.param_schedulers.*.schedulers',
  'LOSS.cross_entropy_multiple_output_single_target.weight',
  'MODEL.AMP_PARAMS.AMP_ARGS',
  // An integer or a list of integers (src/tasks/evaluate.ts checks it).
  'NEAREST_NEIGHBOR.TOPK',
];

/** Element types of the lists whose default is empty (and so cannot show one). */
const LIST_ELEMENTS: Readonly<Record<string, ScalarKind>> = {
  'DATA.*.DATA_SOURCES': 'string',
  'DATA.*.DATA_PATHS': 'string',
  'DATA.*.LABEL_SOURCES': 'string',
  'DATA.*.LABEL_PATHS': 'string',
  'METERS.accuracy_list_meter.meter_names': 'string',
  'SVM.cls_list': 'int',
  'METERS.names': 'string',
  'OPTIMIZER.param_schedulers.*.interval_scaling': 'string',
  'OPTIMIZER.param_schedulers.*.lengths': 'float',
};

/** Keys (or list elements) with a fixed set of values: what the stages implement. */
const CHOICES: Readonly<Record<string, readonly string[]>> = {
  ENGINE_NAME: ['train', 'extract_features', 'cluster_features', 'evaluate', 'nearest_neighbor', 'svm', 'svm_low_shot'],
  'SVM.loss': ['hinge', 'squared_hinge'],
  'SVM.penalty': ['l1', 'l2'],
  'DATA.*.DATA_SOURCES': ['disk_folder', 'disk_filelist', 'torchvision_dataset'],
  'DATA.*.LABEL_SOURCES': ['disk_folder', 'disk_filelist', 'torchvision_dataset'],
  'DATA.*.LABEL_TYPE': ['standard', 'sample_index', 'zero'],
  'DATA.*.COLLATE_FUNCTION': ['default_collate'],
  'METERS.name': ['', 'accuracy_list_meter'],
  'METERS.names': ['accuracy_list_meter'],
  'MACHINE.DEVICE': ['gpu', 'cpu'],
  'MODEL.INPUT_TYPE': ['rgb', 'bgr', 'lab'],
  'MODEL.TRUNK.NAME': ['resnet', 'cifar_resnet'],
  'MODEL.TRUNK.RESNETS.NORM': ['BatchNorm'],
  'MODEL.SYNC_BN_CONFIG.SYNC_BN_TYPE': ['pytorch'],
  'LOSS.name': ['CrossEntropyLoss', 'cross_entropy_multiple_output_single_target'],
  'LOSS.cross_entropy_multiple_output_single_target.reduction': ['mean', 'sum', 'none'],
  'OPTIMIZER.name': ['sgd'],
  'OPTIMIZER.param_schedulers.*.name': ['constant', 'linear', 'cosine', 'multistep', 'step', 'composite'],
  'OPTIMIZER.param_schedulers.*.update_interval': ['epoch', 'step'],
  'OPTIMIZER.param_schedulers.*.interval_scaling': ['rescaled', 'fixed'],
  'OPTIMIZER.param_schedulers.*.auto_lr_scaling.scaling_type': ['linear', 'sqrt'],
  'TRAINER.TRAIN_STEP_NAME': ['standard_train_step'],
  'CLUSTERFIT.CLUSTER_BACKEND': ['torch', 'faiss'],
  'CLUSTERFIT.FEATURES.DATA_PARTITION': ['TRAIN', 'TEST'],
  'CLUSTERFIT.FEATURES.TEST_PARTITION': ['', 'TRAIN', 'TEST'],
  'DISTRIBUTED.BACKEND': ['nccl', 'gloo'],
  'MODEL.AMP_PARAMS.AMP_TYPE': ['pytorch', 'apex'],
  'MODEL.AMP_PARAMS.DTYPE': ['', 'float16', 'bfloat16'],
  'DISTRIBUTED.INIT_METHOD': ['tcp', 'env', 'file'],
};

const AT_LEAST_1: NumberRange = { min: 1 };
const NON_NEGATIVE: NumberRange = { min: 0 };
const POSITIVE: NumberRange = { min: 0, minOpen: true };
const ALL_OR_COUNT: NumberRange = { min: -1 }; // -1 means "all"
const FRACTION: NumberRange = { min: 0, max: 1 };

/**
 * Ranges of numeric keys (and list elements), checked when a config loads so a run never trains
 * on a NaN rate or loops over -1 epochs. Every float must also be finite, whatever its range.
 */
const RANGES: Readonly<Record<string, NumberRange>> = {
  LOG_FREQUENCY: AT_LEAST_1,
  TEST_EVERY_NUM_EPOCH: AT_LEAST_1,
  'DATA.NUM_DATALOADER_WORKERS': NON_NEGATIVE,
  'DATA.MAX_IMAGE_PIXELS': AT_LEAST_1,
  'DATA.*.BATCHSIZE_PER_REPLICA': AT_LEAST_1,
  'DATA.*.DATA_LIMIT': ALL_OR_COUNT,
  'DATA.*.DATA_LIMIT_SAMPLING.SKIP_NUM_SAMPLES': NON_NEGATIVE,
  'DATA.*.PREFETCH': NON_NEGATIVE,
  'METERS.accuracy_list_meter.num_meters': AT_LEAST_1,
  'METERS.accuracy_list_meter.topk_values': AT_LEAST_1,
  'MODEL.TRUNK.RESNETS.DEPTH': AT_LEAST_1,
  'MODEL.TRUNK.RESNETS.WIDTH_MULTIPLIER': AT_LEAST_1,
  'MODEL.TRUNK.RESNETS.GROUPS': AT_LEAST_1,
  'MODEL.TRUNK.RESNETS.WIDTH_PER_GROUP': AT_LEAST_1,
  'MODEL.TRUNK.RESNETS.LAYER4_STRIDE': AT_LEAST_1,
  'MODEL.HEAD.BATCHNORM_EPS': POSITIVE,
  'MODEL.HEAD.BATCHNORM_MOMENTUM': FRACTION,
  'MODEL.HEAD.PARAMS_MULTIPLIER': NON_NEGATIVE,
  'LOSS.cross_entropy_multiple_output_single_target.temperature': POSITIVE,
  'LOSS.cross_entropy_multiple_output_single_target.label_smoothing': FRACTION,
  'OPTIMIZER.weight_decay': NON_NEGATIVE,
  'OPTIMIZER.momentum': { min: 0, max: 1, maxOpen: true },
  'OPTIMIZER.num_epochs': AT_LEAST_1,
  'OPTIMIZER.head_optimizer_params.weight_decay': NON_NEGATIVE,
  'OPTIMIZER.param_schedulers.*.auto_lr_scaling.base_value': NON_NEGATIVE,
  'OPTIMIZER.param_schedulers.*.auto_lr_scaling.base_lr_batch_size': AT_LEAST_1,
  'OPTIMIZER.param_schedulers.*.values': NON_NEGATIVE,
  'OPTIMIZER.param_schedulers.*.milestones': NON_NEGATIVE,
  'OPTIMIZER.param_schedulers.*.lengths': POSITIVE,
  'OPTIMIZER.param_schedulers.*.start_value': NON_NEGATIVE,
  'OPTIMIZER.param_schedulers.*.end_value': NON_NEGATIVE,
  'OPTIMIZER.param_schedulers.*.value': NON_NEGATIVE,
  'EXTRACT_FEATURES.CHUNK_THRESHOLD': ALL_OR_COUNT,
  'CLUSTERFIT.NUM_ITER': AT_LEAST_1,
  'CLUSTERFIT.NUM_CLUSTERS': AT_LEAST_1,
  'CLUSTERFIT.DATA_LIMIT': ALL_OR_COUNT,
  'CLUSTERFIT.FEATURES.DIMENSIONALITY_REDUCTION': NON_NEGATIVE,
  'NEAREST_NEIGHBOR.SIGMA': POSITIVE,
  'NEAREST_NEIGHBOR.TOPK': AT_LEAST_1,
  'SVM.cls_list': NON_NEGATIVE,
  'SVM.max_iter': AT_LEAST_1,
  'SVM.cross_val_folds': { min: 2 },
  'SVM.costs.costs_list': POSITIVE,
  'SVM.low_shot.k_values': AT_LEAST_1,
  'SVM.NUM_THREADS': NON_NEGATIVE,
  'CHECKPOINT.CHECKPOINT_FREQUENCY': AT_LEAST_1,
  'CHECKPOINT.CHECKPOINT_ITER_FREQUENCY': ALL_OR_COUNT,
  'DISTRIBUTED.NUM_NODES': AT_LEAST_1,
  'DISTRIBUTED.NUM_PROC_PER_NODE': AT_LEAST_1,
  'DISTRIBUTED.MAX_RESTARTS': NON_NEGATIVE,
};

/** Why `value` is outside `range`, or null when it is inside (and finite). */
export function outOfRange(value: number, range: NumberRange | undefined): string | null {
  if (!Number.isFinite(value)) return 'must be a finite number';
  if (!range) return null;
  const { min, max, minOpen, maxOpen } = range;
  const belowMin = min !== undefined && (minOpen ? value <= min : value < min);
  const aboveMax = max !== undefined && (maxOpen ? value >= max : value > max);
  if (!belowMin && !aboveMax) return null;
  const low = min === undefined ? '' : `${minOpen ? '>' : '>='} ${min}`;
  const high = max === undefined ? '' : `${maxOpen ? '<' : '<='} ${max}`;
  return `must be ${[low, high].filter((s) => s !== '').join(' and ')}`;
}

export interface OldName {
  /** Dotted path as older VISSL versions (or their docs) spell it. */
  readonly old: string;
  /** Where the value goes now. */
  readonly current: string;
  readonly why: string;
}

/** VISSL's renamed keys; a config using the old name still loads, with a warning naming the new key. */
export const OLD_NAMES: readonly OldName[] = [
  { old: 'CLUSTERFIT.N_ITER', current: 'CLUSTERFIT.NUM_ITER', why: 'renamed in VISSL #166' },
  {
    old: 'MODEL.TRUNK.TRUNK_PARAMS.RESNETS',
    current: 'MODEL.TRUNK.RESNETS',
    why: 'TRUNK_PARAMS was dropped from VISSL configs',
  },
  {
    old: 'METERS.accuracy_list.num_list',
    current: 'METERS.accuracy_list_meter.num_meters',
    why: 'renamed in VISSL',
  },
  {
    old: 'METERS.accuracy_list.topk',
    current: 'METERS.accuracy_list_meter.topk_values',
    why: 'renamed in VISSL',
  },
  {
    old: 'MONITOR_PERF_STATS',
    current: 'HOOKS.PERF_STATS.MONITOR_PERF_STATS',
    why: 'moved under HOOKS in VISSL',
  },
  {
    old: 'LOSS.ignore_index',
    current: 'LOSS.cross_entropy_multiple_output_single_target.ignore_index',
    why: "VISSL's RotNet config puts it at this level, where VISSL never reads it",
  },
];

function matches(pattern: string, path: string): boolean {
  const [p, q] = [pattern.split('.'), path.split('.')];
  return p.length === q.length && p.every((part, i) => part === '*' || part === q[i]);
}

function lookup<T>(table: Readonly<Record<string, T>>, path: string): T | undefined {
  const key = Object.keys(table).find((pattern) => matches(pattern, path));
  return key === undefined ? undefined : table[key];
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function scalarNode(kind: ScalarKind, path: string): SchemaNode {
  const choices = lookup(CHOICES, path);
  const range = kind === 'int' || kind === 'float' ? lookup(RANGES, path) : undefined;
  return { kind, ...(choices ? { choices } : {}), ...(range ? { range } : {}) };
}

function kindOf(value: unknown, path: string): ScalarKind {
  switch (typeof value) {
    case 'bigint':
      return 'int';
    case 'number':
      return 'float';
    case 'boolean':
      return 'bool';
    case 'string':
      return 'string';
    default:
      throw new Error(`configs/defaults.yaml: ${path} has a default of unsupported type (${JSON.stringify(value)})`);
  }
}

/**
 * The schema of a defaults tree parsed with integers as bigints (so 1 and 1.0 differ).
 * Throws when a list default is empty and neither free-form nor given an element type.
 */
export function buildSchema(value: unknown, path = ''): SchemaNode {
  if (path !== '' && FREE_FORM.some((pattern) => matches(pattern, path))) {
    return { kind: 'free', shape: Array.isArray(value) ? 'list' : isPlainObject(value) ? 'dict' : null };
  }
  if (value === null) return { kind: 'free', shape: null };
  if (Array.isArray(value)) {
    const declared = lookup(LIST_ELEMENTS, path);
    if (declared) return { kind: 'list', element: scalarNode(declared, path) };
    if (value.length === 0)
      throw new Error(`configs/defaults.yaml: ${path} is an empty list; declare it free-form or give its element type`);
    const kinds = new Set(value.map((v) => kindOf(v, path)));
    // A list of integers and floats is a list of floats.
    if (kinds.has('int') && kinds.has('float')) kinds.delete('int');
    if (kinds.size !== 1) throw new Error(`configs/defaults.yaml: ${path} mixes element types`);
    return { kind: 'list', element: scalarNode([...kinds][0]!, path) };
  }
  if (isPlainObject(value)) {
    if (Object.keys(value).length === 0) return { kind: 'free', shape: 'dict' };
    const children = new Map<string, SchemaNode>();
    for (const [key, child] of Object.entries(value)) {
      children.set(key, buildSchema(child, path === '' ? key : `${path}.${key}`));
    }
    return { kind: 'dict', children };
  }
  return scalarNode(kindOf(value, path), path);
}

/** Every dotted key path the schema knows (dicts and leaves), for suggestions. */
export function allPaths(node: SchemaNode, prefix = ''): string[] {
  if (node.kind !== 'dict') return [];
  return [...node.children].flatMap(([key, child]) => {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    return [path, ...allPaths(child, path)];
  });
}
