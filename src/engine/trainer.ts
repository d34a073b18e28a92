// The training loop every training task shares (RotNet pretraining, ClusterFit training, linear
// evaluation of heads on a frozen trunk): epochs of SGD steps with the LR VISSL's schedule gives,
// top-k meters, periodic tests, checkpoints every CHECKPOINT_FREQUENCY epochs, and a clean stop
// (Ctrl-C) that checkpoints the exact step reached so the same command resumes there.
import type { DataLoader } from '../data/index.js';
import { keep, noGrad, tidy, zeros, type Device, type Tensor } from '../torch/index.js';
import type { AnyModule } from '../torch/nn/index.js';
import type { SGD } from '../torch/optim/index.js';
import type { TrainerHook } from './hooks.js';
import type { LossFunction } from './loss.js';
import type { VisslLrSchedule } from './lr-schedule.js';
import { meanOverRanks, sumOverRanks } from './distributed/ranks.js';
import { AccuracyMeter } from './meters.js';
import { PerfStats } from './perf-stats.js';
import { runProgress } from './progress.js';
import type { RunLogger } from './run-logger.js';
import { Stopwatch } from './stopwatch.js';
import type { StopSignal } from './stop-signal.js';
import { maybeAutocast, trainStep, type MixedPrecision } from './train-step.js';

/** Where a run is: `step` batches of `epoch` are done; `iteration` counts all steps of the run. */
export interface TrainPosition {
  epoch: number;
  step: number;
  iteration: number;
  /** Mid-epoch: what the epoch's metrics have summed so far, so a resumed epoch reports all of it. */
  epochState?: EpochState;
}

/** The running sums of an epoch in progress. */
export interface EpochState {
  lossSum: number;
  steps: number;
  /** Each meter's counts (AccuracyMeter.state()). */
  meters: number[][];
}

/** Saves the model and optimizer as they are at `position`; `final` marks the end of training. */
export type SaveCheckpoint = (position: TrainPosition, info: { final: boolean; loss: number }) => void;

export interface TrainerOptions {
  /** forward(images) gives one output (N x C) per head. */
  model: AnyModule;
  loss: LossFunction;
  optimizer: SGD;
  schedule: VisslLrSchedule;
  trainLoader: DataLoader;
  /** Test data; tested every `testEveryNumEpoch` epochs and after the last. */
  testLoader?: DataLoader;
  testEveryNumEpoch?: number;
  numEpochs: number;
  /** Start here instead of at the beginning (a resumed run). */
  start?: TrainPosition;
  logger: RunLogger;
  /** A metrics line every this many steps (LOG_FREQUENCY). */
  logFrequency: number;
  /** Checkpoint every this many epochs (CHECKPOINT_FREQUENCY), after the last, and on a stop. */
  checkpointFrequency: number;
  saveCheckpoint?: SaveCheckpoint;
  stop?: StopSignal;
  /** METERS.accuracy_list_meter.topk_values. */
  topk: number[];
  device: Device;
  channelsLast?: boolean;
  /** Name of the task in metrics lines ('train', 'linear_eval', ...). */
  phaseName?: string;
  /** Observers of the run (TensorBoard, ...); see hooks.ts. */
  hooks?: TrainerHook[];
  /** Mixed precision for training steps (MODEL.AMP_PARAMS); absent: float32. */
  mixedPrecision?: MixedPrecision | null;
  /** Autocast for the test passes (MODEL.AMP_PARAMS.USE_AMP_FOR_INFERENCE); absent: float32. */
  testAutocast?: MixedPrecision | null;
  /** Data-wait vs compute time and peak memory in metrics lines (HOOKS.PERF_STATS). */
  perfStats?: boolean;
}

export interface EpochMetrics {
  epoch: number;
  loss: number;
  /** Accuracy per model output, e.g. [{top1: 61.2, top5: 97.0}]. */
  accuracy: Record<string, number>[];
}

export interface TrainSummary {
  /** True when training ran to the last epoch; false when it stopped early on request. */
  completed: boolean;
  position: TrainPosition;
  train: EpochMetrics[];
  test: EpochMetrics[];
  seconds: number;
}

function outputsOf(result: unknown): Tensor[] {
  return Array.isArray(result) ? (result as Tensor[]) : [result as Tensor];
}

