// VISSL's `cross_entropy_multiple_output_single_target`: one target for every model output (one
// output per head); the loss is the sum over outputs of cross entropy on (optionally
// L2-normalised) logits divided by a temperature.
import { functional as F, type Tensor } from '../torch/index.js';

export interface CrossEntropyLossConfig {
  ignore_index: number;
  temperature: number;
  normalize_output: boolean;
  label_smoothing: number;
  reduction: 'mean' | 'sum' | 'none';
}

export type LossFunction = (outputs: Tensor[], target: Tensor) => Tensor;

const SUPPORTED_LOSSES = ['cross_entropy_multiple_output_single_target', 'CrossEntropyLoss'];

/**
 * VISSL's default loss, torch.nn.CrossEntropyLoss built from LOSS.CrossEntropyLoss (ignore_index):
 * VISSL hands a model with one head its single output, and this loss cannot take several.
 */
function torchCrossEntropy(options: { ignore_index?: number }): LossFunction {
  return (outputs, target) => {
    if (outputs.length !== 1) {
      throw new Error(
        `LOSS.name CrossEntropyLoss takes one model output, and the model has ${outputs.length} heads; ` +
          'use cross_entropy_multiple_output_single_target (one loss per head, summed)',
      );
    }
    return F.crossEntropy(outputs[0] as Tensor, target, { ignoreIndex: options.ignore_index ?? -100 });
  };
}

/** The loss a LOSS config block names. */
export function buildLoss(config: { name: string } & Record<string, unknown>): LossFunction {
  if (config.name === 'CrossEntropyLoss') return torchCrossEntropy((config.CrossEntropyLoss ?? {}) as object);
  if (config.name !== 'cross_entropy_multiple_output_single_target') {
    throw new Error(`LOSS.name '${config.name}' is not supported; supported: ${SUPPORTED_LOSSES.join(', ')}`);
  }
  const options = config[config.name] as CrossEntropyLossConfig;
  if (!(options.temperature > 0)) throw new Error(`LOSS temperature must be positive, got ${options.temperature}`);
  return (outputs, target) => {
    if (outputs.length === 0) throw new Error('the model produced no outputs to compute the loss on');
    let total: Tensor | null = null;
    for (const output of outputs) {
      let logits = options.normalize_output ? F.normalize(output, { dim: 1 }) : output;
      if (options.temperature !== 1) logits = logits.div(options.temperature);
      const loss = F.crossEntropy(logits, target, {
        ignoreIndex: options.ignore_index,
        labelSmoothing: options.label_smoothing,
        reduction: options.reduction,
      });
      total = total === null ? loss : total.add(loss);
    }
    return total as Tensor;
  };
}
