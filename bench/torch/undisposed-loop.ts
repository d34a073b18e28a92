// The GC safety net under a training loop that never disposes anything: a CIFAR ResNet-20 (batch
// 8, SGD with momentum) whose loss, logits and batches are simply dropped, awaiting between steps
// as any async loop does. The addon counts libtorch's CPU allocations toward V8's external memory,
// so V8 collects the dropped handles and their finalizers free what they hold. Prints RSS after
// warm-up and at the end, the growth, and handles reclaimed by the GC; TIDY=1 runs the same loop
// inside tidy() for comparison, TRACE=1 prints memory every 25 steps.
//
//   node dist/bench/torch/undisposed-loop.js [--steps 1500] [--warmup 100]
import { parseArgs } from 'node:util';
import { CifarResNet } from '../../src/models/cifar-resnet.js';
import * as torch from '../../src/torch/index.js';
import { SGD } from '../../src/torch/optim/index.js';

export interface LoopReport {
  rssAfterWarmupMb: number;
  rssEndMb: number;
  peakRssMb: number;
  reclaimedByGc: number;
  liveTensorsAfterWarmup: number;
  liveTensorsEnd: number;
}

/** Runs the loop (undisposed, or inside tidy); RSS figures in MB. */
export async function trainingLoop(warmupSteps: number, measuredSteps: number, useTidy = false): Promise<LoopReport> {
  torch.setNumThreads(1);
  torch.manualSeed(0);
  const model = new CifarResNet({ depth: 20 });
  const optimizer = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const mb = () => process.memoryUsage().rss / 2 ** 20;
  let rssAfterWarmup = 0;
  let liveAfterWarmup = 0;
  let peak = 0;
  const reclaimedBefore = torch.memoryStats().reclaimedByGc;
  const step = () => {
    const images = torch.randn([8, 3, 32, 32]);
    const labels = torch.randint(0, 10, [8]);
    const loss = torch.functional.crossEntropy(model.call(images), labels);
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
  };
  for (let i = 0; i < warmupSteps + measuredSteps; i++) {
    if (useTidy) torch.tidy(step);
    else step();
    await new Promise((resolve) => setImmediate(resolve));
    if (i === warmupSteps - 1) {
      rssAfterWarmup = mb();
      liveAfterWarmup = torch.memoryStats().liveTensors;
    }
    peak = Math.max(peak, mb());
    if (process.env.TRACE && i % 25 === 0) {
      const s = torch.memoryStats();
      const m = process.memoryUsage();
      console.log(
        `step ${i}: rss ${mb().toFixed(0)} MB, allocator ${(s.allocatorCpuBytes / 2 ** 20).toFixed(0)} MB, ` +
          `${s.liveTensors} live, ${s.reclaimedByGc} reclaimed, heap ${(m.heapUsed / 2 ** 20).toFixed(0)} MB`,
      );
    }
  }
  const report = {
    rssAfterWarmupMb: rssAfterWarmup,
    rssEndMb: mb(),
    peakRssMb: peak,
    reclaimedByGc: torch.memoryStats().reclaimedByGc - reclaimedBefore,
    liveTensorsAfterWarmup: liveAfterWarmup,
    liveTensorsEnd: torch.memoryStats().liveTensors,
  };
  optimizer.dispose();
  model.dispose();
  return report;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { steps: { type: 'string', default: '1500' }, warmup: { type: 'string', default: '100' } },
  });
  const useTidy = Boolean(process.env.TIDY);
  const report = await trainingLoop(Number(values.warmup), Number(values.steps), useTidy);
  console.log(
    `${useTidy ? 'tidy' : 'undisposed'} ResNet-20 loop, ${values.steps} steps after ${values.warmup} warm-up: RSS ` +
      `${report.rssAfterWarmupMb.toFixed(0)} -> ${report.rssEndMb.toFixed(0)} MB ` +
      `(growth ${(report.rssEndMb - report.rssAfterWarmupMb).toFixed(0)} MB, peak ${report.peakRssMb.toFixed(0)} MB), ` +
      `${report.reclaimedByGc} handles reclaimed by the GC, live tensors ${report.liveTensorsAfterWarmup} -> ${report.liveTensorsEnd}`,
  );
}
