// The `train` engine: RotNet pretraining (rotation labels from the ImgRotatePil transform),
// ClusterFit training (cluster ids from LABEL_PATHS) and VISSL's linear evaluation (heads on a
// frozen trunk) are all this one loop, as in VISSL; the config decides which.
//
// Resuming follows VISSL's AUTO_RESUME (the final checkpoint if there is one, else the newest
// complete phase) with one addition: a run stopped with Ctrl-C resumes at the exact step it
// reached, because the loader can replay an epoch from any step.
import type { Config } from '../config/index.js';
import { lrRunSetup } from '../config/index.js';
import {
  findResumeCheckpoint,
  loadTrainingCheckpoint,
  pruneCheckpoints,
  saveTrainingCheckpoint,
  type TrainingCheckpoint,
} from '../engine/checkpoint.js';
import { buildLoss, type CrossEntropyLossConfig } from '../engine/loss.js';
import { VisslLrSchedule } from '../engine/lr-schedule.js';
import { visslParamGroups } from '../engine/param-groups.js';
import { worldSize } from '../engine/distributed/ranks.js';
import { agreedStop } from '../engine/distributed/stop.js';
import { replicate, resumeStep, writeOnMainRank } from '../engine/distributed/train.js';
import { train, type EpochState, type TrainPosition, type TrainSummary } from '../engine/trainer.js';
import type { Dataset } from '../data/index.js';
import type { SSLModel } from '../models/index.js';
import { LarcSGD, SGD } from '../torch/optim/index.js';
import { startTask, type TaskContext, type TaskOptions } from './context.js';
import { datasetFromConfig, loaderFromConfig } from './data.js';
import { trainerHooks } from './hooks.js';
import { applyTrunkFreezing, initWeightsFromConfig, modelFromConfig } from './model.js';
import {
  mixedPrecisionForInference,
  mixedPrecisionForTraining,
  restoreScaler,
  scalerCheckpointFields,
} from './mixed-precision.js';

export interface TrainResult extends TrainSummary {
  /** The checkpoint the run ended with (the final one when completed). */
  checkpoint: string | null;
  /** The run was already complete: nothing was trained. */
  alreadyComplete: boolean;
}

const FINAL_CHECKPOINT = /model_final_checkpoint_phase\d+\.torch$/;

/** Where training resumes, and the checkpoint to restore, from a (not final) checkpoint. */
function resumePoint(
  path: string,
  logger: TaskContext['logger'],
): { checkpoint: TrainingCheckpoint; position: TrainPosition } {
  const checkpoint = loadTrainingCheckpoint(path);
  const next = checkpoint.extra.next_epoch;
  const step = checkpoint.extra.step;
  const savedWorld = typeof checkpoint.extra.world_size === 'number' ? checkpoint.extra.world_size : 1;
  const position: TrainPosition = {
    epoch: typeof next === 'number' ? next : checkpoint.epoch + 1,
    step: resumeStep(typeof step === 'number' ? step : 0, savedWorld, worldSize()),
    iteration: checkpoint.iteration,
    epochState: epochStateOf(checkpoint.extra.epoch_state),
  };
  logger.info(
    `resuming from ${path} at epoch ${position.epoch + 1}, step ${position.step}` +
      (savedWorld !== worldSize() ? ` (written by ${savedWorld} rank(s), resumed on ${worldSize()})` : ''),
  );
  return { checkpoint, position };
}

/** The checkpoint's weights into the model; a checkpoint of another model says which and what to do. */
function loadResumedModel(model: SSLModel, checkpoint: TrainingCheckpoint, path: string, cfg: Config): void {
  try {
    model.loadStateDict(checkpoint.model);
  } catch (error) {
    throw new Error(
      `cannot resume from ${path}: it holds another model than the config's ${cfg.MODEL.TRUNK.NAME}-${cfg.MODEL.TRUNK.RESNETS.DEPTH} ` +
        `with its heads (${(error as Error).message.split('\n').slice(0, 4).join('; ')}); point config.CHECKPOINT.DIR at a new ` +
        'folder, or set CHECKPOINT.AUTO_RESUME=False to start from scratch',
    );
  }
}

