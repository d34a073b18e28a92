// What every task needs before it starts: the device the config asks for, the seed, a run folder
// that can be written (checked up front, not after an hour of training), the resolved config saved
// in it, and the logger.
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { configToYaml, type Config } from '../config/index.js';
import { RunLogger } from '../engine/run-logger.js';
import type { StopSignal } from '../engine/stop-signal.js';
import { availableParallelism } from 'node:os';
import { blasWarning, cuda, manualSeed, setNumThreads, type Device } from '../torch/index.js';
import { applyBackendSwitches } from './mixed-precision.js';

export interface TaskOptions {
  logger?: RunLogger;
  stop?: StopSignal;
}

/** MACHINE.DEVICE as a torch device; 'gpu' without a CUDA build or device is an error. */
export function deviceOf(cfg: Config): Device {
  if (cfg.MACHINE.DEVICE === 'cpu') return 'cpu';
  if (cuda.deviceCount() === 0) {
    throw new Error(
      'MACHINE.DEVICE is gpu but no CUDA device is available to this build of the native addon; ' +
        'set config.MACHINE.DEVICE=cpu, or build against a CUDA libtorch (LIBTORCH_USE_PYTORCH=1 npm run build:native)',
    );
  }
  return 'cuda';
}

/** This build runs one process; a config that asks for more would scale the LR for a batch it never sees. */
export function requireSingleProcess(cfg: Config): void {
  const { NUM_NODES, NUM_PROC_PER_NODE } = cfg.DISTRIBUTED;
  if (NUM_NODES * NUM_PROC_PER_NODE !== 1) {
    throw new Error(
      `the config asks for ${NUM_NODES} node(s) x ${NUM_PROC_PER_NODE} process(es), but this version trains in one process; ` +
        'set config.DISTRIBUTED.NUM_NODES=1 config.DISTRIBUTED.NUM_PROC_PER_NODE=1 ' +
        '(the LR is then scaled for BATCHSIZE_PER_REPLICA images per step)',
    );
  }
}

/** Creates `dir` if needed and proves it can be written; the error names the folder. */
export function prepareOutputDir(dir: string, key: string): string {
  const path = resolve(dir);
  try {
    mkdirSync(path, { recursive: true });
    accessSync(path, constants.W_OK);
  } catch (error) {
    throw new Error(`${key}: the output folder '${path}' cannot be written (${(error as Error).message})`);
  }
  return path;
}

export interface TaskContext {
  cfg: Config;
  device: Device;
  dir: string;
  logger: RunLogger;
}

/**
 * Threads for libtorch's CPU kernels: OMP_NUM_THREADS when set (as PyTorch honours it), else one
 * per core, PyTorch's default (the addon alone would start with one and leave cores idle). On a
 * quiet 2-core machine two threads train the demo's ResNet-20 in 3.2 s per epoch against 4.7 s
 * with one, loader workers included; on a machine crowded by other work, OMP_NUM_THREADS=1 can win.
 */
function cpuThreads(): number {
  const fromEnv = Number(process.env.OMP_NUM_THREADS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : availableParallelism();
}

let blasChecked = false;
/** Says once per process (a pipeline starts several tasks) when OpenBLAS runs kernels far older
 * than the CPU, with the fix. */
function warnOnceAboutSlowBlas(logger: RunLogger): void {
  if (blasChecked) return;
  blasChecked = true;
  const warning = blasWarning();
  if (warning !== null) logger.warn(warning);
}

/** Device, seed, CPU threads, output folder (with the resolved config saved as `<name>_config.yaml`) and logger. */
export function startTask(cfg: Config, dir: string, dirKey: string, name: string, options: TaskOptions): TaskContext {
  requireSingleProcess(cfg);
  const device = deviceOf(cfg);
  const out = prepareOutputDir(dir, dirKey);
  writeFileSync(join(out, `${name}_config.yaml`), configToYaml(cfg));
  manualSeed(cfg.SEED_VALUE);
  setNumThreads(cpuThreads());
  applyBackendSwitches(cfg);
  const logger = options.logger ?? new RunLogger({ metricsFile: join(out, 'metrics.jsonl') });
  if (device === 'cpu') warnOnceAboutSlowBlas(logger);
  return { cfg, device, dir: out, logger };
}
