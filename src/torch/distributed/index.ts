// clusterfit/torch distributed: torch.distributed over PyTorch's own c10d (Gloo on CPU, NCCL on
// CUDA), with DistributedDataParallel and SyncBatchNorm. Names follow PyTorch in camelCase.
export type { DistributedBuildInfo } from './native.js';
export { rendezvousFromEnv, slurmDefaultPort, type Rendezvous } from './env.js';
export { expandHostlist, tasksPerNode } from './hostlist.js';
export {
  initProcessGroup,
  destroyProcessGroup,
  isAvailable,
  unavailableReason,
  availableBackends,
  buildInfo,
  isInitialized,
  getRank,
  getWorldSize,
  getLocalRank,
  getLocalWorldSize,
  getBackend,
  currentDevice,
  type Backend,
  type InitOptions,
} from './process-group.js';
export {
  allReduce,
  allReduceAsync,
  broadcast,
  broadcastAsync,
  allGather,
  allGatherAsync,
  reduceScatter,
  barrier,
  barrierAsync,
  broadcastCoalesced,
  type ReduceOp,
} from './collectives.js';
export { DistributedDataParallel, type DdpOptions } from './ddp.js';
export { SyncBatchNorm, convertSyncBatchNorm } from './sync-batchnorm.js';
// A type the API above names, so the reference documents it too.
export type { NativeReduceOp } from './native.js';