/** The running sums of the epoch a checkpoint stopped in, when it holds them (older files do not). */
function epochStateOf(value: unknown): EpochState | undefined {
  const state = value as Partial<EpochState> | undefined;
  const numbers = (list: unknown) => Array.isArray(list) && list.every((n) => typeof n === 'number');
  if (
    typeof state?.lossSum !== 'number' ||
    typeof state.steps !== 'number' ||
    !Array.isArray(state.meters) ||
    !state.meters.every(numbers)
  )
    return undefined;
  return { lossSum: state.lossSum, steps: state.steps, meters: state.meters };
}

/** libtorch's "Target 12 is out of bounds" as a message naming where the labels came from. */
function explainBadLabels(error: unknown, cfg: Config): unknown {
  const target = /Target (-?\d+) is out of bounds/.exec((error as Error).message ?? '');
  if (!target) return error;
  const labelFile = cfg.DATA.TRAIN.LABEL_SOURCES[0] === 'disk_filelist' ? cfg.DATA.TRAIN.LABEL_PATHS[0] : undefined;
  const source = labelFile
    ? `DATA.TRAIN.LABEL_PATHS: ${labelFile}`
    : `DATA.TRAIN.DATA_PATHS: the labels of ${cfg.DATA.TRAIN.DATA_PATHS[0] ?? 'the dataset'}`;
  return new Error(
    `${source} holds label ${target[1]}, outside the model's classes [0, n): the head's output size ` +
      '(MODEL.HEAD.PARAMS) must exceed the largest label, e.g. CLUSTERFIT.NUM_CLUSTERS for cluster labels',
    { cause: error },
  );
}

/**
 * Trains the model the config describes (ENGINE_NAME train: RotNet pretraining, ClusterFit on
 * cluster labels, or any VISSL training config) in CHECKPOINT.DIR, resuming from the newest
 * checkpoint there (AUTO_RESUME). `options.stop` stops it at the next step with a checkpoint; the
 * result's `completed` is false then, and the same call resumes. The stage's state is recorded in
 * `train_state.json` (see stage-state.ts).
 */
export async function trainTask(cfg: Config, options: TaskOptions = {}): Promise<TrainResult> {
  // The data first: a wrong path is an error before any run folder is made.
  const trainData = datasetFromConfig(cfg.DATA.TRAIN, 'TRAIN');
  const testData = cfg.TEST_MODEL ? datasetFromConfig(cfg.DATA.TEST, 'TEST') : null;
  const ctx = startTask(cfg, cfg.CHECKPOINT.DIR, 'CHECKPOINT.DIR', 'train', options);
  return ctx.record.track(
    () => trainIn(ctx, trainData, testData, options),
    (result) => ({ stopped: !result.completed, epoch: result.position.epoch }),
  );
}

