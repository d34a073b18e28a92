// One rank of the GPU distributed jobs (test/gpu/distributed.test.ts): collectives on CUDA tensors
// and a DDP model on CUDA, with the backend the test names (NCCL alone at world size 1; Gloo with 2
// ranks sharing the GPU, which NCCL cannot do). Reports values for the test to check.
import {
  distributed as dist,
  functional as F,
  manualSeed,
  nn,
  noGrad,
  randn,
  tensor,
  type Tensor,
} from '../../../src/torch/index.js';
import { reportResult } from '../../support/ranks.js';

// `node --test dist/test/` also runs this file on its own, outside any job: then it has nothing to do.
if (process.env.RANK === undefined) process.exit(0);

const backend = process.env.CF_TEST_BACKEND === 'nccl' ? 'nccl' : 'gloo';
dist.initProcessGroup({ backend, timeoutMs: 60_000 });
const rank = dist.getRank();
const world = dist.getWorldSize();
// One GPU: every rank of the Gloo job shares it. (CF_TEST_WORKER_DEVICE=cpu checks this worker's own
// logic on a machine without one.)
const device = process.env.CF_TEST_WORKER_DEVICE ?? 'cuda:0';
const out: Record<string, unknown> = { backend: dist.getBackend(), world };

const onDevice = (values: number[]): Tensor => tensor(values).to(device);
const sum = onDevice([1 + rank, 2 * (rank + 1), -1]);
dist.allReduce(sum);
out.sum = sum.cpu().toArray();
out.stillOnCuda = sum.isCuda;
const avg = onDevice([1 + rank, 2]);
dist.allReduce(avg, 'avg');
out.avg = avg.cpu().toArray();
const max = onDevice([rank, -rank]);
dist.allReduce(max, 'max');
out.max = max.cpu().toArray();
const fromZero = onDevice(rank === 0 ? [4, 5, 6] : [0, 0, 0]);
dist.broadcast(fromZero, 0);
out.broadcast = fromZero.cpu().toArray();
out.allGather = dist.allGather(onDevice([rank, 10 * rank])).map((t) => t.cpu().toArray());
const later = onDevice([1, 1]);
await dist.allReduceAsync(later);
out.asyncSum = later.cpu().toArray();
dist.barrier();

// DDP on CUDA: the gradients of each rank's slice, averaged, equal the union batch's in one process.
const B = 4;
const makeModel = () => new nn.Sequential(new nn.Linear(6, 16), new nn.ReLU(), new nn.Linear(16, 3)).to(device);
manualSeed(100 + rank); // different starting weights: DDP must take rank 0's
const model = makeModel();
const ddp = new dist.DistributedDataParallel(model, { bucketCapMb: 0.0005 });
const reference = makeModel();
const diffs: number[] = [];
for (let step = 0; step < 3; step++) {
  manualSeed(1000 + step);
  const x = randn([B * world, 6]).to(device);
  const y = randn([B * world, 3]).to(device);
  ddp.zeroGrad({ setToNone: true });
  F.mseLoss(ddp.call(x.narrow(0, rank * B, B)), y.narrow(0, rank * B, B)).backward();
  noGrad(() => reference.parameters().forEach((p, i) => p.copy_(model.parameters()[i]!)));
  reference.zeroGrad({ setToNone: true });
  F.mseLoss(reference.call(x), y).backward();
  const ours = model.parameters().map((p) => p.grad!);
  diffs.push(Math.max(...ours.map((g, i) => g.sub(reference.parameters()[i]!.grad!).abs().max().item())));
  noGrad(() => model.parameters().forEach((p) => p.sub_(p.grad!.mul(0.1))));
}
out.ddpGradDiffs = diffs;
out.ddpGradsOnCuda = model.parameters().every((p) => p.grad!.isCuda);
out.checksum = model.parameters().reduce((s, p) => s + p.sum().item(), 0);
dist.destroyProcessGroup();
reportResult(out);
