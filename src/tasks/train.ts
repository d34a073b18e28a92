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
  saveTrainingCheckpoint,
  type TrainingCheckpoint,
} from '../engine/checkpoint.js';
import { buildLoss, type CrossEntropyLossConfig } from '../engine/loss.js';
import { VisslLrSchedule } from '../engine/lr-schedule.js';
import { visslParamGroups } from '../engine/param-groups.js';
import { train, type TrainPosition, type TrainSummary } from '../engine/trainer.js';
import type { SSLModel } from '../models/index.js';
import { LarcSGD, SGD } from '../torch/optim/index.js';
import { startTask, type TaskContext, type TaskOptions } from './context.js';
import { datasetFromConfig, loaderFromConfig } from './data.js';
import { applyTrunkFreezing, initWeightsFromConfig, modelFromConfig } from './model.js';

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
  const position: TrainPosition = {
    epoch: typeof next === 'number' ? next : checkpoint.epoch + 1,
    step: typeof step === 'number' ? step : 0,
    iteration: checkpoint.iteration,
  };
  logger.info(`resuming from ${path} at epoch ${position.epoch + 1}, step ${position.step}`);
  return { checkpoint, position };
}

export async function trainTask(cfg: Config, options: TaskOptions = {}): Promise<TrainResult> {
  const ctx = startTask(cfg, cfg.CHECKPOINT.DIR, 'CHECKPOINT.DIR', 'train', options);
  const { device, dir, logger } = ctx;
  // AUTO_RESUME as VISSL: the final checkpoint if there is one (then there is nothing left to do,
  // unless OVERWRITE_EXISTING asks to train again from scratch), else the newest complete phase.
  const latest = cfg.CHECKPOINT.AUTO_RESUME ? findResumeCheckpoint(dir) : null;
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

  const trainData = datasetFromConfig(cfg.DATA.TRAIN, 'TRAIN');
  const testData = cfg.TEST_MODEL ? datasetFromConfig(cfg.DATA.TEST, 'TEST') : null;
  const model: SSLModel = modelFromConfig(cfg, device);
  const resume = latest !== null && !finished ? resumePoint(latest, logger) : null;
  if (resume !== null) {
    model.loadStateDict(resume.checkpoint.model);
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
  resume?.checkpoint.dispose();

  const trainLoader = loaderFromConfig(cfg, 'TRAIN', trainData, { shuffle: true, device });
  const testLoader = testData ? loaderFromConfig(cfg, 'TEST', testData, { shuffle: false, device }) : undefined;
  let lastCheckpoint: string | null = null;
  logger.info(
    `training ${cfg.MODEL.TRUNK.NAME}-${cfg.MODEL.TRUNK.RESNETS.DEPTH} on ${trainData.samples.length} images ` +
      `for ${cfg.OPTIMIZER.num_epochs} epoch(s), ${trainLoader.stepsPerEpoch()} steps each, on ${device}; output in ${dir}`,
  );
  try {
    const summary = await train({
      model,
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
        lastCheckpoint = saveTrainingCheckpoint(
          dir,
          {
            model,
            optimizer,
            epoch: phase,
            iteration: position.iteration,
            extra: { next_epoch: position.epoch, step: position.step },
          },
          { final },
        );
        logger.metrics('checkpoint', { path: lastCheckpoint, epoch: position.epoch, step: position.step });
      },
      stop: options.stop,
      topk: cfg.METERS.accuracy_list_meter.topk_values,
      device,
      channelsLast: cfg.MODEL.CHANNELS_LAST,
    });
    logger.metrics('train_summary', { ...summary, checkpoint: lastCheckpoint });
    return { ...summary, checkpoint: lastCheckpoint, alreadyComplete: false };
  } finally {
    await trainLoader.close();
    await testLoader?.close();
    optimizer.dispose();
    model.dispose();
  }
}