export async function train(options: TrainerOptions): Promise<TrainSummary> {
  const { model, optimizer, schedule, trainLoader, logger, numEpochs } = options;
  const phase = options.phaseName ?? 'train';
  const stepsPerEpoch = trainLoader.stepsPerEpoch();
  if (stepsPerEpoch === 0) {
    throw new Error('the training data gives no batch: the dataset is smaller than one batch with DROP_LAST, or empty');
  }
  const { epochState, ...start } = options.start ?? { epoch: 0, step: 0, iteration: 0 };
  const position: TrainPosition = { ...start };
  let resumed = start.step > 0 ? epochState : undefined;
  const summary: TrainSummary = { completed: false, position, train: [], test: [], seconds: 0 };
  const started = performance.now();
  const meters: AccuracyMeter[] = [];
  const lossSum = keep(zeros([], { dtype: 'float64', device: options.device }));
  let lastLoss = NaN;
  const perf = options.perfStats ? new PerfStats(options.device) : null;
  let imagesThisRun = 0;
  const hooks = options.hooks ?? [];

  try {
    hooks.forEach((h) => h.onStart?.({ phase, model, position }));
    while (position.epoch < numEpochs) {
      model.train();
      meters.forEach((m) => m.reset());
      lossSum.zero_();
      let stepsThisEpoch = 0;
      // A resumed epoch continues its sums: its metrics then cover the whole epoch.
      if (resumed) {
        lossSum.fill_(resumed.lossSum);
        stepsThisEpoch = resumed.steps;
        resumed.meters.forEach((counts, i) => {
          meters[i] ??= new AccuracyMeter(options.topk, options.device);
          meters[i].restore(counts);
        });
        resumed = undefined;
      }
      const stepsAtStart = stepsThisEpoch;
      const imagesPerEpoch = trainLoader.imagesPerEpoch(position.epoch);
      const batchSize = Math.ceil(imagesPerEpoch / stepsPerEpoch);
      const epochStarted = performance.now();
      const epochTime = new Stopwatch();
      // The main thread's wait for the loader's next batch, summed over the epoch (the epoch
      // line's data_wait_seconds): time the loader, not the step, costs.
      let dataWait = 0;
      let waitFrom = performance.now();
      let images = 0;
      perf?.resume();
      for await (const batch of trainLoader.epoch(position.epoch, { startStep: position.step })) {
        dataWait += performance.now() - waitFrom;
        perf?.batchArrived();
        const lr = schedule.lrAt({
          epoch: position.epoch,
          iteration: position.step,
          iterationsPerEpoch: stepsPerEpoch,
        });
        for (const group of optimizer.paramGroups) group.lr = lr;
        tidy(() => {
          const input = options.channelsLast ? batch.images.contiguous('channelsLast') : batch.images;
          const parts = { model, loss: options.loss, optimizer, mixed: options.mixedPrecision };
          const { outputs, loss } = trainStep(parts, input, batch.labels);
          lossSum.add_(loss.detach());
          while (meters.length < outputs.length) meters.push(new AccuracyMeter(options.topk, options.device));
          outputs.forEach((output, i) => meters[i]?.update(output, batch.labels));
          const after = { ...position, step: position.step + 1, iteration: position.iteration + 1 };
          const info = {
            phase,
            model,
            position: after,
            lr,
            loss,
            images: batch.indices.length,
            stepsPerEpoch,
            numEpochs,
          };
          hooks.forEach((h) => h.onStep?.(info));
        });
        perf?.stepDone();
        images += batch.indices.length;
        imagesThisRun += batch.indices.length;
        batch.dispose();
        position.step += 1;
        position.iteration += 1;
        stepsThisEpoch += 1;
        const rate = images / ((performance.now() - epochStarted) / 1000);
        const run = runProgress({
          ...position,
          stepsPerEpoch,
          numEpochs,
          imagesPerEpoch,
          batchSize,
          imagesThisRun,
          seconds: (performance.now() - started) / 1000,
        });
        logger.progress(
          `${phase} epoch ${position.epoch + 1}/${numEpochs}`,
          run.imagesDone,
          run.imagesTotal,
          run.rate,
          'img',
        );
        if (position.iteration % options.logFrequency === 0) {
          lastLoss = meanOverRanks(lossSum.item()) / stepsThisEpoch;
          logger.metrics(phase, {
            epoch: position.epoch,
            step: position.step,
            iteration: position.iteration,
            lr,
            loss: lastLoss,
            images_per_sec: rate,
            eta_s: run.etaSeconds,
            ...(options.mixedPrecision?.scaler ? { amp_scale: options.mixedPrecision.scaler.getScale() } : {}),
            ...perf?.take(),
          });
        }
        // Prefetched batches resolve as microtasks, which never let the event loop run: yield to
        // it once per step so a Ctrl-C (and the progress bar) is seen at the next step.
        await new Promise((resolve) => setImmediate(resolve));
        perf?.resume();
        waitFrom = performance.now();
        options.stop?.agree?.();
        if (options.stop?.requested && position.step < stepsPerEpoch) {
          logger.endProgress();
          logger.info(`stopping at epoch ${position.epoch + 1}, step ${position.step} (as asked)`);
          const epochState = { lossSum: lossSum.item(), steps: stepsThisEpoch, meters: meters.map((m) => m.state()) };
          options.saveCheckpoint?.({ ...position, epochState }, { final: false, loss: lastLoss });
          return summary;
        }
      }
      logger.endProgress();
      if (stepsThisEpoch === stepsAtStart) {
        // Checkpointing now would save untrained weights as if the epoch (or the run) were done.
        throw new Error(
          `training epoch ${position.epoch + 1} gave no batch (every image was skipped, or the loader yielded nothing); nothing was checkpointed`,
        );
      }
      const epochMetrics: EpochMetrics = {
        epoch: position.epoch,
        loss: stepsThisEpoch > 0 ? meanOverRanks(lossSum.item()) / stepsThisEpoch : NaN,
        accuracy: meters.map((m) => m.value(sumOverRanks)),
      };
      lastLoss = epochMetrics.loss;
      summary.train.push(epochMetrics);
      hooks.forEach((h) => h.onEpoch?.({ phase, model, train: true, metrics: epochMetrics }));
      logger.metrics(`${phase}_epoch`, {
        ...epochMetrics,
        ...epochTime.read(),
        data_wait_seconds: dataWait / 1000,
        skipped_images: trainLoader.skipped.length,
      });
      logger.info(
        `${phase} epoch ${position.epoch + 1}/${numEpochs}: loss ${epochMetrics.loss.toFixed(4)}, ` +
          `accuracy ${epochMetrics.accuracy.map(formatAccuracy).join(' | ')}`,
      );
      const finishedEpoch = position.epoch + 1;
      position.epoch = finishedEpoch;
      position.step = 0;
      const last = finishedEpoch === numEpochs;
      if (options.testLoader && (last || finishedEpoch % (options.testEveryNumEpoch ?? 1) === 0)) {
        const testMetrics = await evaluate(options, finishedEpoch - 1);
        summary.test.push(testMetrics);
        hooks.forEach((h) => h.onEpoch?.({ phase, model, train: false, metrics: testMetrics }));
      }
      if (last || finishedEpoch % options.checkpointFrequency === 0 || options.stop?.requested) {
        options.saveCheckpoint?.(position, { final: last, loss: epochMetrics.loss });
      }
      if (options.stop?.requested && !last) {
        logger.info(`stopping after epoch ${finishedEpoch} (as asked)`);
        return summary;
      }
    }
    summary.completed = true;
    return summary;
  } finally {
    summary.seconds = (performance.now() - started) / 1000;
    hooks.forEach((h) => h.onEnd?.());
    meters.forEach((m) => m.dispose());
    lossSum.dispose();
  }
}

