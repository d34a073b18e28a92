// LARC (layer-wise adaptive rate control, You et al. 2017) as NVIDIA apex's apex.parallel.LARC
// wraps an optimizer, which is how VISSL applies OPTIMIZER.use_larc to SGD. Before each step, every
// parameter's gradient gets its group's weight decay added and is scaled by
//   local_lr = trust_coefficient * |p| / (|grad| + weight_decay * |p| + eps)
// (with clip: min(local_lr / group lr, 1)); the SGD step then runs with weight decay 0, as it is
// already in the gradient. A parameter or gradient with norm 0 is left as it is, its weight decay
// skipped for that step, as apex does.
import { noGrad } from '../autograd.js';
import { tidy } from '../scope.js';
import { SGD, type ParamGroupSpec, type SGDOptions } from './sgd.js';
import type { Tensor } from '../tensor.js';

export interface LarcOptions {
  trustCoefficient?: number;
  clip?: boolean;
  eps?: number;
}

export class LarcSGD extends SGD {
  readonly trustCoefficient: number;
  readonly clip: boolean;
  readonly eps: number;

  constructor(params: Tensor[] | ParamGroupSpec[], defaults: SGDOptions = {}, larc: LarcOptions = {}) {
    super(params, defaults);
    this.trustCoefficient = larc.trustCoefficient ?? 0.02;
    this.clip = larc.clip ?? true;
    this.eps = larc.eps ?? 1e-8;
  }

  override step(): void {
    const decays = this.paramGroups.map((group) => group.weightDecay);
    noGrad(() => {
      for (const group of this.paramGroups) {
        const decay = group.weightDecay;
        for (const p of group.params) {
          const grad = p.grad;
          if (grad === null) continue;
          tidy(() => {
            const paramNorm = p.norm().item();
            const gradNorm = grad.norm().item();
            if (paramNorm === 0 || gradNorm === 0) return;
            let rate = (this.trustCoefficient * paramNorm) / (gradNorm + paramNorm * decay + this.eps);
            if (this.clip) rate = Math.min(rate / group.lr, 1);
            if (decay !== 0) grad.add_(p, decay);
            grad.mul_(rate);
          });
        }
        group.weightDecay = 0;
      }
    });
    try {
      super.step();
    } finally {
      this.paramGroups.forEach((group, i) => (group.weightDecay = decays[i] as number));
    }
  }
}
