// VISSL's default optimizer parameter groups (vissl/optimizers/param_groups/default.py): which
// parameters get weight decay. Conv/Linear weights always do; their biases do with regularizeBias;
// BatchNorm weights only with regularizeBn, and BN biases only with both. Modules whose name
// contains 'head' go to the head groups (their own weight decay). Any other module's own
// parameters are regularized. The groups come in VISSL's order (trunk regularized, trunk
// unregularized, head regularized, head unregularized, then the non-empty remaining groups), so
// optimizer state-dict indices line up with VISSL checkpoints. Frozen parameters are left out.
import { BatchNorm2d, Conv2d, Linear, type AnyModule } from '../torch/nn/index.js';
import type { ParamGroupSpec } from '../torch/optim/index.js';
import type { Tensor } from '../torch/index.js';

export interface RegularizationOptions {
  /** OPTIMIZER.weight_decay. */
  weightDecay: number;
  /** OPTIMIZER.head_optimizer_params.weight_decay; defaults to weightDecay as VISSL infers. */
  headWeightDecay?: number;
  /** OPTIMIZER.regularize_bn (VISSL default False). */
  regularizeBn?: boolean;
  /** OPTIMIZER.regularize_bias (VISSL default True). */
  regularizeBias?: boolean;
}

interface Split {
  regularized: Tensor[];
  unregularized: Tensor[];
}

export function visslParamGroups(model: AnyModule, options: RegularizationOptions): ParamGroupSpec[] {
  const { weightDecay, headWeightDecay = weightDecay, regularizeBn = false, regularizeBias = true } = options;
  const trunk: Split = { regularized: [], unregularized: [] };
  const head: Split = { regularized: [], unregularized: [] };
  const remaining: Tensor[] = [];
  const place = (split: Split, tensor: Tensor | null, regularize: boolean): void => {
    if (tensor !== null) (regularize ? split.regularized : split.unregularized).push(tensor);
  };

  for (const [name, module] of model.namedModules()) {
    const split = name.includes('head') ? head : trunk;
    if (module instanceof Conv2d || module instanceof Linear) {
      place(split, module.weight, true);
      place(split, module.bias, regularizeBias);
    } else if (module instanceof BatchNorm2d) {
      place(split, module.weight, regularizeBn);
      place(split, module.bias, regularizeBn && regularizeBias);
    } else {
      remaining.push(...module.parameters({ recurse: false }));
    }
  }

  const trainable = (params: Tensor[]): Tensor[] => params.filter((p) => p.requiresGrad);
  const groups: ParamGroupSpec[] = [
    { params: trainable(trunk.regularized), weightDecay },
    { params: trainable(trunk.unregularized), weightDecay: 0 },
    { params: trainable(head.regularized), weightDecay: headWeightDecay },
    { params: trainable(head.unregularized), weightDecay: 0 },
  ];
  const others = trainable(remaining);
  if (others.length > 0) groups.push({ params: others, weightDecay });
  return groups;
}
