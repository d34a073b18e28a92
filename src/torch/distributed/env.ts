// Where this process sits in a multi-process job, read from the environment the way PyTorch's
// env:// rendezvous reads it: torchrun's variables first, then SLURM's (srun starts one task per
// process and sets SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID and the node list).
import { expandHostlist, tasksPerNode } from './hostlist.js';

export interface Rendezvous {
  rank: number;
  worldSize: number;
  /** This process's index on its machine (its GPU on a CUDA machine). */
  localRank: number;
  /** Processes on this machine. */
  localWorldSize: number;
  masterAddr: string;
  masterPort: number;
  /** Which launcher's variables were read. */
  source: 'torchrun' | 'slurm';
}

type Env = NodeJS.ProcessEnv;

function integer(env: Env, name: string, min: number): number {
  const text = env[name];
  const value = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isInteger(value) || value < min) {
    throw new Error(`distributed: environment variable ${name}='${text}' must be an integer >= ${min}`);
  }
  return value;
}

function port(env: Env, name: string): number {
  const value = integer(env, name, 1);
  if (value > 65535) throw new Error(`distributed: ${name}=${value} is not a TCP port (1..65535)`);
  return value;
}

function fromTorchrun(env: Env): Rendezvous {
  const worldSize = integer(env, 'WORLD_SIZE', 1);
  const rank = integer(env, 'RANK', 0);
  if (rank >= worldSize) throw new Error(`distributed: RANK=${rank} must be below WORLD_SIZE=${worldSize}`);
  const masterAddr = env.MASTER_ADDR;
  if (!masterAddr) {
    throw new Error('distributed: RANK is set but MASTER_ADDR is not: set MASTER_ADDR and MASTER_PORT (torchrun does)');
  }
  if (env.MASTER_PORT === undefined) {
    throw new Error('distributed: RANK is set but MASTER_PORT is not: set MASTER_PORT (torchrun does)');
  }
  const localWorldSize = env.LOCAL_WORLD_SIZE === undefined ? worldSize : integer(env, 'LOCAL_WORLD_SIZE', 1);
  const localRank = env.LOCAL_RANK === undefined ? rank % localWorldSize : integer(env, 'LOCAL_RANK', 0);
  return {
    rank,
    worldSize,
    localRank,
    localWorldSize,
    masterAddr,
    masterPort: port(env, 'MASTER_PORT'),
    source: 'torchrun',
  };
}

/** The port every task of a SLURM job derives alike when MASTER_PORT is not given. */
export function slurmDefaultPort(jobId: number): number {
  return 15000 + (jobId % 20000);
}

function fromSlurm(env: Env): Rendezvous {
  const rank = integer(env, 'SLURM_PROCID', 0);
  const worldSize = integer(env, 'SLURM_NTASKS', 1);
  const localRank = env.SLURM_LOCALID === undefined ? 0 : integer(env, 'SLURM_LOCALID', 0);
  const nodeId = env.SLURM_NODEID === undefined ? 0 : integer(env, 'SLURM_NODEID', 0);
  const perNode = env.SLURM_TASKS_PER_NODE ? tasksPerNode(env.SLURM_TASKS_PER_NODE) : [];
  const localWorldSize =
    env.SLURM_NTASKS_PER_NODE !== undefined ? integer(env, 'SLURM_NTASKS_PER_NODE', 1) : (perNode[nodeId] ?? worldSize);
  const nodeList = env.SLURM_JOB_NODELIST ?? env.SLURM_NODELIST;
  const masterAddr = env.MASTER_ADDR ?? (nodeList ? expandHostlist(nodeList)[0] : undefined);
  if (!masterAddr) {
    throw new Error('distributed: under SLURM, set MASTER_ADDR or run inside an allocation (SLURM_JOB_NODELIST)');
  }
  let masterPort: number;
  if (env.MASTER_PORT !== undefined) masterPort = port(env, 'MASTER_PORT');
  else if (env.SLURM_JOB_ID !== undefined) masterPort = slurmDefaultPort(integer(env, 'SLURM_JOB_ID', 0));
  else throw new Error('distributed: under SLURM, set MASTER_PORT (SLURM_JOB_ID is not set to derive one)');
  return { rank, worldSize, localRank, localWorldSize, masterAddr, masterPort, source: 'slurm' };
}

/**
 * This process's place in the job: torchrun's RANK/WORLD_SIZE/LOCAL_RANK/LOCAL_WORLD_SIZE/
 * MASTER_ADDR/MASTER_PORT, or SLURM's variables when srun started several tasks; null when
 * neither says this is one of several processes. Malformed values throw, naming the variable.
 */
export function rendezvousFromEnv(env: Env = process.env): Rendezvous | null {
  if (env.RANK !== undefined || env.WORLD_SIZE !== undefined) return fromTorchrun(env);
  if (env.SLURM_PROCID !== undefined && env.SLURM_NTASKS !== undefined && Number(env.SLURM_NTASKS) > 1) {
    return fromSlurm(env);
  }
  return null;
}
