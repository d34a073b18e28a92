// What every task needs before it starts: the device the config asks for, the seed, a run folder
// that can be written (checked up front, not after an hour of training), the resolved config saved
// in it, and the logger.
import { accessSync, constants, writeFileSync } from 'node:fs';
import { makeDirectories } from '../torch/io/file-bytes.js';
import { join, resolve } from 'node:path';
import { configToYaml, type Config } from '../config/index.js';
import { RunLogger, type ProgressEvent, type RunLoggerOptions } from '../engine/run-logger.js';
import { lockRunFolder } from '../engine/run-lock.js';
import type { StopSignal } from '../engine/stop-signal.js';
import { availableParallelism } from 'node:os';
import { joinProcessGroup, type RankInfo } from './distributed-context.js';
import { blasWarning, cuda, manualSeed, setNumThreads, type Device } from '../torch/index.js';
import { applyBackendSwitches } from './mixed-precision.js';
import { StageRecorder } from './stage-state.js';

export interface TaskOptions {
  /** A logger to use instead of the task's own (which appends to metrics.jsonl in the run folder). */
  logger?: RunLogger;
  /** Where the task's own logger sends messages and JSON lines: by default messages go to stderr
   * and JSON lines only to metrics.jsonl; `{ messages: () => {} }` silences it, `{ quiet: true }` too. */
  log?: Omit<RunLoggerOptions, 'metricsFile' | 'onProgress'>;
  /** Called on every progress update (training steps, feature extraction), in images. */
  onProgress?: (event: ProgressEvent) => void;
  /** Stops the task at the next step (with a checkpoint) once requested. */
  stop?: StopSignal;
}

/**
 * The logger a task or pipeline writes with: the caller's, or one writing `<dir>/metrics.jsonl`.
 * Only rank 0 writes metrics.jsonl, prints JSON lines and draws the progress bar; the other ranks
 * only tell their own log (the launcher's logs/rank{R}.log) what they do.
 */
export function taskLogger(options: TaskOptions, dir: string, rank = 0): RunLogger {
  if (options.logger) return options.logger;
  if (rank !== 0) return new RunLogger({ ...options.log, jsonToStdout: false, progressBar: false });
  return new RunLogger({ ...options.log, metricsFile: join(dir, 'metrics.jsonl'), onProgress: options.onProgress });
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

/** Each worker on a machine drives its own GPU, cuda:LOCAL_RANK. */
function deviceOnRank(device: Device, ranks: RankInfo): Device {
  return device === 'cuda' && ranks.worldSize > 1 ? `cuda:${ranks.localRank}` : device;
}

/** Creates `dir` if needed and proves it can be written; the error names the folder. */
export function prepareOutputDir(dir: string, key: string): string {
  const path = resolve(dir);
  try {
    makeDirectories(path);
    accessSync(path, constants.W_OK);
  } catch (error) {
    throw new Error(`${key}: the output folder '${path}' cannot be written (${(error as Error).message})`);
  }
  return path;
}

export interface TaskContext {
  cfg: Config;
  device: Device;
  ranks: RankInfo;
  dir: string;
  logger: RunLogger;
  /** The stage's state record (`<name>_state.json`), which `status`, the explorer and the report read. */
  record: StageRecorder;
}

/**
 * Threads for libtorch's CPU kernels: OMP_NUM_THREADS when set (as PyTorch honours it), else one
 * per core, PyTorch's default (the addon alone would start with one and leave cores idle). On a
 * quiet 2-core machine two threads train the demo's ResNet-20 in 3.2 s per epoch against 4.7 s
 * with one, loader workers included; on a machine crowded by other work, OMP_NUM_THREADS=1 can win.
 */
function cpuThreads(localWorldSize: number): number {
  const fromEnv = Number(process.env.OMP_NUM_THREADS);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
  // Workers on one machine share its cores (torchrun's rule; our launcher sets OMP_NUM_THREADS so).
  return Math.max(1, Math.floor(availableParallelism() / localWorldSize));
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

/**
 * Device, seed, CPU threads, output folder (with the resolved config saved as `<name>_config.yaml`),
 * logger, and the stage's state record, which starts as running: the task ends it through
 * `ctx.record.track`.
 */
export function startTask(cfg: Config, dir: string, dirKey: string, name: string, options: TaskOptions): TaskContext {
  const ranks = joinProcessGroup(cfg, deviceOf(cfg));
  const device = deviceOnRank(deviceOf(cfg), ranks);
  const out = prepareOutputDir(dir, dirKey);
  const logger = taskLogger(options, out, ranks.rank);
  // One rank holds the folder's lock for the whole job; the others write only where it tells them.
  const lockPid = ranks.rank === 0 ? lockRunFolder(out, dirKey, (message) => logger.warn(message)) : undefined;
  if (ranks.rank === 0) writeFileSync(join(out, `${name}_config.yaml`), configToYaml(cfg));
  const record = new StageRecorder(out, name, {
    writer: ranks.rank === 0,
    ...(lockPid !== undefined ? { lockPid } : {}),
    ...(name === 'train' ? { epochs: cfg.OPTIMIZER.num_epochs } : {}),
  });
  // Tells readers of a shared metrics file (a pipeline's) whose lines follow, from the first one on.
  logger.metrics('stage_start', { stage: name, dir: out });
  manualSeed(cfg.SEED_VALUE);
  setNumThreads(cpuThreads(ranks.localWorldSize));
  applyBackendSwitches(cfg);
  if (device === 'cpu') warnOnceAboutSlowBlas(logger);
  return { cfg, device, ranks, dir: out, logger, record };
}
