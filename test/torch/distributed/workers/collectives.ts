// The collectives part of the 2-rank job (see group.ts): every op's values, strided tensors,
// the async forms with the event loop running.
import { distributed as dist, tensor, zeros, arange } from '../../../../src/torch/index.js';

/** Runs in every rank of an initialized 2-rank group; returns what the test checks. */
export async function run(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const rank = dist.getRank();
  const values = () => tensor([rank + 1, 2 * (rank + 1), -rank, 7]);
  for (const op of ['sum', 'avg', 'max', 'min'] as const) {
    const t = values();
    dist.allReduce(t, op);
    out[op] = t.toArray();
  }
  // A parameter (a leaf that requires grad) is averaged in place, as torch.distributed allows.
  const param = tensor([rank, 1]).requiresGrad_(true);
  dist.allReduce(param, 'avg');
  out.paramAvg = param.detach().toArray();
  const ints = tensor([rank + 2, 5], { dtype: 'int64' });
  dist.allReduce(ints, 'avg');
  out.intAvg = ints.toArray();
  // A strided view is reduced in place too.
  const matrix = arange(0, 6, 1, { dtype: 'float32' })
    .reshape(2, 3)
    .mul(rank + 1);
  const view = matrix.transpose(0, 1);
  dist.allReduce(view, 'sum');
  out.strided = matrix.toArray();
  const b = rank === 1 ? tensor([4, 5, 6]) : zeros([3]);
  dist.broadcast(b, 1);
  out.broadcast = b.toArray();
  out.allGather = dist.allGather(tensor([rank, rank * 10])).map((t) => t.toArray());
  const rs = zeros([2]);
  dist.reduceScatter(rs, [tensor([1, 2]).mul(rank + 1), tensor([3, 4]).mul(rank + 1)], 'sum');
  out.reduceScatter = rs.toArray();
  dist.barrier();
  // Async forms: the event loop runs while 16 MB travel.
  const big = zeros([4 * 1024 * 1024]).add(rank + 1);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  await dist.allReduceAsync(big, 'sum');
  clearInterval(timer);
  out.asyncSum = [big.min().item(), big.max().item()];
  out.asyncTicks = ticks;
  const ab = rank === 0 ? tensor([9, 8]) : zeros([2]);
  await dist.broadcastAsync(ab, 0);
  out.broadcastAsync = ab.toArray();
  out.allGatherAsync = (await dist.allGatherAsync(tensor([rank + 0.5]))).map((t) => t.toArray());
  await dist.barrierAsync();
  try {
    dist.broadcast(zeros([1]), 5);
  } catch (error) {
    out.badSrc = (error as Error).message;
  }
  out.worldSize = dist.getWorldSize();
  return out;
}
