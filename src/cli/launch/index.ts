// `clusterfit run` on one or many processes: decides this process' role (see plan.ts) and, as the
// node agent, checks the rendezvous address and starts and supervises this machine's workers.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../config/index.js';
import { taskOutputDir } from '../../tasks/output-dir.js';
import { planLaunch, workerEnv } from './plan.js';
import { assertPortFree, assertResolves, freePort } from './ports.js';
import { supervise } from './supervisor.js';
import { TERMINAL_ENV } from '../../engine/run-logger.js';
import { AGENT_PID_ENV, exitWhenAgentDies } from './worker.js';

export { planLaunch, parseRunId, workerEnv, type LaunchPlan } from './plan.js';

/**
 * Each worker of a GPU run drives its own device (cuda:LOCAL_RANK): more workers than devices here
 * cannot work, and is refused before any process starts (VISSL's default of 8 workers on a
 * machine without a GPU, say).
 */
async function assertDevicesFor(cfg: Config, procsPerNode: number): Promise<void> {
  if (cfg.MACHINE.DEVICE !== 'gpu') return;
  const { cuda } = await import('../../torch/index.js');
  const devices = cuda.deviceCount();
  if (devices >= procsPerNode) return;
  throw new Error(
    `config.DISTRIBUTED.NUM_PROC_PER_NODE is ${procsPerNode} with MACHINE.DEVICE=gpu (one GPU per worker), but ` +
      `${devices === 0 ? 'no CUDA device is available to this build here' : `this machine has ${devices} CUDA device(s)`}: ` +
      `${devices > 0 ? `set config.DISTRIBUTED.NUM_PROC_PER_NODE=${devices}, or ` : ''}set config.MACHINE.DEVICE=cpu`,
  );
}

/**
 * Runs `runHere` in this process when it is the whole run or one worker of it; otherwise starts
 * NUM_PROC_PER_NODE copies of this command as workers and sets the exit status from theirs. The
 * workers' logs go to `logDir` (default: `logs` in the config's output folder).
 */
export async function launch(
  cfg: Config,
  nodeIdWord: string | undefined,
  runHere: () => Promise<void>,
  logDir = join(taskOutputDir(cfg), 'logs'),
): Promise<void> {
  const plan = planLaunch(cfg.DISTRIBUTED, process.env, nodeIdWord);
  if (plan.kind === 'single') return runHere();
  if (plan.kind === 'worker') {
    exitWhenAgentDies();
    return runHere();
  }
  await assertDevicesFor(cfg, plan.procsPerNode);
  const { masterAddr, masterPort, setBy } = plan.rendezvous;
  let port: number;
  if (masterPort === 'auto') {
    port = await freePort();
  } else {
    port = masterPort;
    await assertResolves(masterAddr, setBy);
    if (plan.nodeId === 0) await assertPortFree(port, setBy);
  }
  const cores = availableParallelism();
  const workers = Array.from({ length: plan.procsPerNode }, (_, localRank) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...workerEnv(plan, port, localRank, cores) };
    // A thread count the user chose wins, as under torchrun.
    if (process.env.OMP_NUM_THREADS) env.OMP_NUM_THREADS = process.env.OMP_NUM_THREADS;
    env[AGENT_PID_ENV] = String(process.pid);
    // The echoed worker writes into pipes, but for a person at a terminal: it should draw the
    // progress bar and keep the JSON lines in metrics.jsonl, as a single process would.
    if (localRank === 0) {
      if (process.stdout.isTTY) env[TERMINAL_ENV.stdout] = '1';
      if (process.stderr.isTTY) env[TERMINAL_ENV.stderr] = '1';
    }
    return { rank: Number(env.RANK), env, echo: localRank === 0 };
  });
  process.stderr.write(
    `clusterfit launcher: node ${plan.nodeId} of ${plan.numNodes}, ${plan.procsPerNode} worker(s), ` +
      `rendezvous at ${masterAddr}:${port}\n`,
  );
  process.exitCode = await supervise({
    command: process.execPath,
    args: [...process.execArgv, ...process.argv.slice(1)],
    workers,
    logDir,
    timeoutS: cfg.DISTRIBUTED.TIMEOUT_S,
  });
}
