// The launcher's supervision with stand-in workers (small node scripts), so every failure path is
// exercised with real processes and real signals in about a second each, and the launcher's
// up-front checks of DISTRIBUTED.* through the real `clusterfit run`.
// Runs alone (scripts/run-tests.mjs): its limit tests assert that stopped and stuck workers are named after
// TIMEOUT_S and their grace periods, which a busy machine would stretch.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { planLaunch, workerEnv } from '../../src/cli/launch/index.js';
import type { DistributedConfig } from '../../src/cli/launch/plan.js';
import { parseArgs } from '../../src/cli/args.js';
import { parseVisslWords } from '../../src/cli/vissl.js';
import { loadConfig } from '../../src/config/index.js';
import { maxRestartsOverrides, superviseWithRestarts, type RestartEvent } from '../../src/cli/launch/restarts.js';
import { supervise } from '../../src/cli/launch/supervisor.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

/** A stand-in worker: `script` runs with RANK in the environment. */
function workers(count: number, script: string): { rank: number; env: NodeJS.ProcessEnv; echo: boolean }[] {
  return Array.from({ length: count }, (_, rank) => ({
    rank,
    env: { ...process.env, RANK: String(rank), SCRIPT: script },
    echo: false,
  }));
}

async function run(
  script: string,
  {
    count = 2,
    timeoutS = 30,
    onStart,
    onLogDir,
  }: {
    count?: number;
    timeoutS?: number;
    onStart?: (pids: number[]) => void;
    onLogDir?: (dir: string) => void;
  } = {},
): Promise<{ status: number; messages: string; logDir: string; seconds: number }> {
  const logDir = join(mkdtempSync(join(tmpdir(), 'clusterfit-launch-')), 'logs');
  onLogDir?.(logDir);
  const lines: string[] = [];
  const started = performance.now();
  const { status, failure } = await supervise({
    command: process.execPath,
    args: ['-e', 'eval(process.env.SCRIPT)'],
    workers: workers(count, script),
    logDir,
    timeoutS,
    report: (line) => {
      lines.push(line);
      const pids = [...line.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
      if (line.includes('started') && onStart) onStart(pids);
    },
  });
  if (failure !== null) lines.push(`error: ${failure}`);
  return { status, messages: lines.join('\n'), logDir, seconds: (performance.now() - started) / 1000 };
}

// Keeps a worker alive until a signal ends it (a timer the test never lets fire).
const IDLE = 'setTimeout(() => {}, 600000);';

describe('launcher supervision', { timeout: 60000 }, () => {
  it('all workers finishing is status 0, with each rank’s output in logs/rank{R}.log', async () => {
    const result = await run(
      'console.log("hello from " + process.env.RANK); console.error("note " + process.env.RANK)',
    );
    assert.equal(result.status, 0, result.messages);
    for (const rank of [0, 1]) {
      const log = readFileSync(join(result.logDir, `rank${rank}.log`), 'utf8');
      assert.match(log, new RegExp(`hello from ${rank}`));
      assert.match(log, new RegExp(`note ${rank}`));
    }
  });

  it('a failing worker stops the others and is named with its status, log and last error', async () => {
    const result = await run(
      `if (process.env.RANK === '1') { console.error('error: rank one broke'); process.exit(3); } ${IDLE}`,
    );
    assert.equal(result.status, 3, result.messages);
    assert.match(result.messages, /rank 1 \(pid \d+\) exited with status 3; its log: .*rank1\.log/);
    assert.match(result.messages, /its last error: error: rank one broke/);
  });

  it('a worker killed with SIGKILL is named with the signal, every time', async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const result = await run(IDLE, {
        onStart: (pids) => setTimeout(() => process.kill(pids[1] as number, 'SIGKILL'), 200),
      });
      assert.equal(result.status, 128 + 9, result.messages);
      assert.match(result.messages, /rank 1 \(pid \d+\) was killed by SIGKILL/);
      assert.ok(result.seconds < 10, `took ${result.seconds} s`);
    }
  });

  it('Ctrl-C is forwarded once as SIGINT; workers that stop on it give status 130', async () => {
    let logDir = '';
    const result = await run(
      `let seen = 0;
       process.on('SIGINT', () => {
         seen++;
         console.log('SIGINT ' + seen);
         setTimeout(() => process.exit(seen === 1 ? 130 : 2), 300);
       });
       console.log('ready');
       ${IDLE}`,
      {
        onLogDir: (dir) => (logDir = dir),
        onStart: () => {
          // Ctrl-C once both workers listen for it.
          const poll = setInterval(() => {
            const ready = [0, 1].every((r) => {
              try {
                return readFileSync(join(logDir, `rank${r}.log`), 'utf8').includes('ready');
              } catch {
                return false;
              }
            });
            if (ready) {
              clearInterval(poll);
              process.kill(process.pid, 'SIGINT');
            }
          }, 50);
        },
      },
    );
    assert.equal(result.status, 130, result.messages);
    assert.match(result.messages, /every rank stops at the same step/);
    for (const rank of [0, 1]) {
      const log = readFileSync(join(result.logDir, `rank${rank}.log`), 'utf8');
      assert.match(log, /SIGINT 1\n/);
      assert.doesNotMatch(log, /SIGINT 2/);
    }
  });

  it('a rank that cannot be started ends the start: one error, no log files for ranks never started', async () => {
    const logDir = join(mkdtempSync(join(tmpdir(), 'clusterfit-launch-')), 'logs');
    const lines: string[] = [];
    const outcome = await supervise({
      command: join(logDir, 'no-such-program'),
      args: [],
      workers: workers(6, ''),
      logDir,
      timeoutS: 30,
      report: (line) => lines.push(line),
    });
    assert.equal(outcome.status, 1, lines.join('\n'));
    assert.equal(outcome.restartable, null, 'a rank that cannot start would not start after a restart either');
    lines.push(`error: ${outcome.failure}`);
    const errors = lines.filter((l) => l.includes('error: '));
    assert.equal(errors.length, 1, lines.join('\n'));
    assert.match(
      errors[0] ?? '',
      /rank 0 could not be started \(spawn .*no-such-program ENOENT\); 0 of 6 ranks had started/,
    );
    assert.deepEqual(readdirSync(logDir), []);
  });

  it('logs are appended to, never truncated (a second launch into a folder in use loses nothing)', async () => {
    const result = await run('console.log("second run " + process.env.RANK)', {
      onLogDir: (dir) => {
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'rank0.log'), 'the first run wrote this\n');
      },
    });
    assert.equal(result.status, 0, result.messages);
    const log = readFileSync(join(result.logDir, 'rank0.log'), 'utf8');
    assert.match(
      log,
      /^the first run wrote this\n== clusterfit launcher \(pid \d+\): rank 0, pid \d+, .*==\nsecond run 0/,
    );
  });
});

