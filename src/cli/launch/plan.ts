// What `clusterfit run` should be in this process, decided from DISTRIBUTED.* and the environment,
// without side effects: a worker of a group someone else started (torchrun sets RANK, srun sets
// SLURM_PROCID), the whole run in this one process, or the node agent that starts this machine's
// NUM_PROC_PER_NODE workers and supervises them. Multi-node joins follow VISSL: every node runs the
// same command with INIT_METHOD tcp and RUN_ID <node 0's host>:<port>, plus its own `node_id=K`.
import type { Config } from '../../config/index.js';

export type DistributedConfig = Config['DISTRIBUTED'];

/** Where the workers meet: node 0's TCP store. `port` 'auto' is a free port of this machine. */
export interface Rendezvous {
  masterAddr: string;
  masterPort: number | 'auto';
  /** Where the user set them, for messages: the config key or the environment variables. */
  setBy: string;
}

export type LaunchPlan =
  /** One process, no process group (NUM_NODES x NUM_PROC_PER_NODE = 1 and no launcher around us). */
  | { kind: 'single' }
  /** A worker of a group started by torchrun, srun or our own agent. */
  | { kind: 'worker'; startedBy: 'torchrun' | 'srun' }
  /** The agent of node `nodeId`: starts `procsPerNode` workers with global ranks nodeId*procsPerNode+i. */
  | { kind: 'agent'; nodeId: number; numNodes: number; procsPerNode: number; rendezvous: Rendezvous };

const NODE_ID_HELP =
  'give each machine its own node_id=K (0 on the machine named in RUN_ID, then 1..NUM_NODES-1), as VISSL does';

function positiveInt(value: number, key: string): number {
  if (!Number.isInteger(value) || value < 1) throw new Error(`config.${key} is ${value}: it must be an integer >= 1`);
  return value;
}

/** `host:port` (IPv6 as [addr]:port) of DISTRIBUTED.RUN_ID. */
export function parseRunId(runId: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(runId.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || !(port > 0 && port < 65536)) {
    throw new Error(
      `config.DISTRIBUTED.RUN_ID is '${runId}': with INIT_METHOD tcp it must be 'auto' (one machine) or ` +
        '<host of node 0>:<free port>, e.g. 10.0.0.1:29500',
    );
  }
  return { host: match[1] as string, port };
}

function rendezvousOf(dist: DistributedConfig, env: NodeJS.ProcessEnv): Rendezvous {
  switch (dist.INIT_METHOD) {
    case 'tcp':
      if (dist.RUN_ID === 'auto') {
        if (dist.NUM_NODES > 1) {
          throw new Error(
            `config.DISTRIBUTED.RUN_ID=auto picks a free port on one machine, but NUM_NODES is ${dist.NUM_NODES}: ` +
              'give every node RUN_ID=<host of node 0>:<port> (e.g. config.DISTRIBUTED.RUN_ID=10.0.0.1:29500)',
          );
        }
        return { masterAddr: '127.0.0.1', masterPort: 'auto', setBy: 'config.DISTRIBUTED.RUN_ID' };
      }
      {
        const { host, port } = parseRunId(dist.RUN_ID);
        return { masterAddr: host, masterPort: port, setBy: 'config.DISTRIBUTED.RUN_ID' };
      }
    case 'env': {
      const port = Number(env.MASTER_PORT);
      if (!env.MASTER_ADDR || !(Number.isInteger(port) && port > 0 && port < 65536)) {
        throw new Error(
          'config.DISTRIBUTED.INIT_METHOD=env reads node 0 from MASTER_ADDR and MASTER_PORT, which are ' +
            `${env.MASTER_ADDR ? `'${env.MASTER_ADDR}'` : 'unset'} and ${env.MASTER_PORT ? `'${env.MASTER_PORT}'` : 'unset'}: ` +
            'export both on every node, or use INIT_METHOD=tcp with RUN_ID=<host>:<port>',
        );
      }
      return {
        masterAddr: env.MASTER_ADDR,
        masterPort: port,
        setBy: 'MASTER_ADDR and MASTER_PORT (config.DISTRIBUTED.INIT_METHOD=env)',
      };
    }
    case 'file':
      throw new Error(
        'config.DISTRIBUTED.INIT_METHOD=file is not supported (this build rendezvouses through a TCP store): ' +
          'use INIT_METHOD=tcp with RUN_ID=auto on one machine or RUN_ID=<host of node 0>:<port> on several',
      );
  }
}

/**
 * The plan for this process. `nodeIdWord` is the `node_id=K` command word, when given. A process
 * with RANK in its environment is a worker whatever the config says (startTask then checks that
 * the world size torchrun gave agrees with NUM_NODES x NUM_PROC_PER_NODE).
 */
export function planLaunch(dist: DistributedConfig, env: NodeJS.ProcessEnv, nodeIdWord?: string): LaunchPlan {
  if (env.RANK !== undefined && env.RANK !== '') return { kind: 'worker', startedBy: 'torchrun' };
  if (env.SLURM_PROCID !== undefined && Number(env.SLURM_NTASKS) > 1) return { kind: 'worker', startedBy: 'srun' };
  const numNodes = positiveInt(dist.NUM_NODES, 'DISTRIBUTED.NUM_NODES');
  const procsPerNode = positiveInt(dist.NUM_PROC_PER_NODE, 'DISTRIBUTED.NUM_PROC_PER_NODE');
  if (!(dist.TIMEOUT_S > 0)) {
    throw new Error(`config.DISTRIBUTED.TIMEOUT_S is ${dist.TIMEOUT_S}: give the seconds a rank may wait, e.g. 300`);
  }
  if (numNodes * procsPerNode === 1) {
    if (nodeIdWord !== undefined && nodeIdWord !== '0')
      throw new Error(`node_id=${nodeIdWord} was given but config.DISTRIBUTED.NUM_NODES is 1`);
    return { kind: 'single' };
  }
  let nodeId = 0;
  if (nodeIdWord !== undefined) {
    nodeId = Number(nodeIdWord);
    if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId >= numNodes) {
      throw new Error(
        `node_id=${nodeIdWord} is not a node of config.DISTRIBUTED.NUM_NODES=${numNodes}: ${NODE_ID_HELP}`,
      );
    }
  } else if (numNodes > 1) {
    throw new Error(`config.DISTRIBUTED.NUM_NODES is ${numNodes} but this command has no node_id=K: ${NODE_ID_HELP}`);
  }
  return { kind: 'agent', nodeId, numNodes, procsPerNode, rendezvous: rendezvousOf(dist, env) };
}

/** The torchrun environment of local worker `localRank` of an agent's plan, on port `port`. */
export function workerEnv(
  plan: Extract<LaunchPlan, { kind: 'agent' }>,
  port: number,
  localRank: number,
  cores: number,
): Record<string, string> {
  const worldSize = plan.numNodes * plan.procsPerNode;
  return {
    MASTER_ADDR: plan.rendezvous.masterAddr,
    MASTER_PORT: String(port),
    RANK: String(plan.nodeId * plan.procsPerNode + localRank),
    WORLD_SIZE: String(worldSize),
    LOCAL_RANK: String(localRank),
    LOCAL_WORLD_SIZE: String(plan.procsPerNode),
    GROUP_RANK: String(plan.nodeId),
    // torchrun's rule, so workers do not oversubscribe the cores: cores / workers, at least one.
    OMP_NUM_THREADS: String(Math.max(1, Math.floor(cores / plan.procsPerNode))),
  };
}
