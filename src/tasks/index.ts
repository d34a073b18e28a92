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

/** What runConfig returns, by ENGINE_NAME. */
export type TaskResult = TrainResult | ExtractResult | ClusterResult | EvaluateResult | SvmResult;

/** Runs the engine the config names (ENGINE_NAME). */
export async function runConfig(cfg: Config, options: TaskOptions = {}): Promise<TaskResult> {
  try {
    switch (cfg.ENGINE_NAME) {
      case 'train':
        return await trainTask(cfg, options);
      case 'extract_features':
        return await extractTask(cfg, options);
      case 'cluster_features':
        return await clusterTask(cfg, options);
      case 'evaluate':
        return await evaluateTask(cfg, options);
      case 'nearest_neighbor':
        return await evaluateTask(cfg, { ...options, knnOnly: true });
      case 'svm':
        return await svmTask(cfg, options);
      case 'svm_low_shot':
        return await svmTask(cfg, { ...options, lowShot: true });
    }
  } finally {
    releaseRunFolders();
  }
}
