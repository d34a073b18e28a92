// What the training loop tells observers (TensorBoard, and whatever else wants to watch a run)
// without knowing them: the model before training, every optimizer step, every finished train or
// test epoch, and the end. Hooks run synchronously on the training thread, so a slow hook slows
// training: they decide themselves how often to do real work.
import type { Tensor } from '../torch/index.js';
import type { AnyModule } from '../torch/nn/index.js';
import type { EpochMetrics, TrainPosition } from './trainer.js';

export interface StepInfo {
  phase: string;
  model: AnyModule;
  /** Position after this step: `iteration` counts it. */
  position: TrainPosition;
  lr: number;
  /** This step's loss, on the device (reading it waits for the step to finish). */
  loss: Tensor;
  /** Images in this step's batch. */
  images: number;
  stepsPerEpoch: number;
  numEpochs: number;
}

export interface EpochInfo {
  phase: string;
  model: AnyModule;
  /** True for a training epoch, false for a test pass. */
  train: boolean;
  metrics: EpochMetrics;
}

export interface TrainerHook {
  /** Before the first step (also when resuming). */
  onStart?(info: { phase: string; model: AnyModule; position: TrainPosition }): void;
  /**
   * After the optimizer step, inside the step's memory scope: parameters hold their new values and
   * `.grad` the step's gradients; tensors made here are freed with the step's.
   */
  onStep?(info: StepInfo): void;
  onEpoch?(info: EpochInfo): void;
  /** Once when training ends, stops or fails. */
  onEnd?(): void;
}