// These two mostly wait on idle stand-in workers (TIMEOUT_S or the finish limit, then the 5 s of
// grace before SIGKILL for a worker that ignores SIGTERM), so they wait side by side. The Ctrl-C
// test, which signals this very process, stays in the sequential suite above.
describe('launcher supervision: the limits it waits out', { timeout: 60000, concurrency: true }, () => {
  it('a worker stopped with SIGSTOP is named after TIMEOUT_S, and a worker ignoring SIGTERM is killed', async () => {
    const result = await run(`process.on('SIGTERM', () => {}); ${IDLE}`, {
      timeoutS: 2,
      onStart: (pids) => setTimeout(() => process.kill(pids[1] as number, 'SIGSTOP'), 200),
    });
    assert.notEqual(result.status, 0, result.messages);
    assert.match(result.messages, /rank 1 \(pid \d+\) has been stopped \(SIGSTOP or a debugger\) for 2 s/);
    // 2 s stopped, then 5 s of grace for rank 0, which ignores SIGTERM.
    assert.ok(result.seconds < 15, `took ${result.seconds} s`);
  });

  it('a worker that never finishes after the others did is killed and named', async () => {
    const result = await run(
      `if (process.env.RANK === '0') process.exit(0); process.on('SIGTERM', () => {}); ${IDLE}`,
      {
        timeoutS: -59, // the finish limit is TIMEOUT_S + 60 s: 1 s here
      },
    );
    assert.equal(result.status, 1, result.messages);
    assert.match(result.messages, /rank 1 \(pid \d+\) had not finished 1 s after rank 0 finished/);
  });
});

