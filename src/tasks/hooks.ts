// The training hooks a config asks for (HOOKS.*), built for one training stage.
import { isAbsolute, join, resolve } from 'node:path';
import type { Config } from '../config/index.js';
import { isMainRank } from '../engine/distributed/ranks.js';
import type { TrainerHook } from '../engine/hooks.js';
import { TensorBoardHook } from '../engine/tensorboard/index.js';

/**
 * Where HOOKS.TENSORBOARD_SETUP puts event files: CHECKPOINT.DIR/tb_logs as VISSL does (VISSL reads
 * LOG_DIR and EXPERIMENT_LOG_DIR but never uses them), or LOG_DIR/EXPERIMENT_LOG_DIR when either is
 * changed from its default, relative to the checkpoint folder.
 */
export function tensorBoardDir(cfg: Config, checkpointDir: string): string {
  const tb = cfg.HOOKS.TENSORBOARD_SETUP;
  if (tb.LOG_DIR === '.' && tb.EXPERIMENT_LOG_DIR === 'tensorboard') return join(checkpointDir, 'tb_logs');
  const base = isAbsolute(tb.LOG_DIR) ? tb.LOG_DIR : resolve(checkpointDir, tb.LOG_DIR);
  return resolve(base, tb.EXPERIMENT_LOG_DIR);
}

export function trainerHooks(cfg: Config, checkpointDir: string): TrainerHook[] {
  const tb = cfg.HOOKS.TENSORBOARD_SETUP;
  // Rank 0 writes the run's event files, as it writes its metrics and checkpoints.
  if (!tb.USE_TENSORBOARD || !isMainRank()) return [];
  if (!(tb.FLUSH_EVERY_N_MIN > 0)) {
    throw new Error(
      `HOOKS.TENSORBOARD_SETUP.FLUSH_EVERY_N_MIN is ${tb.FLUSH_EVERY_N_MIN}: it must be > 0 (minutes between writes)`,
    );
  }
  return [
    new TensorBoardHook({
      dir: tensorBoardDir(cfg, checkpointDir),
      flushEveryNMin: tb.FLUSH_EVERY_N_MIN,
      logParams: tb.LOG_PARAMS,
      logParamsEveryNIters: tb.LOG_PARAMS_EVERY_N_ITERS,
      logParamsGradients: tb.LOG_PARAMS_GRADIENTS,
      logFrequency: cfg.LOG_FREQUENCY,
    }),
  ];
}
