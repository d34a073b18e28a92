// The DDP part of the 2-rank job (see group.ts): gradients against the union batch computed here in one process,
// noSync accumulation, findUnusedParameters, and identical parameters after momentum-SGD steps.
import {
  distributed as dist,
  manualSeed,
  nn,
  noGrad,
  optim,
  randn,
  functional as F,
  Tensor,
} from '../../../../src/torch/index.js';

/** Runs in every rank of an initialized 2-rank group; returns what the test checks. */
export async function run(): Promise<Record<string, unknown>> {
  const rank = dist.getRank();
  const world = dist.getWorldSize();
  const B = 4;

  const makeModel = () => new nn.Sequential(new nn.Linear(6, 16), new nn.ReLU(), new nn.Linear(16, 3));
  // Each rank starts from different weights: DDP must take rank 0's.
  manualSeed(100 + rank);
  const model = makeModel();
  const ddp = new dist.DistributedDataParallel(model, { bucketCapMb: 0.0005 }); // several small buckets
  const reference = makeModel();

  // The same global batch on every rank; rank r trains on its slice.
  function globalBatch(step: number): [Tensor, Tensor] {
    manualSeed(1000 + step);
    return [randn([B * world, 6]), randn([B * world, 3])];
  }
  const mine = (t: Tensor) => t.narrow(0, rank * B, B);

  function referenceGrads(batches: [Tensor, Tensor][]): Tensor[] {
    noGrad(() => reference.parameters().forEach((p, i) => p.copy_(model.parameters()[i]!)));
    reference.zeroGrad({ setToNone: true });
    for (const [x, y] of batches) F.mseLoss(reference.call(x), y).backward();
    return reference.parameters().map((p) => p.grad!);
  }

  const maxDiff = (a: Tensor[], b: Tensor[]) => Math.max(...a.map((t, i) => t.sub(b[i]!).abs().max().item()));
  const out: Record<string, unknown> = { gradDiffs: [] as number[] };
  out.initialChecksum = model.parameters().reduce((s, p) => s + p.sum().item(), 0);

  const sgd = new optim.SGD(ddp.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-3 });
  for (let step = 0; step < 4; step++) {
    const [x, y] = globalBatch(step);
    ddp.zeroGrad({ setToNone: true });
    F.mseLoss(ddp.call(mine(x)), mine(y)).backward();
    (out.gradDiffs as number[]).push(
      maxDiff(
        model.parameters().map((p) => p.grad!),
        referenceGrads([[x, y]]),
      ),
    );
    sgd.step();
  }

  // noSync: the first micro-batch accumulates locally, the second backward averages the sum.
  {
    const [x1, y1] = globalBatch(10);
    const [x2, y2] = globalBatch(11);
    ddp.zeroGrad({ setToNone: true });
    ddp.noSync(() => F.mseLoss(ddp.call(mine(x1)), mine(y1)).backward());
    F.mseLoss(ddp.call(mine(x2)), mine(y2)).backward();
    out.noSyncDiff = maxDiff(
      model.parameters().map((p) => p.grad!),
      referenceGrads([
        [x1, y1],
        [x2, y2],
      ]),
    );
  }
  out.params = model.parameters().map((p) => p.toArray());

  // findUnusedParameters: a model with a head this forward never uses; without the search the
  // reducer would wait for its gradient forever and refuse the next forward.
  class TwoHeads extends nn.Module {
    readonly used = this.registerModule('used', new nn.Linear(4, 2));
    readonly unused = this.registerModule('unused', new nn.Linear(4, 2));
    override forward(x: Tensor): Tensor {
      return this.used.call(x);
    }
  }
  {
    const twoHeads = new TwoHeads();
    const wrapped = new dist.DistributedDataParallel(twoHeads, { findUnusedParameters: true });
    for (let step = 0; step < 2; step++) {
      twoHeads.zeroGrad({ setToNone: true });
      manualSeed(20 + step);
      wrapped
        .call(randn([3, 4]).add(rank))
        .sum()
        .backward();
    }
    out.findUnusedOk = twoHeads.unused.weight.grad === null || twoHeads.unused.weight.grad.abs().max().item() === 0;
    wrapped.dispose();
  }
  // Ranks that built different models are told so, on every rank, before any gradient is wrong.
  try {
    new dist.DistributedDataParallel(new nn.Linear(4, rank === 0 ? 2 : 3));
  } catch (error) {
    out.mismatch = (error as Error).message;
  }
  return out;
}
