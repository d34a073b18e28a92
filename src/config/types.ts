// The typed shape of a loaded config: exactly the tree of configs/defaults.yaml (see the comments
// there for what each key means). A test checks that this interface and the defaults file list the
// same keys. Loaded configs are frozen: a stage that needs a different value takes a copy.
import type { TransformConfig } from '../data/transforms.js';
import type { LrSchedulerConfig, UpdateInterval } from '../engine/lr-schedule.js';
import type { IntervalScaling } from '../torch/optim/lr-scheduler.js';

export type EngineName =
  'train' | 'extract_features' | 'cluster_features' | 'evaluate' | 'nearest_neighbor' | 'svm' | 'svm_low_shot';
export type DataSource = 'disk_folder' | 'disk_filelist' | 'torchvision_dataset';
export type Partition = 'TRAIN' | 'TEST';

export interface DataSplitConfig {
  readonly DATA_SOURCES: DataSource[];
  readonly DATA_PATHS: string[];
  readonly LABEL_SOURCES: DataSource[];
  readonly LABEL_PATHS: string[];
  readonly LABEL_TYPE: 'standard' | 'sample_index' | 'zero';
  readonly DATASET_NAMES: string[];
  readonly BATCHSIZE_PER_REPLICA: number;
  readonly TRANSFORMS: TransformConfig[];
  readonly COLLATE_FUNCTION: 'default_collate';
  readonly DROP_LAST: boolean;
  readonly MMAP_MODE: boolean;
  readonly DATA_LIMIT: number;
  readonly DATA_LIMIT_SAMPLING: {
    readonly SEED: number;
    readonly IS_BALANCED: boolean;
    readonly SKIP_NUM_SAMPLES: number;
  };
  readonly COPY_TO_LOCAL_DISK: boolean;
  readonly COPY_DESTINATION_DIR: string;
  /** VISSL's queue of seen images for unreadable ones: here unreadable images are skipped and counted. */
  readonly ENABLE_QUEUE_DATASET: boolean;
  readonly REMOVE_IMG_PATH_PREFIX: string;
  readonly NEW_IMG_PATH_PREFIX: string;
  /** Ours. */
  readonly SKIP_BAD_IMAGES: boolean;
  /** Ours; 0 = two batches per worker. */
  readonly PREFETCH: number;
}

/** OPTIMIZER.param_schedulers.lr as loaded: every key present (VISSL's defaults fill the rest). */
export interface LrConfig extends LrSchedulerConfig {
  readonly auto_lr_scaling: {
    auto_scale: boolean;
    base_value: number;
    base_lr_batch_size: number;
    scaling_type: 'linear' | 'sqrt';
  };
  readonly update_interval: UpdateInterval;
  readonly values: number[];
  readonly milestones: number[];
  /** Free-form: each a scheduler dict, read by src/engine/lr-schedule.ts. */
  readonly schedulers: LrSchedulerConfig[];
  readonly interval_scaling: IntervalScaling[];
  readonly lengths: number[];
  readonly start_value: number;
  readonly end_value: number;
  readonly value: number;
}

