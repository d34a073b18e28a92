// One rank of the failure tests. FAILURE=kill: rank 1 SIGKILLs itself before step 2 and rank 0
// must get a JS Error out of DDP's backward. FAILURE=hang: rank 1 stays alive but blocked, and
// rank 0's all-reduce must fail with the process group's timeout. FAILURE=absent: rank 1 never
// joins, and rank 0's rendezvous must fail within its timeout.
import { distributed as dist, manualSeed, nn, randn, zeros } from '../../../../src/torch/index.js';
import { reportResult } from '../../../support/ranks.js';

// `node --test dist/test/` also runs this file on its own, outside any job: then it has nothing to do.
if (process.env.RANK === undefined) process.exit(0);

const mode = process.env.FAILURE;
const timeoutMs = Number(process.env.TIMEOUT_MS ?? 30_000);
if (mode === 'absent') {
  // Rank 1 never joins (a rank never started): rank 0's join must fail within the one timeout.
  if (process.env.RANK !== '0') process.exit(0);
  const start = Date.now();
  try {
    dist.initProcessGroup({ backend: 'gloo', timeoutMs });
    reportResult({ message: null, elapsedMs: Date.now() - start });
  } catch (error) {
    reportResult({ message: (error as Error).message, elapsedMs: Date.now() - start });
  }
  process.exit(0);
}
// Ranks may start seconds apart on a busy machine: only the collective timeout is short.
dist.initProcessGroup({ backend: 'gloo', timeoutMs, rendezvousTimeoutMs: 60_000 });
const rank = dist.getRank();

function attempt(fn: () => void): { message: string | null; elapsedMs: number } {
  const start = Date.now();
  try {
    fn();
    return { message: null, elapsedMs: Date.now() - start };
  } catch (error) {
    return { message: (error as Error).message, elapsedMs: Date.now() - start };
  }
}

if (mode === 'kill') {
  manualSeed(1);
  const model = new nn.Linear(8, 8);
  const ddp = new dist.DistributedDataParallel(model);
  for (let step = 0; step < 4; step++) {
    if (step === 2 && rank === 1) process.kill(process.pid, 'SIGKILL');
    const outcome = attempt(() =>
      ddp
        .call(randn([4, 8]))
        .sum()
        .backward(),
    );
    if (outcome.message !== null) {
      reportResult({ step, ...outcome });
      process.exit(0);
    }
  }
  reportResult({ step: null, message: null });
} else if (mode === 'hang') {
  dist.barrier();
  if (rank === 1) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(process.env.HANG_MS));
    process.exit(0);
  }
  reportResult(attempt(() => dist.allReduce(zeros([4]))));
}
