// `clusterfit run` on one or many processes: decides this process' role (see plan.ts) and, as the
// node agent, checks the rendezvous address and starts and supervises this machine's workers.
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { CONFIG_WARNED_ENV, type Config } from '../../config/index.js';
import { LOCK_NAME, lockRunFolder } from '../../engine/run-lock.js';
import { taskOutputDir, taskOutputKey } from '../../tasks/output-dir.js';
import { checkDeviceLayout } from './layout.js';
import { planLaunch, workerEnv } from './plan.js';
import { assertPortFree, assertResolves, freePort } from './ports.js';
import { superviseWithRestarts } from './restarts.js';
import { supervise, type WorkerSpec } from './supervisor.js';
import { TERMINAL_ENV } from '../../engine/run-logger.js';
import { AGENT_PID_ENV, exitWhenAgentDies } from './worker.js';

export { planLaunch, parseRunId, workerEnv, type LaunchPlan } from './plan.js';

export interface LaunchOptions {
  /** The run folder (default: the first config's output folder); the workers' logs go to its `logs`. */
  runDir?: string;
  /** What set runDir, for messages (default: the config key of the output folder). */
  runDirKey?: string;
  /** --json: the launcher's events (restarts) as JSON lines on stdout, beside rank 0's. */
  json?: boolean;
}

/**
 * Runs `runHere` in this process when it is the whole run or one worker of it; otherwise starts
 * NUM_PROC_PER_NODE copies of this command as workers. Resolves with the status the command must
 * exit with: `runHere`'s, or the workers' (0 only when every worker finished; 130 when they stopped
 * on request; otherwise the failed rank's); a failed worker restarts them all up to
 * DISTRIBUTED.MAX_RESTARTS times (restarts.ts). `cfg` may be several configs run on the same processes
 * (the pipeline's stages): the first gives the layout, and each one's MACHINE.DEVICE must fit it.
 */
export async function launch(
  cfg: Config | readonly Config[],
  nodeIdWord: string | undefined,
  runHere: () => Promise<number>,
  options: LaunchOptions = {},
): Promise<number> {
  const configs = Array.isArray(cfg) ? cfg : [cfg as Config];
  const first = configs[0]!;
  const plan = planLaunch(first.DISTRIBUTED, process.env, nodeIdWord);
  if (plan.kind === 'worker') {
    exitWhenAgentDies();
    return runHere();
  }
  const { cuda } = await import('../../torch/index.js');
  checkDeviceLayout(configs, plan.kind === 'single' ? 1 : plan.procsPerNode, cuda.deviceCount());
  if (plan.kind === 'single') return runHere();
  const { masterAddr, masterPort, setBy } = plan.rendezvous;
  if (masterPort !== 'auto') {
    await assertResolves(masterAddr, setBy);
    if (plan.nodeId === 0) await assertPortFree(masterPort, setBy);
  }
  // The folder is locked after the checks of the rendezvous, before any log is made or worker
  // started: a second launch into a running run's folder is refused without touching its logs.
  // Rank 0 works under this lock (see run-lock).
  const runDir = resolve(options.runDir ?? taskOutputDir(first));
  mkdirSync(runDir, { recursive: true });
  lockRunFolder(
    runDir,
    options.runDirKey ?? taskOutputKey(first),
    (message) => process.stderr.write(`warning: ${message}\n`),
    plan.nodeId === 0 ? LOCK_NAME : `.clusterfit.node${plan.nodeId}.lock`,
  );
  const cores = availableParallelism();
  const workersOn = (port: number): WorkerSpec[] =>
    Array.from({ length: plan.procsPerNode }, (_, localRank) => {
      const env: NodeJS.ProcessEnv = { ...process.env, ...workerEnv(plan, port, localRank, cores) };
      // A thread count the user chose wins, as under torchrun.
      if (process.env.OMP_NUM_THREADS) env.OMP_NUM_THREADS = process.env.OMP_NUM_THREADS;
      env[AGENT_PID_ENV] = String(process.pid);
      env[CONFIG_WARNED_ENV] = '1'; // this agent said them when it read the config
      // The echoed worker writes into pipes, but for a person at a terminal: it should draw the
      // progress bar and keep the JSON lines in metrics.jsonl, as a single process would.
      if (localRank === 0) {
        if (process.stdout.isTTY) env[TERMINAL_ENV.stdout] = '1';
        if (process.stderr.isTTY) env[TERMINAL_ENV.stderr] = '1';
      }
      return { rank: Number(env.RANK), env, echo: localRank === 0 };
    });
  const maxRestarts = first.DISTRIBUTED.MAX_RESTARTS;
  const report = (line: string): void => void process.stderr.write(`${line}\n`);
  return superviseWithRestarts({
    maxRestarts,
    report,
    ...(options.json ? { event: (event) => void process.stdout.write(`${JSON.stringify(event)}\n`) } : {}),
    async start(restart) {
      // On one machine each start gets a fresh port: the last start's store may still hold its own.
      const port = masterPort === 'auto' ? await freePort() : masterPort;
      report(
        `clusterfit launcher: node ${plan.nodeId} of ${plan.numNodes}, ${plan.procsPerNode} worker(s), ` +
          `rendezvous at ${masterAddr}:${port}`,
      );
      return supervise({
        command: process.execPath,
        args: [...process.execArgv, ...process.argv.slice(1)],
        workers: workersOn(port),
        logDir: join(runDir, 'logs'),
        timeoutS: first.DISTRIBUTED.TIMEOUT_S,
        report,
        ...(restart > 0 ? { header: `restart ${restart} of ${maxRestarts}` } : {}),
      });
    },
  });
}
