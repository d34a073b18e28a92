// Starts a multi-process job the way torchrun does, for tests and benchmarks: N copies of a Node
// script (or of another program) on 127.0.0.1 with RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR and a free MASTER_PORT, one intra-op thread each (OMP_NUM_THREADS=1, as the 2-core CI needs). Every job is
// bounded: after `timeoutMs` the ranks still running are SIGKILLed and reported as timed out, so
// a regression fails a test instead of hanging it.
//
// A rank script reports its results with `reportResult(value)` (a line `RESULT <json>` on
// stdout); the parent gets it back parsed in `RankResult.result`.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

export interface RankResult {
  rank: number;
  /** Exit code, or null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the rank was still running at the deadline and was killed. */
  timedOut: boolean;
  stdout: string;
  stderr: string;
  /** The last value the rank passed to reportResult, if any. */
  result: unknown;
  /** Milliseconds from the job's start to this rank's exit. */
  elapsedMs: number;
}

export interface RunRanksOptions {
  worldSize?: number;
  /** Hard bound on the whole job. */
  timeoutMs: number;
  /** Arguments after the script. */
  args?: string[];
  /** Extra environment for every rank, or per rank. */
  env?: Record<string, string> | ((rank: number) => Record<string, string>);
  /** Node flags (default ['--expose-gc']). */
  nodeArgs?: string[];
  /** Another program to run instead of Node (e.g. python3 for a PyTorch peer); nodeArgs are then not used. */
  command?: string;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** For rank scripts: hands `value` to the test that started this rank. */
export function reportResult(value: unknown): void {
  process.stdout.write(`RESULT ${JSON.stringify(value)}\n`);
}

function lastResult(stdout: string): unknown {
  const lines = stdout.split('\n').filter((l) => l.startsWith('RESULT '));
  const last = lines[lines.length - 1];
  return last === undefined ? undefined : JSON.parse(last.slice('RESULT '.length));
}

/** Runs `script` as `worldSize` ranks (default 2) and resolves when all have exited or been killed. */
export async function runRanks(script: string, options: RunRanksOptions): Promise<RankResult[]> {
  const worldSize = options.worldSize ?? 2;
  const port = await freePort();
  const start = Date.now();
  const runs = Array.from({ length: worldSize }, (_, rank) => {
    const extra = typeof options.env === 'function' ? options.env(rank) : (options.env ?? {});
    const command = options.command ?? process.execPath;
    const flags = options.command === undefined ? (options.nodeArgs ?? ['--expose-gc']) : [];
    const child = spawn(command, [...flags, script, ...(options.args ?? [])], {
      env: {
        ...process.env,
        OMP_NUM_THREADS: '1',
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
        RANK: String(rank),
        WORLD_SIZE: String(worldSize),
        LOCAL_RANK: String(rank),
        LOCAL_WORLD_SIZE: String(worldSize),
        ...extra,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    return new Promise<RankResult>((resolve) => {
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({
          rank,
          code,
          signal,
          timedOut,
          stdout,
          stderr,
          result: lastResult(stdout),
          elapsedMs: Date.now() - start,
        });
      });
    });
  });
  return Promise.all(runs);
}

/** A readable account of a job's ranks, for assertion messages. */
export function describeRanks(results: RankResult[]): string {
  return results
    .map(
      (r) =>
        `rank ${r.rank}: code ${r.code} signal ${r.signal}${r.timedOut ? ' (timed out)' : ''} after ${r.elapsedMs} ms\n` +
        `  stderr: ${r.stderr.trim().split('\n').slice(-8).join('\n  ')}`,
    )
    .join('\n');
}
