import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { distributed as dist } from '../../../src/torch/index.js';
import { freePort } from '../../support/ranks.js';

test('rendezvousFromEnv reads torchrun variables', () => {
  const env = {
    RANK: '3',
    WORLD_SIZE: '8',
    LOCAL_RANK: '1',
    LOCAL_WORLD_SIZE: '2',
    MASTER_ADDR: 'n1',
    MASTER_PORT: '29500',
  };
  assert.deepEqual(dist.rendezvousFromEnv(env), {
    rank: 3,
    worldSize: 8,
    localRank: 1,
    localWorldSize: 2,
    masterAddr: 'n1',
    masterPort: 29500,
    source: 'torchrun',
  });
  assert.equal(dist.rendezvousFromEnv({}), null);
  assert.throws(() => dist.rendezvousFromEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_PORT: '1' }), /MASTER_ADDR/);
  assert.throws(() => dist.rendezvousFromEnv({ ...env, RANK: 'x' }), /RANK='x' must be an integer/);
  assert.throws(() => dist.rendezvousFromEnv({ ...env, RANK: '8' }), /RANK=8 must be below WORLD_SIZE=8/);
  assert.throws(() => dist.rendezvousFromEnv({ ...env, MASTER_PORT: '70000' }), /not a TCP port/);
});

test('rendezvousFromEnv reads SLURM variables, the master being the first host of the node list', () => {
  const env = {
    SLURM_PROCID: '5',
    SLURM_NTASKS: '8',
    SLURM_LOCALID: '1',
    SLURM_NODEID: '1',
    SLURM_TASKS_PER_NODE: '4(x2)',
    SLURM_JOB_NODELIST: 'gpu[07-08]',
    SLURM_JOB_ID: '123456',
  };
  assert.deepEqual(dist.rendezvousFromEnv(env), {
    rank: 5,
    worldSize: 8,
    localRank: 1,
    localWorldSize: 4,
    masterAddr: 'gpu07',
    masterPort: dist.slurmDefaultPort(123456),
    source: 'slurm',
  });
  // torchrun's variables win when both are present (torchrun inside an allocation).
  assert.equal(
    dist.rendezvousFromEnv({ ...env, RANK: '0', WORLD_SIZE: '1', MASTER_ADDR: 'a', MASTER_PORT: '2' })?.source,
    'torchrun',
  );
  // A single task is not a distributed job.
  assert.equal(dist.rendezvousFromEnv({ ...env, SLURM_NTASKS: '1', SLURM_PROCID: '0' }), null);
});

test('expandHostlist and tasksPerNode expand SLURM notation', () => {
  assert.deepEqual(dist.expandHostlist('node[01-03,07],gpu5,rack[1-2]-n[1-2]'), [
    'node01',
    'node02',
    'node03',
    'node07',
    'gpu5',
    'rack1-n1',
    'rack1-n2',
    'rack2-n1',
    'rack2-n2',
  ]);
  assert.deepEqual(dist.tasksPerNode('2(x3),1'), [2, 2, 2, 1]);
  assert.throws(() => dist.expandHostlist('node[1-'), /without a matching/);
});

test('collectives before initProcessGroup say so; the build reports its distributed probes', () => {
  assert.throws(() => dist.barrier(), /not initialized \(call distributed\.initProcessGroup\(\) first\)/);
  assert.equal(dist.getRank(), 0);
  assert.equal(dist.getWorldSize(), 1);
  assert.equal(typeof dist.isAvailable(), 'boolean');
  if (!dist.isAvailable()) assert.match(String(dist.unavailableReason()), /./);
});

const skip = dist.isAvailable() ? false : `distributed unavailable: ${dist.unavailableReason()}`;

test(
  'an unreachable master is a clear error naming the rank, and leaves the group uninitialized',
  { skip },
  async () => {
    const port = await freePort(); // nothing listens there
    const env = { RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) };
    assert.throws(
      () => dist.initProcessGroup({ backend: 'gloo', env, timeoutMs: 1000 }),
      new RegExp(`^Error: rank 1 of 2 \\(gloo\\): rendezvous at 127\\.0\\.0\\.1:${port} failed: .*\\(peer: rank 0\\)$`),
    );
    assert.equal(dist.isInitialized(), false);
  },
);

test('a master port already in use is a clear error naming the rank', { skip }, async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    const env = { RANK: '0', WORLD_SIZE: '1', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) };
    // libtorch's own text differs by version (1.13 ends with "(errno: 98 - Address already in use)."; 2.x
    // says "address already in use" and goes on), so it is matched loosely and only our part exactly.
    assert.throws(
      () => dist.initProcessGroup({ backend: 'gloo', env, timeoutMs: 1000 }),
      (error: Error) => {
        assert.match(
          String(error),
          new RegExp(
            `^Error: rank 0 of 1 \\(gloo\\): rendezvous at 127\\.0\\.0\\.1:${port} failed: .*address already in use`,
            'is',
          ),
        );
        assert.doesNotMatch(String(error), /\(peer: /); // a group of one names no peer
        return true;
      },
    );
  } finally {
    server.close();
  }
  assert.equal(dist.isInitialized(), false);
});