function formatAccuracy(value: Record<string, number>): string {
  return Object.entries(value)
    .map(([name, v]) => `${name} ${v.toFixed(2)}`)
    .join(' ');
}

/** Loss and top-k accuracy of the model, in eval mode, on the whole test set. */
async function evaluate(options: TrainerOptions, epoch: number): Promise<EpochMetrics> {
  const { model, logger } = options;
  const loader = options.testLoader as DataLoader;
  model.eval();
  const meters: AccuracyMeter[] = [];
  const lossSum = keep(zeros([], { dtype: 'float64', device: options.device }));
  let steps = 0;
  // The test pass has its own bar (on the demo it takes as long as a training epoch): images of this rank's share.
  const label = `${options.phaseName ?? 'train'} test after epoch ${epoch + 1}`;
  const total = loader.imagesPerEpoch(0);
  const started = performance.now();
  const time = new Stopwatch();
  let done = 0;
  try {
    for await (const batch of loader.epoch(0)) {
      noGrad(() =>
        tidy(() => {
          const outputs = maybeAutocast(options.testAutocast, () => outputsOf(model.call(batch.images)));
          lossSum.add_(options.loss(outputs, batch.labels));
          while (meters.length < outputs.length) meters.push(new AccuracyMeter(options.topk, options.device));
          outputs.forEach((output, i) => meters[i]?.update(output, batch.labels));
        }),
      );
      done += batch.indices.length;
      batch.dispose();
      steps += 1;
      logger.progress(label, Math.min(done, total), total, done / ((performance.now() - started) / 1000), 'img');
    }
    logger.endProgress();
    const metrics: EpochMetrics = {
      epoch,
      loss: steps > 0 ? meanOverRanks(lossSum.item()) / steps : NaN,
      accuracy: meters.map((m) => m.value(sumOverRanks)),
    };
    logger.metrics(`${options.phaseName ?? 'train'}_test`, { ...metrics, images: done, ...time.read() });
    logger.info(
      `  test: loss ${metrics.loss.toFixed(4)}, accuracy ${metrics.accuracy.map(formatAccuracy).join(' | ')}`,
    );
    return metrics;
  } finally {
    meters.forEach((m) => m.dispose());
    lossSum.dispose();
    model.train();
  }
}
