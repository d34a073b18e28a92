// The folder each engine writes to (where startTask puts its config and metrics), for the launcher
// to put the workers' logs next to them.
import type { Config } from '../config/index.js';

export function taskOutputDir(cfg: Config): string {
  switch (cfg.ENGINE_NAME) {
    case 'extract_features':
      return cfg.EXTRACT_FEATURES.OUTPUT_DIR || cfg.CHECKPOINT.DIR;
    case 'cluster_features':
      return cfg.CLUSTERFIT.OUTPUT_DIR;
    case 'train':
    case 'evaluate':
    case 'nearest_neighbor':
    case 'svm':
    case 'svm_low_shot':
      return cfg.CHECKPOINT.DIR;
  }
}

/** The config key that names taskOutputDir's folder, for messages. */
export function taskOutputKey(cfg: Config): string {
  if (cfg.ENGINE_NAME === 'extract_features' && cfg.EXTRACT_FEATURES.OUTPUT_DIR) return 'EXTRACT_FEATURES.OUTPUT_DIR';
  return cfg.ENGINE_NAME === 'cluster_features' ? 'CLUSTERFIT.OUTPUT_DIR' : 'CHECKPOINT.DIR';
}