describe('launcher restarts (DISTRIBUTED.MAX_RESTARTS)', { timeout: 60000 }, () => {
  /** Rank 1 fails (status 3) in the first `failures` starts, then every rank finishes. */
  async function restarting(maxRestarts: number, failures: number) {
    const logDir = join(mkdtempSync(join(tmpdir(), 'clusterfit-launch-')), 'logs');
    const lines: string[] = [];
    const events: RestartEvent[] = [];
    const script = `if (process.env.RANK === '1' && Number(process.env.START) < ${failures}) {
         console.error('error: rank one broke in start ' + process.env.START); process.exit(3); }
       console.log('rank ' + process.env.RANK + ' finished start ' + process.env.START);`;
    const status = await superviseWithRestarts({
      maxRestarts,
      report: (line) => lines.push(line),
      event: (event) => events.push(event),
      start: (restart) =>
        supervise({
          command: process.execPath,
          args: ['-e', 'eval(process.env.SCRIPT)'],
          workers: workers(2, script).map((w) => ({ ...w, env: { ...w.env, START: String(restart) } })),
          logDir,
          timeoutS: 30,
          report: (line) => lines.push(line),
          ...(restart > 0 ? { header: `restart ${restart} of ${maxRestarts}` } : {}),
        }),
    });
    return { status, messages: lines.join('\n'), events, logDir };
  }

  it('a failed worker restarts every worker; the logs keep every start', async () => {
    const result = await restarting(2, 2);
    assert.equal(result.status, 0, result.messages);
    assert.match(result.messages, /restart 1 of 2 after rank 1 exited with status 3: every rank starts again/);
    assert.match(result.messages, /restart 2 of 2 after rank 1 exited with status 3/);
    assert.deepEqual(
      result.events.map((e) => [e.event, e.restart, e.max_restarts, e.rank, e.reason]),
      [
        ['restart', 1, 2, 1, 'exited with status 3'],
        ['restart', 2, 2, 1, 'exited with status 3'],
      ],
    );
    const log = readFileSync(join(result.logDir, 'rank1.log'), 'utf8');
    assert.match(log, /rank one broke in start 0[\s\S]*restart 1 of 2[\s\S]*broke in start 1[\s\S]*restart 2 of 2/);
    assert.match(log, /rank 1 finished start 2/);
    assert.match(readFileSync(join(result.logDir, 'rank0.log'), 'utf8'), /rank 0 finished start 2/);
  });

  it('a failure past MAX_RESTARTS ends the run with the rank’s status and names the rank', async () => {
    const none = await restarting(0, 1);
    assert.equal(none.status, 3, none.messages);
    assert.doesNotMatch(none.messages, /restart \d/);
    assert.match(none.messages, /error: rank 1 \(pid \d+\) exited with status 3; its log: .*rank1\.log/);
    const spent = await restarting(1, 2);
    assert.equal(spent.status, 3, spent.messages);
    assert.match(spent.messages, /restart 1 of 1 after rank 1/);
    assert.match(
      spent.messages,
      /error: rank 1 .*exited with status 3[\s\S]*after 1 restart\(s\); DISTRIBUTED.MAX_RESTARTS is 1/,
    );
  });
});

describe('max_restarts on the command line and DISTRIBUTED.MAX_RESTARTS', () => {
  it('is accepted as torchrun and as our other options spell it, in our commands and VISSL’s tool', () => {
    for (const words of [['--max-restarts', '2'], ['--max-restarts=2'], ['--max_restarts', '2'], ['max_restarts=2']]) {
      const args = parseArgs(['config=demo/rotnet', ...words]);
      assert.deepEqual([...args.options], [['max_restarts', '2']], words.join(' '));
      const overrides = [...args.overrides, ...maxRestartsOverrides(args.options.get('max_restarts'))];
      const cfg = loadConfig({ config: 'demo/rotnet', overrides, command: 'run' });
      assert.equal(cfg.DISTRIBUTED.MAX_RESTARTS, 2);
      assert.equal(parseVisslWords('run_distributed_engines', ['config=x', ...words]).maxRestarts, '2');
    }
    assert.throws(() => maxRestartsOverrides('two'), /max_restarts=two: give how many times the workers may restart/);
  });

  it('defaults to 0 in configs that do not set it, and must be an integer >= 0', () => {
    assert.equal(loadConfig({ config: 'demo/rotnet', overrides: [], command: 'run' }).DISTRIBUTED.MAX_RESTARTS, 0);
    assert.throws(
      () => loadConfig({ config: 'demo/rotnet', overrides: ['config.DISTRIBUTED.MAX_RESTARTS=-1'], command: 'run' }),
      /DISTRIBUTED\.MAX_RESTARTS/,
    );
    assert.throws(
      () => loadConfig({ config: 'demo/rotnet', overrides: ['config.DISTRIBUTED.MAX_RESTARTS=1.5'], command: 'run' }),
      /DISTRIBUTED\.MAX_RESTARTS/,
    );
  });
});

