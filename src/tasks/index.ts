// clusterfit/tasks: the pipeline stages, each a function from a loaded config to files on disk.
import type { Config } from '../config/index.js';
import { releaseRunFolders } from '../engine/run-lock.js';
import type { TaskOptions } from './context.js';
import { clusterTask } from './cluster.js';
import { evaluateTask } from './evaluate.js';
import { svmTask, type SvmResult } from './svm.js';
import { extractTask } from './extract.js';
import { trainTask, type TrainResult } from './train.js';
import type { ExtractResult } from './extract.js';
import type { ClusterResult } from './cluster.js';
import type { EvaluateResult } from './evaluate.js';

export { trainTask, type TrainResult } from './train.js';
export { extractTask, type ExtractResult, type ExtractOptions } from './extract.js';
export {
  clusterTask,
  clusterStats,
  type ClusterResult,
  type ClusterSplitResult,
  type ClusterStats,
} from './cluster.js';
export { evaluateTask, formatScores, type EvaluateOptions, type EvaluateResult, type LayerScores } from './evaluate.js';
export { svmTask, svmLayers, type SvmResult } from './svm.js';
export { runPipeline, PIPELINE_PRESETS, type PipelineOptions, type PipelineResult } from './pipeline.js';
export { assignTask, type AssignOptions, type AssignResult } from './assign.js';
export { runStatus, formatStatus, type StageStatus, type StageState } from './status.js';
export type { TaskOptions } from './context.js';
export type { ProgressEvent } from '../engine/run-logger.js';

/** What runConfig returns: the task's result, with `kind` (the ENGINE_NAME that ran) to tell them apart. */
export type TaskResult =
  | ({ kind: 'train' } & TrainResult)
  | ({ kind: 'extract_features' } & ExtractResult)
  | ({ kind: 'cluster_features' } & ClusterResult)
  | ({ kind: 'evaluate' | 'nearest_neighbor' } & EvaluateResult)
  | ({ kind: 'svm' | 'svm_low_shot' } & SvmResult);

/**
 * Runs the engine the config names (ENGINE_NAME), as `clusterfit run` does; `result.kind` says
 * which, e.g. `if (result.kind === 'train' && !result.completed)` for a stopped training.
 */
export async function runConfig(cfg: Config, options: TaskOptions = {}): Promise<TaskResult> {
  try {
    switch (cfg.ENGINE_NAME) {
      case 'train':
        return { kind: 'train', ...(await trainTask(cfg, options)) };
      case 'extract_features':
        return { kind: 'extract_features', ...(await extractTask(cfg, options)) };
      case 'cluster_features':
        return { kind: 'cluster_features', ...(await clusterTask(cfg, options)) };
      case 'evaluate':
        return { kind: 'evaluate', ...(await evaluateTask(cfg, options)) };
      case 'nearest_neighbor':
        return { kind: 'nearest_neighbor', ...(await evaluateTask(cfg, { ...options, knnOnly: true })) };
      case 'svm':
        return { kind: 'svm', ...(await svmTask(cfg, options)) };
      case 'svm_low_shot':
        return { kind: 'svm_low_shot', ...(await svmTask(cfg, { ...options, lowShot: true })) };
    }
  } finally {
    releaseRunFolders();
  }
}
// Types the API above names, so the reference documents them too.
export type { StageOutcome } from './stage-state.js';
export { PIPELINE_STAGES, type PipelineStage } from './pipeline-presets.js';
export type { SvmLayerResult } from '../engine/svm/svm-trainer.js';
export type { LowShotLayerResult, LowShotStats } from '../engine/svm/low-shot.js';
