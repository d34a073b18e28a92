// LARC against a PyTorch reimplementation of NVIDIA apex's apex.parallel.LARC (apex is not
// installable here; its step() is short and written out below as apex has it), wrapping
// torch.optim.SGD with two parameter groups, clip on and off, as VISSL's OPTIMIZER.use_larc does.
import { after, describe, it } from 'node:test';
import { manualSeed, randn, tidy, type Tensor } from '../../../src/torch/index.js';
import { LarcSGD } from '../../../src/torch/optim/index.js';
import { Oracle } from '../../support/oracle.js';
import { assertClose } from '../../support/compare.js';

const oracle = new Oracle();
after(() => oracle.close());

manualSeed(5);
const x = randn([6, 3]);
const initial = [randn([3, 4]), randn([4]), randn([4]), randn([4])];

// apex/parallel/LARC.py's step, over a torch.optim.SGD.
const TORCH_LARC = `
class LARC:
    def __init__(self, optimizer, trust_coefficient, clip, eps):
        self.optim, self.trust_coefficient, self.clip, self.eps = optimizer, trust_coefficient, clip, eps
    def zero_grad(self):
        self.optim.zero_grad()
    def step(self):
        with torch.no_grad():
            weight_decays = []
            for group in self.optim.param_groups:
                weight_decay = group['weight_decay'] if 'weight_decay' in group else 0
                weight_decays.append(weight_decay)
                group['weight_decay'] = 0
                for p in group['params']:
                    if p.grad is None:
                        continue
                    param_norm = torch.norm(p.data)
                    grad_norm = torch.norm(p.grad.data)
                    if param_norm != 0 and grad_norm != 0:
                        adaptive_lr = self.trust_coefficient * (param_norm) / (grad_norm + param_norm * weight_decay + self.eps)
                        if self.clip:
                            adaptive_lr = min(adaptive_lr / group['lr'], 1)
                        p.grad.data += weight_decay * p.data
                        p.grad.data *= adaptive_lr
        self.optim.step()
        for i, group in enumerate(self.optim.param_groups):
            group['weight_decay'] = weight_decays[i]

def loss_of(ps):
    return ((x @ ps[0] + ps[1]) * ps[2] + ps[3]).pow(2).mean()

ps = [p.clone().requires_grad_(True) for p in (p0, p1, p2, p3)]
`;

describe('LARC matches apex LARC over torch.optim.SGD', () => {
  for (const clip of [false, true]) {
    it(`clip ${clip}: two parameter groups (one without weight decay), momentum, 4 steps`, async () => {
      const trust = clip ? 0.02 : 0.001;
      const setup = [
        TORCH_LARC,
        "sgd = torch.optim.SGD([{'params': ps[:2], 'weight_decay': 0.05}, {'params': ps[2:], 'weight_decay': 0, 'lr': 0.03}], lr=0.1, momentum=0.9)",
        `opt = LARC(sgd, trust_coefficient=${trust}, clip=${clip ? 'True' : 'False'}, eps=1e-8)`,
        'for _ in range(4):\n    opt.zero_grad()\n    loss_of(ps).backward()\n    opt.step()',
      ].join('\n');
      const inputs = { x, p0: initial[0]!, p1: initial[1]!, p2: initial[2]!, p3: initial[3]! };
      const { outputs } = await oracle.run({ setup, code: 'ps', inputs });
      const params = initial.map((t) => t.clone().requiresGrad_(true));
      const optimizer = new LarcSGD(
        [
          { params: params.slice(0, 2), weightDecay: 0.05 },
          { params: params.slice(2), weightDecay: 0, lr: 0.03 },
        ],
        { lr: 0.1, momentum: 0.9 },
        { trustCoefficient: trust, clip, eps: 1e-8 },
      );
      for (let i = 0; i < 4; i++) {
        tidy(() => {
          optimizer.zeroGrad();
          const [w, b, gamma, beta] = params as [Tensor, Tensor, Tensor, Tensor];
          x.matmul(w).add(b).mul(gamma).add(beta).pow(2).mean().backward();
          optimizer.step();
        });
      }
      params.forEach((p, i) => assertClose(p, outputs[i] as Tensor, { rtol: 1e-5, atol: 1e-6 }, `param ${i}`));
      optimizer.dispose();
      params.forEach((p) => p.dispose());
    });
  }
});
