// VISSL's SSLTensorboardHook on our training loop: the same tags, at the same moments.
// - every LOG_FREQUENCY iterations (and every 5 of the first 100): Training/Loss (this step's),
//   Training/Learning_rate, Speed/Batch_processing_time_ms, Speed/img_per_sec_per_gpu,
//   Speed/ETA_hours, and Memory/Peak_RSS_MiB (VISSL logs peak CUDA memory; our addon exposes no
//   CUDA allocator statistics, so we log the process' peak resident memory, named for what it is);
// - every finished epoch: Training/ or Testing/accuracy_list_meter_top_<k>_Output_<i> and our
//   Training/Epoch_loss, Testing/Loss, with the epoch as step;
// - LOG_PARAMS: Parameters/<name> histograms before training (step -1) and after every epoch (step
//   = epoch), and every LOG_PARAMS_EVERY_N_ITERS iterations (step = iteration) when that is > 0;
// - LOG_PARAMS_GRADIENTS: Gradients/<name> histograms at the same epoch and iteration points.
// VISSL takes the parameter histograms before the update and the gradient ones after it; here
// both are taken after the step (the loop hands hooks one moment per step).
import type { EpochInfo, StepInfo, TrainerHook } from '../hooks.js';
import { tidy } from '../../torch/index.js';
import type { AnyModule } from '../../torch/nn/index.js';
import { EventFileWriter } from './event-file.js';
import { histogramOf } from './histogram.js';

export interface TensorBoardHookOptions {
  /** Folder of the event file. */
  dir: string;
  flushEveryNMin: number;
  logParams: boolean;
  /** <= 0: parameter histograms only at epoch ends. */
  logParamsEveryNIters: number;
  logParamsGradients: boolean;
  /** LOG_FREQUENCY: scalars every this many iterations. */
  logFrequency: number;
}

const MIB = 2 ** 20;

export class TensorBoardHook implements TrainerHook {
  readonly writer: EventFileWriter;
  readonly #options: TensorBoardHookOptions;
  /** Seconds per step since the last scalar log (VISSL's task.batch_time). */
  #batchTimes: number[] = [];
  #lastStepAt = performance.now();

  constructor(options: TensorBoardHookOptions) {
    this.#options = options;
    this.writer = new EventFileWriter(options.dir, { flushSeconds: options.flushEveryNMin * 60 });
  }

  onStart({ model, position }: { model: AnyModule; position: { iteration: number } }): void {
    this.#lastStepAt = performance.now();
    if (this.#options.logParams && position.iteration === 0) this.#histograms('Parameters', model, -1);
  }

  onStep(info: StepInfo): void {
    const now = performance.now();
    this.#batchTimes.push((now - this.#lastStepAt) / 1000);
    this.#lastStepAt = now;
    const { iteration } = info.position;
    const o = this.#options;
    if (o.logParamsEveryNIters > 0 && iteration % o.logParamsEveryNIters === 0) {
      if (o.logParams) this.#histograms('Parameters', info.model, iteration);
      if (o.logParamsGradients) this.#histograms('Gradients', info.model, iteration);
    }
    if (iteration % o.logFrequency !== 0 && !(iteration <= 100 && iteration % 5 === 0)) return;
    const w = this.writer;
    const batchTime = this.#batchTimes.reduce((a, b) => a + b, 0) / Math.max(this.#batchTimes.length, 1);
    this.#batchTimes = [];
    const remaining = info.numEpochs * info.stepsPerEpoch - iteration;
    w.scalar('Training/Loss', info.loss.item(), iteration);
    w.scalar('Training/Learning_rate', info.lr, iteration);
    w.scalar('Speed/Batch_processing_time_ms', Math.round(1000 * batchTime), iteration);
    w.scalar('Speed/img_per_sec_per_gpu', batchTime > 0 ? info.images / batchTime : 0, iteration);
    w.scalar('Speed/ETA_hours', (batchTime * remaining) / 3600, iteration);
    w.scalar('Memory/Peak_RSS_MiB', (process.resourceUsage().maxRSS * 1024) / MIB, iteration);
  }

  onEpoch({ train, metrics, model }: EpochInfo): void {
    const prefix = train ? 'Training' : 'Testing';
    metrics.accuracy.forEach((values, output) => {
      for (const [name, value] of Object.entries(values)) {
        const k = name.replace(/^top/, 'top_');
        this.writer.scalar(`${prefix}/accuracy_list_meter_${k}_Output_${output}`, value, metrics.epoch);
      }
    });
    this.writer.scalar(train ? 'Training/Epoch_loss' : 'Testing/Loss', metrics.loss, metrics.epoch);
    if (train && this.#options.logParams) this.#histograms('Parameters', model, metrics.epoch);
    if (train && this.#options.logParamsGradients) this.#histograms('Gradients', model, metrics.epoch);
    this.writer.flush();
  }

  onEnd(): void {
    this.writer.close();
  }

  #histograms(kind: 'Parameters' | 'Gradients', model: AnyModule, step: number): void {
    tidy(() => {
      for (const [name, parameter] of model.namedParameters()) {
        const values = kind === 'Parameters' ? parameter : parameter.grad;
        if (values) this.writer.histogram(`${kind}/${name}`, histogramOf(values), step);
      }
    });
  }
}
