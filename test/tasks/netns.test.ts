// Two machines for real: a 2-node job whose nodes are network namespaces of this test's own, joined
// by a veth pair (10.77.0.1 and 10.77.0.2), one launcher in each. The link is cut mid-epoch (the
// veth brought down: packets vanish, no connection is reset), so each side only learns of it by
// silence: both must end within DISTRIBUTED.TIMEOUT_S plus a margin, naming the peer that went
// silent, with every checkpoint written intact; the run then resumes on one node to the end.
// Needs root and `ip` (iproute2); skipped, saying why, where namespaces cannot be made.
// Runs alone (scripts/run-tests.mjs): both nodes must end within DISTRIBUTED.TIMEOUT_S plus a margin.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadTrainingCheckpoint } from '../../src/engine/checkpoint.js';
import { clusterfit, ENV, training, type Finished } from './launch-support.js';
import { makeImageFolders, tinyRun } from './support.js';

const TAG = `cf${process.pid % 100000}`;
const HOSTS = [
  { ns: `${TAG}a`, veth: `${TAG}a`, addr: '10.77.0.1' },
  { ns: `${TAG}b`, veth: `${TAG}b`, addr: '10.77.0.2' },
] as const;
const TIMEOUT_S = 10;
/** Beyond TIMEOUT_S: the failed rank's exit, the launcher's grace for the others, process exits. */
const MARGIN_S = 30;

function ip(...args: string[]): string | null {
  const run = spawnSync('ip', args, { encoding: 'utf8', timeout: 10000 });
  if (run.error) return `ip ${args.join(' ')}: ${run.error.message}`;
  return run.status === 0 ? null : `ip ${args.join(' ')}: ${run.stderr.trim() || `status ${run.status}`}`;
}

function removeHosts(): void {
  for (const host of HOSTS) ip('netns', 'del', host.ns); // also removes its end of the veth
}

/** Makes both namespaces and the link; the reason they cannot be made, or null. */
function makeHosts(): string | null {
  if (process.getuid?.() !== 0) return `network namespaces need root; this test runs as uid ${process.getuid?.()}`;
  const version = spawnSync('ip', ['-V'], { encoding: 'utf8' });
  if (version.error) return `no \`ip\` command (${version.error.message}): apt-get install iproute2`;
  const [a, b] = HOSTS;
  const steps: string[][] = [
    ['netns', 'add', a.ns],
    ['netns', 'add', b.ns],
    ['link', 'add', a.veth, 'netns', a.ns, 'type', 'veth', 'peer', 'name', b.veth, 'netns', b.ns],
    ...HOSTS.flatMap((h) => [
      ['-n', h.ns, 'addr', 'add', `${h.addr}/24`, 'dev', h.veth],
      ['-n', h.ns, 'link', 'set', h.veth, 'up'],
      ['-n', h.ns, 'link', 'set', 'lo', 'up'],
    ]),
  ];
  for (const step of steps) {
    const error = ip(...step);
    if (error !== null) {
      removeHosts();
      return `cannot make network namespaces here (${error})`;
    }
  }
  return null;
}

describe('a 2-node job across network namespaces', { timeout: 300000 }, () => {
  after(removeHosts);

  it('a cut link ends both nodes within TIMEOUT_S naming the silent peer; node 0 resumes alone', async (t) => {
    const cannot = makeHosts();
    if (cannot !== null) {
      t.skip(cannot);
      return;
    }
    try {
      const root = await makeImageFolders(9, 2);
      const epochs = 3;
      const words = (dir: string, nodes: number): string[] => [
        'config=demo/rotnet',
        ...tinyRun(dir, epochs),
        `config.DATA.TRAIN.DATA_PATHS=[${join(root, 'train')}]`,
        `config.DATA.TEST.DATA_PATHS=[${join(root, 'test')}]`,
        'config.TEST_MODEL=False',
        `config.DISTRIBUTED.NUM_NODES=${nodes}`,
        'config.DISTRIBUTED.NUM_PROC_PER_NODE=1',
        `config.DISTRIBUTED.TIMEOUT_S=${TIMEOUT_S}`,
        ...(nodes > 1 ? [`config.DISTRIBUTED.RUN_ID=${HOSTS[0].addr}:29500`] : []),
      ];
      // Each machine its own run folder; node 0's holds the checkpoints.
      const dirs = HOSTS.map((_, node) => join(root, `node${node}`));
      let cutAt = 0;
      let cutError: string | null = null;
      const nodes = HOSTS.map((host, node) =>
        clusterfit([...words(dirs[node]!, 2), `node_id=${node}`], {
          limitS: 240,
          prefix: ['ip', 'netns', 'exec', host.ns],
          // Gloo binds the address of this namespace's link (the host name resolves elsewhere).
          env: { ...ENV, GLOO_SOCKET_IFNAME: host.veth },
          until:
            node === 0
              ? (output) => {
                  // Cut once epoch 0's checkpoint is written and epoch 1 trains.
                  if (cutAt === 0 && training(output, 1)) {
                    cutAt = performance.now();
                    cutError = ip('-n', HOSTS[1].ns, 'link', 'set', HOSTS[1].veth, 'down');
                  }
                }
              : undefined,
        }),
      );
      const ended: [Finished, number][] = await Promise.all(
        nodes.map((run) => run.then((r): [Finished, number] => [r, performance.now()])),
      );
      assert.ok(cutAt > 0, `the link was never cut:\n${ended.map(([r]) => r.stderr).join('\n')}`);
      assert.equal(cutError, null);
      for (const [node, [run, at]] of ended.entries()) {
        const peer = 1 - node;
        assert.notEqual(run.status, 0, `node ${node}:\n${run.stderr}`);
        const afterCutS = (at - cutAt) / 1000;
        const said = run.stderr.split('\n').filter((line) => /^error: |its last error: /.test(line.trim()));
        t.diagnostic(`node ${node} ended ${afterCutS.toFixed(1)} s after the cut: ${said.join(' | ')}`);
        assert.ok(afterCutS < TIMEOUT_S + MARGIN_S, `node ${node} ended ${afterCutS} s after the cut:\n${run.stderr}`);
        // The launcher's error names its rank, and the rank's error the silent peer.
        assert.match(run.stderr, new RegExp(`error: rank ${node} \\(pid \\d+\\) exited with status \\d+`), run.stderr);
        assert.match(run.stderr, new RegExp(`its last error: .*peer: rank ${peer}`), run.stderr);
      }
      const finished = readdirSync(dirs[0]!).filter((name) => /^model_.*\.torch$/.test(name));
      assert.ok(finished.length > 0, 'epoch 0 was checkpointed before the cut');
      for (const name of finished) loadTrainingCheckpoint(join(dirs[0]!, name)).dispose();

      // Node 1's machine is gone for good: node 0 finishes the run alone.
      const alone = await clusterfit(words(dirs[0]!, 1), { limitS: 180 });
      assert.equal(alone.status, 0, alone.stderr);
      assert.match(alone.stderr, /resuming from .*model_phase\d\.torch/);
      loadTrainingCheckpoint(join(dirs[0]!, `model_final_checkpoint_phase${epochs - 1}.torch`)).dispose();
    } finally {
      removeHosts();
    }
  });
});
