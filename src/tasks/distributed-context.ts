// A task's place in the process group: joins the group the launcher (ours, torchrun or srun)
// described in the environment, once per process, after checking that it is the group the config
// asks for (its LR scaling and batch assume NUM_NODES x NUM_PROC_PER_NODE replicas).
import type { Config } from '../config/index.js';
import { distributed, type Device } from '../torch/index.js';

export interface RankInfo {
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
}

const SINGLE: RankInfo = { rank: 0, worldSize: 1, localRank: 0, localWorldSize: 1 };

/** Joins (or has joined) the process group; a single process joins nothing. */
export function joinProcessGroup(cfg: Config, device: Device): RankInfo {
  const { NUM_NODES, NUM_PROC_PER_NODE, TIMEOUT_S, BACKEND } = cfg.DISTRIBUTED;
  const expected = NUM_NODES * NUM_PROC_PER_NODE;
  const found = distributed.rendezvousFromEnv(process.env);
  if (found === null) {
    if (expected === 1) return SINGLE;
    throw new Error(
      `the config asks for ${NUM_NODES} node(s) x ${NUM_PROC_PER_NODE} process(es), but this process was started ` +
        'alone (no RANK/WORLD_SIZE or SLURM_PROCID in its environment): start it with `clusterfit run`, torchrun or srun, ' +
        'or set config.DISTRIBUTED.NUM_NODES=1 config.DISTRIBUTED.NUM_PROC_PER_NODE=1',
    );
  }
  const info: RankInfo = {
    rank: found.rank,
    worldSize: found.worldSize,
    localRank: found.localRank,
    localWorldSize: found.localWorldSize,
  };
  if (found.worldSize !== expected) {
    throw new Error(
      `rank ${found.rank} was started in a group of ${found.worldSize} process(es) (WORLD_SIZE), but the config asks for ` +
        `DISTRIBUTED.NUM_NODES x NUM_PROC_PER_NODE = ${NUM_NODES} x ${NUM_PROC_PER_NODE} = ${expected}: ` +
        `set config.DISTRIBUTED.NUM_NODES and NUM_PROC_PER_NODE so that their product is ${found.worldSize}, ` +
        'or start as many processes as the config asks for',
    );
  }
  if (found.worldSize === 1 || distributed.isInitialized()) return info;
  if (!distributed.isAvailable()) {
    throw new Error(`the config asks for ${expected} processes, but ${distributed.unavailableReason() ?? ''}`);
  }
  // NCCL moves CUDA tensors only; a CPU run uses Gloo whatever DISTRIBUTED.BACKEND says (VISSL's
  // CPU configs say gloo, its GPU configs nccl).
  const backend = device === 'cpu' ? 'gloo' : BACKEND;
  try {
    distributed.initProcessGroup({ backend, timeoutMs: TIMEOUT_S * 1000 });
  } catch (error) {
    throw new Error(
      `rank ${found.rank} of ${found.worldSize} could not join the group at ${found.masterAddr}:${found.masterPort} ` +
        `within DISTRIBUTED.TIMEOUT_S=${TIMEOUT_S} s (${(error as Error).message}); check that node 0 runs with the same ` +
        'RUN_ID, that this machine can reach that address and port, and that every node was started',
    );
  }
  return info;
}