export interface Config {
  readonly ENGINE_NAME: EngineName;
  readonly NODE_ID: number;
  readonly VERBOSE: boolean;
  readonly LOG_FREQUENCY: number;
  readonly TEST_ONLY: boolean;
  readonly TEST_MODEL: boolean;
  readonly TEST_EVERY_NUM_EPOCH: number;
  readonly SEED_VALUE: number;
  readonly MULTI_PROCESSING_METHOD: string;
  readonly HOOKS: {
    readonly PERF_STATS: { readonly MONITOR_PERF_STATS: boolean };
    readonly TENSORBOARD_SETUP: {
      readonly USE_TENSORBOARD: boolean;
      readonly LOG_DIR: string;
      readonly EXPERIMENT_LOG_DIR: string;
      readonly FLUSH_EVERY_N_MIN: number;
      readonly LOG_PARAMS: boolean;
      readonly LOG_PARAMS_GRADIENTS: boolean;
      readonly LOG_PARAMS_EVERY_N_ITERS: number;
    };
  };
  readonly DATA: {
    readonly NUM_DATALOADER_WORKERS: number;
    readonly MAX_IMAGE_PIXELS: number;
    readonly PIN_MEMORY: boolean;
    readonly ENABLE_ASYNC_GPU_COPY: boolean;
    readonly TRAIN: DataSplitConfig;
    readonly TEST: DataSplitConfig;
  };
  readonly METERS: {
    readonly name: '' | 'accuracy_list_meter';
    readonly names: readonly 'accuracy_list_meter'[];
    readonly enable_training_meter: boolean;
    readonly accuracy_list_meter: {
      readonly num_meters: number;
      readonly topk_values: number[];
      readonly meter_names: string[];
    };
  };
  readonly MACHINE: {
    readonly DEVICE: 'gpu' | 'cpu';
    readonly CUDNN_BENCHMARK: boolean;
    readonly ALLOW_TF32_MATMUL: boolean;
    readonly ALLOW_TF32_CONV: boolean;
  };
  readonly MODEL: {
    /** rgb | bgr | lab (colorization models: the trunk sees the L channel of ImgPil2LabTensor's output). */
    readonly INPUT_TYPE: 'rgb' | 'bgr' | 'lab';
    readonly TRUNK: {
      readonly NAME: 'resnet' | 'cifar_resnet';
      readonly RESNETS: {
        readonly DEPTH: number;
        readonly WIDTH_MULTIPLIER: number;
        readonly NORM: 'BatchNorm';
        readonly GROUPS: number;
        readonly WIDTH_PER_GROUP: number;
        readonly ZERO_INIT_RESIDUAL: boolean;
        readonly LAYER4_STRIDE: number;
      };
    };
    readonly HEAD: {
      /** Free-form: [name, kwargs] pairs (or lists of them, one per head), read by src/models. */
      readonly PARAMS: unknown[];
      readonly BATCHNORM_EPS: number;
      readonly BATCHNORM_MOMENTUM: number;
      readonly PARAMS_MULTIPLIER: number;
    };
    readonly WEIGHTS_INIT: {
      readonly PARAMS_FILE: string;
      readonly STATE_DICT_KEY_NAME: string;
      readonly SKIP_LAYERS: string[];
      readonly REMOVE_PREFIX: string;
      readonly APPEND_PREFIX: string;
    };
    readonly FEATURE_EVAL_SETTINGS: {
      readonly EVAL_MODE_ON: boolean;
      readonly FREEZE_TRUNK_ONLY: boolean;
      readonly FREEZE_TRUNK_AND_HEAD: boolean;
      readonly EVAL_TRUNK_AND_HEAD: boolean;
      readonly EXTRACT_TRUNK_FEATURES_ONLY: boolean;
      readonly SHOULD_FLATTEN_FEATS: boolean;
      /** Free-form: [layer, [pool op, args]] pairs, read by src/models. */
      readonly LINEAR_EVAL_FEAT_POOL_OPS_MAP: unknown[];
    };
    readonly SYNC_BN_CONFIG: {
      readonly CONVERT_BN_TO_SYNC_BN: boolean;
      readonly SYNC_BN_TYPE: 'pytorch';
      readonly GROUP_SIZE: number;
    };
    readonly AMP_PARAMS: {
      readonly USE_AMP: boolean;
      readonly AMP_TYPE: 'pytorch' | 'apex';
      /** apex's amp.initialize arguments (free-form; opt_level is the one with a default). */
      readonly AMP_ARGS: { readonly opt_level: string; readonly [option: string]: unknown };
      readonly DTYPE: '' | 'float16' | 'bfloat16';
      readonly USE_AMP_FOR_INFERENCE: boolean;
    };
    /** Ours. */
    readonly CHANNELS_LAST: boolean;
  };
  readonly LOSS: {
    readonly name: 'CrossEntropyLoss' | 'cross_entropy_multiple_output_single_target';
    readonly CrossEntropyLoss: { readonly ignore_index: number };
    readonly cross_entropy_multiple_output_single_target: {
      /** Free-form: per-class weights or null. */
      readonly weight: number[] | null;
      readonly reduction: 'mean' | 'sum' | 'none';
      readonly ignore_index: number;
      readonly normalize_output: boolean;
      readonly temperature: number;
      readonly label_smoothing: number;
    };
  };
  readonly OPTIMIZER: {
    readonly use_larc: boolean;
    readonly larc_config: { readonly clip: boolean; readonly eps: number; readonly trust_coefficient: number };
    readonly name: 'sgd';
    readonly weight_decay: number;
    readonly momentum: number;
    readonly nesterov: boolean;
    readonly num_epochs: number;
    readonly regularize_bn: boolean;
    readonly regularize_bias: boolean;
    readonly head_optimizer_params: {
      readonly use_different_lr: boolean;
      readonly use_different_wd: boolean;
      readonly weight_decay: number;
    };
    readonly param_schedulers: { readonly lr: LrConfig; readonly lr_head: LrConfig };
  };
  readonly TRAINER: { readonly TRAIN_STEP_NAME: 'standard_train_step' };
  readonly EXTRACT_FEATURES: {
    readonly OUTPUT_DIR: string;
    readonly CHUNK_THRESHOLD: number;
    readonly MAP_FEATURES_TO_IMG_NAME: boolean;
  };
  readonly CLUSTERFIT: {
    readonly OUTPUT_DIR: string;
    readonly NUM_ITER: number;
    readonly NUM_CLUSTERS: number;
    readonly DATA_LIMIT: number;
    readonly DATA_LIMIT_SAMPLING: { readonly SEED: number };
    readonly CLUSTER_BACKEND: 'torch' | 'faiss';
    readonly FEATURES: {
      readonly EXTRACT: boolean;
      readonly PATH: string;
      readonly DATA_PARTITION: Partition;
      readonly TEST_PARTITION: Partition | '';
      readonly DATASET_NAME: string;
      readonly LAYER_NAME: string;
      readonly DIMENSIONALITY_REDUCTION: number;
    };
  };
  readonly NEAREST_NEIGHBOR: {
    readonly SIGMA: number;
    /** One k, or a list (kNN once for each). */
    readonly TOPK: number | readonly number[];
    readonly L2_NORM_FEATS: boolean;
    readonly USE_CUDA: boolean;
    readonly OPTIMIZE_MEMORY: boolean;
    readonly FEATURES: { readonly PATH: string };
  };
  readonly SVM: {
    readonly normalize: boolean;
    readonly cls_list: readonly number[];
    readonly loss: 'hinge' | 'squared_hinge';
    readonly penalty: 'l1' | 'l2';
    readonly dual: boolean;
    readonly max_iter: number;
    readonly cross_val_folds: number;
    readonly costs: {
      readonly costs_list: readonly number[];
      readonly base: number;
      readonly power_range: readonly number[];
    };
    readonly force_retrain: boolean;
    readonly low_shot: {
      readonly dataset_name: string;
      readonly sample_inds: readonly number[];
      readonly k_values: readonly number[];
    };
    /** Ours: threads training SVMs in parallel; 0 = one per core. */
    readonly NUM_THREADS: number;
  };
  readonly SVM_FEATURES_PATH: string;
  readonly CHECKPOINT: {
    readonly DIR: string;
    readonly AUTO_RESUME: boolean;
    readonly CHECKPOINT_FREQUENCY: number;
    readonly CHECKPOINT_ITER_FREQUENCY: number;
    readonly OVERWRITE_EXISTING: boolean;
    /** Ours: the newest N model_phase checkpoints are kept; -1 = all (VISSL). */
    readonly KEEP_LAST: number;
  };
  readonly DISTRIBUTED: {
    readonly BACKEND: 'nccl' | 'gloo';
    readonly NCCL_DEBUG: boolean;
    readonly NUM_NODES: number;
    readonly NUM_PROC_PER_NODE: number;
    readonly INIT_METHOD: 'tcp' | 'env' | 'file';
    readonly RUN_ID: string;
    readonly TIMEOUT_S: number;
    /** Ours (torchrun's --max-restarts): times the launcher restarts every worker after one fails. */
    readonly MAX_RESTARTS: number;
  };
}
