// The process-wide default group (PyTorch's init_process_group / destroy_process_group).
import { setBackwardErrorDecorator } from '../backward-errors.js';
import { native } from '../native.js';
import { distNative, type DistributedBuildInfo } from './native.js';
import { rendezvousFromEnv } from './env.js';

export type Backend = 'gloo' | 'nccl';

export interface InitOptions {
  /** Default: nccl when this machine has CUDA and NCCL is built in, else gloo. */
  backend?: Backend;
  /** Collective timeout, and rendezvous timeout unless rendezvousTimeoutMs is given (default 30 minutes, like PyTorch). */
  timeoutMs?: number;
  /** How long rank 0 waits for every rank to reach the store, and the others for rank 0 (default timeoutMs). */
  rendezvousTimeoutMs?: number;
  /** Where to read the rendezvous from (default process.env); see rendezvousFromEnv. */
  env?: NodeJS.ProcessEnv;
}

interface GroupState {
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  backend: Backend;
  device: string;
}

const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;
let state: GroupState | null = null;

/** Whether this addon build has c10d (and at least one backend). */
export function isAvailable(): boolean {
  return unavailableReason() === null;
}

/** Why distributed is unavailable in this build (with the fix), or null. */
export function unavailableReason(): string | null {
  return distNative.distUnavailableReason();
}

/** What the build's c10d probes found: backends, and which variant of c10d's C++ API it compiled. */
export function buildInfo(): DistributedBuildInfo {
  return distNative.buildInfo().distributed;
}

/** The backends this build has ('gloo', 'nccl'). */
export function availableBackends(): Backend[] {
  return distNative.buildInfo().distributed.backends as Backend[];
}

function chooseBackend(requested: Backend | undefined, hasCuda: boolean): Backend {
  const built = availableBackends();
  const backend = requested ?? (hasCuda && built.includes('nccl') ? 'nccl' : 'gloo');
  if (!built.includes(backend)) {
    throw new Error(
      `distributed: backend '${backend}' is not built into this addon (built: ${built.join(', ') || 'none'}); ` +
        (backend === 'gloo'
          ? 'install libgloo-dev (or set GLOO_INCLUDE) and run npm run build:native'
          : 'build against a CUDA libtorch with nccl.h and the CUDA headers (NCCL_INCLUDE, CUDA_HOME)'),
    );
  }
  return backend;
}

/**
 * Joins the job described by the environment (torchrun's or SLURM's variables): rank 0 serves a
 * TCPStore at MASTER_ADDR:MASTER_PORT, every rank meets there and builds the process group. On a
 * CUDA machine each rank then works on cuda:LOCAL_RANK. Blocks until every rank has joined, or
 * throws after the timeout.
 */
export function initProcessGroup(options: InitOptions = {}): void {
  if (state !== null) throw new Error('distributed.initProcessGroup: the process group is already initialized');
  const reason = unavailableReason();
  if (reason !== null) throw new Error(`distributed: ${reason}`);
  const rendezvous = rendezvousFromEnv(options.env ?? process.env);
  if (rendezvous === null) {
    throw new Error(
      'distributed.initProcessGroup: the environment names no job: set RANK, WORLD_SIZE, MASTER_ADDR and ' +
        'MASTER_PORT (torchrun and clusterfit run do), or start the processes with srun',
    );
  }
  const deviceCount = native.cudaDeviceCount();
  const backend = chooseBackend(options.backend, deviceCount > 0);
  let device = 'cpu';
  if (deviceCount > 0) {
    if (rendezvous.localRank >= deviceCount) {
      throw new Error(
        `distributed: LOCAL_RANK=${rendezvous.localRank} but this machine has ${deviceCount} CUDA device(s): ` +
          'start at most one process per GPU',
      );
    }
    distNative.cudaSetDevice(rendezvous.localRank);
    device = `cuda:${rendezvous.localRank}`;
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new Error(`distributed.initProcessGroup: timeoutMs must be positive (got ${timeoutMs})`);
  const rendezvousTimeoutMs = options.rendezvousTimeoutMs ?? timeoutMs;
  if (!(rendezvousTimeoutMs > 0)) {
    throw new Error(`distributed.initProcessGroup: rendezvousTimeoutMs must be positive (got ${rendezvousTimeoutMs})`);
  }
  const { rank, worldSize, masterAddr, masterPort } = rendezvous;
  distNative.distInit(
    backend,
    rank,
    worldSize,
    masterAddr,
    masterPort,
    Math.round(timeoutMs),
    Math.round(rendezvousTimeoutMs),
  );
  state = {
    rank,
    worldSize,
    localRank: rendezvous.localRank,
    localWorldSize: rendezvous.localWorldSize,
    backend,
    device,
  };
  setBackwardErrorDecorator(nameRankInError);
}

// Gradient all-reduces fail inside backward (a peer died or timed out); say which rank saw it.
function nameRankInError(error: unknown): unknown {
  if (state === null || !(error instanceof Error) || error.message.startsWith('rank ')) return error;
  const peer = state.worldSize === 2 ? ` (peer: rank ${1 - state.rank})` : '';
  error.message = `rank ${state.rank} of ${state.worldSize} (${state.backend}): backward failed: ${error.message}${peer}`;
  return error;
}

/** Leaves the group; collectives throw afterwards until initProcessGroup is called again. */
export function destroyProcessGroup(): void {
  distNative.distDestroy();
  state = null;
  setBackwardErrorDecorator(null);
}

export function isInitialized(): boolean {
  return state !== null;
}

/** This process's rank (0 when not initialized). */
export function getRank(): number {
  return state?.rank ?? 0;
}

/** Processes in the group (1 when not initialized). */
export function getWorldSize(): number {
  return state?.worldSize ?? 1;
}

export function getLocalRank(): number {
  return state?.localRank ?? 0;
}

export function getLocalWorldSize(): number {
  return state?.localWorldSize ?? 1;
}

/** The group's backend, or null when not initialized. */
export function getBackend(): Backend | null {
  return state?.backend ?? null;
}

/** The device this rank computes on: 'cuda:LOCAL_RANK' on a CUDA machine, else 'cpu'. */
export function currentDevice(): string {
  return state?.device ?? 'cpu';
}

/** Throws the error every collective gives before initProcessGroup. */
export function requireInitialized(what: string): void {
  if (state === null) {
    throw new Error(
      `distributed.${what}: the process group is not initialized (call distributed.initProcessGroup() first)`,
    );
  }
}