async function trainIn(
  ctx: TaskContext,
  trainData: Dataset,
  testData: Dataset | null,
  options: TaskOptions,
): Promise<TrainResult> {
  const { cfg, device, dir, logger } = ctx;
  // AUTO_RESUME as VISSL: the final checkpoint if there is one (then there is nothing left to do,
  // unless OVERWRITE_EXISTING asks to train again from scratch), else the newest complete phase.
  const latest = cfg.CHECKPOINT.AUTO_RESUME ? findResumeCheckpoint(dir, (message) => logger.warn(message)) : null;
  const finished = latest !== null && FINAL_CHECKPOINT.test(latest);
  if (finished && !cfg.CHECKPOINT.OVERWRITE_EXISTING) {
    logger.info(
      `training in ${dir} is already complete (${latest}); set CHECKPOINT.OVERWRITE_EXISTING=True to train again`,
    );
    return {
      completed: true,
      alreadyComplete: true,
      checkpoint: latest,
      position: { epoch: cfg.OPTIMIZER.num_epochs, step: 0, iteration: 0 },
      train: [],
      test: [],
      seconds: 0,
    };
  }

  const model: SSLModel = modelFromConfig(cfg, device);
  const resume = latest !== null && !finished ? resumePoint(latest, logger) : null;
  if (resume !== null) {
    loadResumedModel(model, resume.checkpoint, latest as string, cfg);
  } else {
    initWeightsFromConfig(model, cfg, logger);
  }
  applyTrunkFreezing(model, cfg);
  if (cfg.MODEL.CHANNELS_LAST) model.toChannelsLast();

  const larc = cfg.OPTIMIZER.larc_config;
  const optimizer = new (cfg.OPTIMIZER.use_larc ? LarcSGD : SGD)(
    visslParamGroups(model, {
      weightDecay: cfg.OPTIMIZER.weight_decay,
      headWeightDecay: cfg.OPTIMIZER.head_optimizer_params.use_different_wd
        ? cfg.OPTIMIZER.head_optimizer_params.weight_decay
        : undefined,
      regularizeBn: cfg.OPTIMIZER.regularize_bn,
      regularizeBias: cfg.OPTIMIZER.regularize_bias,
    }),
    { lr: 0, momentum: cfg.OPTIMIZER.momentum, nesterov: cfg.OPTIMIZER.nesterov },
    { trustCoefficient: larc.trust_coefficient, clip: larc.clip, eps: larc.eps },
  );
  if (resume?.checkpoint.optimizer) optimizer.loadStateDict(resume.checkpoint.optimizer);
  const mixed = mixedPrecisionForTraining(cfg, device, logger);
  if (resume) restoreScaler(mixed, resume.checkpoint.extra, logger);
  resume?.checkpoint.dispose();

  const replicated = replicate(model, { syncBatchNorm: cfg.MODEL.SYNC_BN_CONFIG.CONVERT_BN_TO_SYNC_BN });
  const trainLoader = loaderFromConfig(cfg, 'TRAIN', trainData, { shuffle: true, device });
  const testLoader = testData ? loaderFromConfig(cfg, 'TEST', testData, { shuffle: false, device }) : undefined;
  let lastCheckpoint: string | null = null;
  logger.info(
    `training ${cfg.MODEL.TRUNK.NAME}-${cfg.MODEL.TRUNK.RESNETS.DEPTH} on ${trainData.samples.length} images ` +
      `for ${cfg.OPTIMIZER.num_epochs} epoch(s), ${trainLoader.stepsPerEpoch()} steps each, on ${device}; output in ${dir}`,
  );
  try {
    const summary = await train({
      model: replicated,
      loss: buildLoss(cfg.LOSS as unknown as { name: string; [key: string]: CrossEntropyLossConfig | string }),
      optimizer,
      schedule: new VisslLrSchedule(cfg.OPTIMIZER.param_schedulers.lr, lrRunSetup(cfg)),
      trainLoader,
      testLoader,
      testEveryNumEpoch: cfg.TEST_EVERY_NUM_EPOCH,
      numEpochs: cfg.OPTIMIZER.num_epochs,
      start: resume?.position,
      logger,
      logFrequency: cfg.LOG_FREQUENCY,
      checkpointFrequency: cfg.CHECKPOINT.CHECKPOINT_FREQUENCY,
      saveCheckpoint: (position, { final }) => {
        // A checkpoint of phase e holds the state at the end of epoch e, or inside it after a stop.
        const phase = position.step > 0 ? position.epoch : position.epoch - 1;
        lastCheckpoint = writeOnMainRank(() =>
          saveTrainingCheckpoint(
            dir,
            {
              model,
              optimizer,
              epoch: phase,
              iteration: position.iteration,
              extra: {
                next_epoch: position.epoch,
                step: position.step,
                world_size: worldSize(),
                ...scalerCheckpointFields(mixed),
                ...(position.epochState ? { epoch_state: position.epochState } : {}),
              },
            },
            { final },
          ),
        );
        logger.metrics('checkpoint', { path: lastCheckpoint, epoch: position.epoch, step: position.step });
        // The file just written is the one a resume needs (rank 0 alone wrote it, so it alone prunes).
        if (lastCheckpoint !== null) pruneCheckpoints(dir, cfg.CHECKPOINT.KEEP_LAST, lastCheckpoint);
      },
      stop: agreedStop(options.stop),
      topk: cfg.METERS.accuracy_list_meter.topk_values,
      device,
      channelsLast: cfg.MODEL.CHANNELS_LAST,
      hooks: [
        ...trainerHooks(cfg, dir),
        { onEpoch: ({ train, metrics }) => train && ctx.record.epoch(metrics.epoch + 1) },
      ],
      mixedPrecision: mixed,
      testAutocast: mixedPrecisionForInference(cfg, device),
      perfStats: cfg.HOOKS.PERF_STATS.MONITOR_PERF_STATS,
    });
    logger.metrics('train_summary', { ...summary, checkpoint: lastCheckpoint });
    return { ...summary, checkpoint: lastCheckpoint, alreadyComplete: false };
  } catch (error) {
    throw explainBadLabels(error, cfg);
  } finally {
    await trainLoader.close();
    await testLoader?.close();
    optimizer.dispose();
    mixed?.scaler?.dispose();
    model.dispose();
  }
}
