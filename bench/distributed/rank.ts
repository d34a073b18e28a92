// Our side of bench/distributed/*.ts: one rank of the job, doing exactly what
// bench/peers/torch_distributed.py does with torch.distributed (see there). Rank 0 reports.
import * as torch from '../../src/torch/index.js';
import { SGD } from '../../src/torch/optim/index.js';
import { visslParamGroups } from '../../src/engine/param-groups.js';
import { buildModel, modelConfig } from '../../src/models/index.js';
import { reportResult } from '../../test/support/ranks.js';

const dist = torch.distributed;

interface AllReduceConfig {
  sizes: number[];
  iters: number[];
}
interface DdpConfig {
  depth: number;
  batch: number;
  size: number;
  classes: number;
  warmup: number;
  steps: number;
  rounds: number;
}

function allReduce(cfg: AllReduceConfig): { seconds: number[] } {
  const seconds = cfg.sizes.map((bytes, i) => {
    using t = torch.ones([bytes / 4]);
    dist.allReduce(t); // warm-up: connections and buffers
    dist.barrier();
    const start = performance.now();
    for (let k = 0; k < cfg.iters[i]!; k++) dist.allReduce(t);
    return (performance.now() - start) / 1000;
  });
  return { seconds };
}

function ddp(cfg: DdpConfig): { seconds: number[] } {
  torch.manualSeed(0);
  const model = buildModel(
    modelConfig({ depth: cfg.depth, heads: [['mlp', { dims: [cfg.depth >= 50 ? 2048 : 512, cfg.classes] }]] }),
  );
  const wrapped = new dist.DistributedDataParallel(model);
  const optimizer = new SGD(visslParamGroups(model, { weightDecay: 1e-4 }), { lr: 0.1, momentum: 0.9 });
  const x = torch.keep(torch.randn([cfg.batch, 3, cfg.size, cfg.size]));
  const y = torch.keep(torch.randint(0, cfg.classes, [cfg.batch]));
  model.train();
  const step = (): void =>
    torch.tidy(() => {
      optimizer.zeroGrad();
      torch.functional.crossEntropy(wrapped.call(x)[0]!, y).backward();
      optimizer.step();
    });
  for (let i = 0; i < cfg.warmup; i++) step();
  const seconds: number[] = [];
  for (let r = 0; r < cfg.rounds; r++) {
    dist.barrier();
    const start = performance.now();
    for (let i = 0; i < cfg.steps; i++) step();
    seconds.push((performance.now() - start) / 1000);
  }
  return { seconds };
}

const [mode, json] = process.argv.slice(2) as [string, string];
const cfg = JSON.parse(json) as { threads: number };
torch.setNumThreads(cfg.threads);
dist.initProcessGroup({ backend: 'gloo', timeoutMs: 10 * 60 * 1000 });
const result = mode === 'allreduce' ? allReduce(cfg as unknown as AllReduceConfig) : ddp(cfg as unknown as DdpConfig);
if (dist.getRank() === 0) reportResult({ ...result, version: torch.buildInfo().torchVersion });
dist.destroyProcessGroup();
