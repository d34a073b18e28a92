// clusterfit/engine: the training loop, checkpoints in VISSL's layout, LR schedules and parameter
// groups as VISSL computes them, losses, meters, evaluation on frozen features, logging.
export { train, type TrainerOptions, type TrainPosition, type TrainSummary, type EpochMetrics } from './trainer.js';
export {
  saveTrainingCheckpoint,
  loadTrainingCheckpoint,
  findResumeCheckpoint,
  convertToTorchvision,
  checkpointFileName,
  LATEST_POINTER,
  type TrainingState,
  type TrainingCheckpoint,
} from './checkpoint.js';
export {
  VisslLrSchedule,
  inferLearningRate,
  buildParamSchedule,
  type LrSchedulerConfig,
  type RunSetup,
} from './lr-schedule.js';
export { visslParamGroups, type RegularizationOptions } from './param-groups.js';
export { buildLoss, type LossFunction } from './loss.js';
export { AccuracyMeter } from './meters.js';
export { linearProbe, visslLinearProtocolLr, type LabelledFeatures, type ProbeResult } from './linear-probe.js';
export { knnAccuracy, type KnnOptions } from './knn.js';
export {
  FeatureShardWriter,
  findFeatureShards,
  loadFeatures,
  type FeatureShard,
  type LoadedFeatures,
} from './feature-files.js';
export { RunLogger, formatDuration, type RunLoggerOptions } from './run-logger.js';
export { stopOnSignals, NEVER_STOP, type StopSignal, type StopHandler } from './stop-signal.js';
// Types the API above names, so the reference documents them too.
export type { TrainerHook, StepInfo, EpochInfo } from './hooks.js';
export type { MixedPrecision } from './train-step.js';
export type { SaveCheckpoint, EpochState } from './trainer.js';
export type { LinearProbeOptions } from './linear-probe.js';
export type { LoadFeaturesOptions } from './feature-files.js';
export type { SchedulerConfig, UpdateInterval, Progress } from './lr-schedule.js';