describe('launch plan', () => {
  const dist: DistributedConfig = {
    BACKEND: 'gloo',
    NCCL_DEBUG: false,
    NUM_NODES: 1,
    NUM_PROC_PER_NODE: 2,
    INIT_METHOD: 'tcp',
    RUN_ID: 'auto',
    TIMEOUT_S: 300,
    MAX_RESTARTS: 0,
  };

  it('is a worker under torchrun or srun, the whole run for 1 x 1, else the agent', () => {
    assert.deepEqual(planLaunch(dist, { RANK: '0' }), { kind: 'worker', startedBy: 'torchrun' });
    assert.deepEqual(planLaunch(dist, { SLURM_PROCID: '1', SLURM_NTASKS: '4' }), { kind: 'worker', startedBy: 'srun' });
    assert.deepEqual(planLaunch({ ...dist, NUM_PROC_PER_NODE: 1 }, { SLURM_PROCID: '0', SLURM_NTASKS: '1' }), {
      kind: 'single',
    });
    const agent = planLaunch({ ...dist, NUM_NODES: 2, RUN_ID: 'node0.example:29500' }, {}, '1');
    assert.deepEqual(agent, {
      kind: 'agent',
      nodeId: 1,
      numNodes: 2,
      procsPerNode: 2,
      rendezvous: { masterAddr: 'node0.example', masterPort: 29500, setBy: 'config.DISTRIBUTED.RUN_ID' },
    });
    if (agent.kind !== 'agent') return;
    assert.deepEqual(workerEnv(agent, 29500, 1, 8), {
      MASTER_ADDR: 'node0.example',
      MASTER_PORT: '29500',
      RANK: '3',
      WORLD_SIZE: '4',
      LOCAL_RANK: '1',
      LOCAL_WORLD_SIZE: '2',
      GROUP_RANK: '1',
      OMP_NUM_THREADS: '4',
    });
  });

  it('names the key and the fix for every inconsistent setting', () => {
    const cases: [Partial<DistributedConfig>, NodeJS.ProcessEnv, string | undefined, RegExp][] = [
      [{ NUM_NODES: 2 }, {}, '0', /RUN_ID=auto picks a free port on one machine, but NUM_NODES is 2/],
      [{ NUM_NODES: 2, RUN_ID: 'h:1' }, {}, undefined, /NUM_NODES is 2 but this command has no node_id=K/],
      [{ NUM_NODES: 2, RUN_ID: 'h:1' }, {}, '2', /node_id=2 is not a node of config.DISTRIBUTED.NUM_NODES=2/],
      [{ RUN_ID: 'h' }, {}, undefined, /RUN_ID is 'h': with INIT_METHOD tcp it must be 'auto'/],
      [{ INIT_METHOD: 'env' }, {}, undefined, /INIT_METHOD=env reads node 0 from MASTER_ADDR and MASTER_PORT/],
      [{ INIT_METHOD: 'file' }, {}, undefined, /INIT_METHOD=file is not supported/],
      [{ NUM_PROC_PER_NODE: 0 }, {}, undefined, /NUM_PROC_PER_NODE is 0: it must be an integer >= 1/],
      [{ TIMEOUT_S: 0 }, {}, undefined, /TIMEOUT_S is 0/],
    ];
    for (const [change, env, nodeId, message] of cases) {
      assert.throws(() => planLaunch({ ...dist, ...change }, env, nodeId), message);
    }
  });
});

