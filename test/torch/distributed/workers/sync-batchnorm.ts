// The SyncBatchNorm part of the 2-rank job (see group.ts): 2 ranks at batch B with SyncBatchNorm (under DDP) must
// train like 1 process at batch 2B with BatchNorm2d. The 1-process run happens here too, on a
// separate copy of the model, so the test needs no third process.
import {
  distributed as dist,
  manualSeed,
  nn,
  optim,
  randn,
  functional as F,
  Tensor,
  noGrad,
} from '../../../../src/torch/index.js';

/** Runs in every rank of an initialized 2-rank group; returns what the test checks. */
export async function run(): Promise<Record<string, unknown>> {
  const rank = dist.getRank();
  const world = dist.getWorldSize();
  const B = 3;

  const makeModel = () =>
    new nn.Sequential(
      new nn.Conv2d(3, 4, 3, { padding: 1 }),
      new nn.BatchNorm2d(4),
      new nn.ReLU(),
      new nn.AdaptiveAvgPool2d(1),
      new nn.Flatten(),
      new nn.Linear(4, 2),
    );
  manualSeed(5);
  const single = makeModel();
  const synced = makeModel();
  noGrad(() => synced.parameters().forEach((p, i) => p.copy_(single.parameters()[i]!)));
  dist.convertSyncBatchNorm(synced);
  const out: Record<string, unknown> = { converted: synced.getModule('1') instanceof dist.SyncBatchNorm };
  const ddp = new dist.DistributedDataParallel(synced);
  const options = { lr: 0.1, momentum: 0.9, weightDecay: 1e-3 };
  const sgdSingle = new optim.SGD(single.parameters(), options);
  const sgdSynced = new optim.SGD(ddp.parameters(), options);

  for (let step = 0; step < 3; step++) {
    manualSeed(50 + step);
    const x = randn([B * world, 3, 5, 5])
      .mul(2)
      .add(1);
    const y = randn([B * world, 2]);
    single.zeroGrad({ setToNone: true });
    F.mseLoss(single.call(x), y).backward();
    sgdSingle.step();
    ddp.zeroGrad({ setToNone: true });
    F.mseLoss(ddp.call(x.narrow(0, rank * B, B)), y.narrow(0, rank * B, B)).backward();
    sgdSynced.step();
  }
  const diff = (a: Tensor[], b: Tensor[]) => Math.max(...a.map((t, i) => t.sub(b[i]!).abs().max().item()));
  out.paramDiff = diff(single.parameters(), synced.parameters());
  out.bufferDiff = diff(
    single.buffers().filter((b) => b.dtype !== 'int64'),
    synced.buffers().filter((b) => b.dtype !== 'int64'),
  );
  out.stateNames = Object.keys(synced.stateDict()).join(',') === Object.keys(single.stateDict()).join(',');
  // Eval mode uses the running statistics, as BatchNorm2d does.
  single.eval();
  ddp.eval();
  manualSeed(99);
  const probe = randn([2, 3, 5, 5]);
  out.evalDiff = diff([single.call(probe)], [ddp.call(probe)]);
  return out;
}