describe('clusterfit run: the launcher’s checks before any worker starts', { timeout: 60000 }, () => {
  function clusterfit(...words: string[]): { status: number | null; stderr: string } {
    const result = spawnSync(process.execPath, [CLI, 'run', 'config=demo/rotnet', ...words], {
      encoding: 'utf8',
      timeout: 30000,
    });
    return { status: result.status, stderr: result.stderr };
  }

  it('a port in use on node 0 is one line naming RUN_ID and the port', async () => {
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(0, r));
    const port = (server.address() as { port: number }).port;
    try {
      const run = clusterfit('config.DISTRIBUTED.NUM_PROC_PER_NODE=2', `config.DISTRIBUTED.RUN_ID=127.0.0.1:${port}`);
      assert.equal(run.status, 1);
      assert.match(run.stderr, new RegExp(`error: config.DISTRIBUTED.RUN_ID: port ${port} is in use on this machine`));
    } finally {
      server.close();
    }
  });

  it('more GPU workers than this machine has GPUs is refused before any process starts', () => {
    const out = mkdtempSync(join(tmpdir(), 'clusterfit-launch-'));
    const run = clusterfit(
      'config.MACHINE.DEVICE=gpu',
      'config.DISTRIBUTED.NUM_PROC_PER_NODE=8',
      `config.CHECKPOINT.DIR=${out}`,
    );
    assert.equal(run.status, 1, run.stderr);
    assert.match(
      run.stderr,
      /error: config\.MACHINE\.DEVICE is gpu on 8 processes \(DISTRIBUTED\.NUM_PROC_PER_NODE\), but this machine has /,
    );
    assert.doesNotMatch(run.stderr, /started rank/);
    assert.deepEqual(readdirSync(out), [], 'no logs, no files');
  });

  it('a second launch into a folder in use is refused before it makes or writes any log', () => {
    const out = mkdtempSync(join(tmpdir(), 'clusterfit-launch-'));
    // The running job: its launcher (a live process of ours) holds the lock, its ranks log.
    const holder = spawn('sleep', ['60']);
    try {
      writeFileSync(join(out, '.clusterfit.lock'), `${holder.pid} ${hostname()}\n`);
      mkdirSync(join(out, 'logs'));
      writeFileSync(join(out, 'logs', 'rank0.log'), 'the running job wrote this\n');
      const run = clusterfit('config.DISTRIBUTED.NUM_PROC_PER_NODE=2', `config.CHECKPOINT.DIR=${out}`);
      assert.equal(run.status, 1, run.stderr);
      assert.match(
        run.stderr,
        new RegExp(`error: CHECKPOINT\\.DIR: another run \\(process ${holder.pid} on .*\\) is using`),
      );
      assert.doesNotMatch(run.stderr, /started rank/);
      assert.deepEqual(readdirSync(join(out, 'logs')), ['rank0.log'], 'no log made');
      assert.equal(readFileSync(join(out, 'logs', 'rank0.log'), 'utf8'), 'the running job wrote this\n');
      assert.equal(readFileSync(join(out, '.clusterfit.lock'), 'utf8'), `${holder.pid} ${hostname()}\n`);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('a master address that does not resolve is named', () => {
    const run = clusterfit(
      'config.DISTRIBUTED.NUM_NODES=2',
      'config.DISTRIBUTED.RUN_ID=no-such-host.invalid:29500',
      'node_id=1',
    );
    assert.equal(run.status, 1);
    assert.match(
      run.stderr,
      /error: config.DISTRIBUTED.RUN_ID: the master address 'no-such-host.invalid' does not resolve/,
    );
    // Under INIT_METHOD=env the address comes from MASTER_ADDR, and the message says so.
    const env = spawnSync(
      process.execPath,
      [
        CLI,
        'run',
        'config=demo/rotnet',
        'config.DISTRIBUTED.NUM_NODES=2',
        'config.DISTRIBUTED.INIT_METHOD=env',
        'node_id=1',
      ],
      {
        encoding: 'utf8',
        timeout: 30000,
        env: { ...process.env, MASTER_ADDR: 'no-such-host.invalid', MASTER_PORT: '29500' },
      },
    );
    assert.equal(env.status, 1, env.stderr);
    assert.match(
      env.stderr,
      /error: MASTER_ADDR and MASTER_PORT \(config\.DISTRIBUTED\.INIT_METHOD=env\): the master address 'no-such-host.invalid' does not resolve/,
    );
  });

  it('with no DISTRIBUTED section (8 workers on CPU) the logs go to the run folder, not the working directory', () => {
    const root = mkdtempSync(join(tmpdir(), 'clusterfit-nodist-'));
    const here = join(root, 'cwd');
    const out = join(root, 'run');
    mkdirSync(here);
    // The demo config without its DISTRIBUTED section: VISSL's default of 8 workers a machine.
    const demo = readFileSync(resolve(dirname(CLI), '..', '..', '..', 'configs', 'demo', 'rotnet.yaml'), 'utf8');
    const config = join(root, 'nodist.yaml');
    writeFileSync(config, demo.replace(/^ {2}DISTRIBUTED:\n(?: {4}.*\n)+/m, ''));
    assert.doesNotMatch(readFileSync(config, 'utf8'), /DISTRIBUTED/);
    const run = spawnSync(
      process.execPath,
      [
        CLI,
        'run',
        `config=${config}`,
        `config.CHECKPOINT.DIR=${out}`,
        `config.DATA.TRAIN.DATA_PATHS=[${join(root, 'none')}]`,
      ],
      { cwd: here, encoding: 'utf8', timeout: 120_000, env: { ...process.env, OMP_NUM_THREADS: '1' } },
    );
    assert.notEqual(run.status, 0, run.stderr);
    assert.match(run.stderr, /8 worker\(s\)/);
    assert.deepEqual(readdirSync(here), [], 'nothing written into the working directory');
    assert.ok(readdirSync(join(out, 'logs')).includes('rank0.log'), run.stderr);
  });
});
