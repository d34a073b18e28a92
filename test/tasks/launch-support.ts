// `clusterfit run` as a user runs it, for the tests of multi-process runs and their faults: the
// launcher's output is watched as it comes, so a test can act on the run (a signal to a worker)
// at the moment it chooses. Every run is bounded.
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
/** One core per rank on the 2-core CI machine. */
export const ENV = { ...process.env, OMP_NUM_THREADS: '1' };

export interface Finished {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/**
 * Runs `clusterfit run --json ...words`; `until(stderr+stdout so far, launcher pid)` is called on
 * each output chunk and may act on the run (send a signal). Killed after `limitS` seconds.
 * `prefix` runs it under another command (`ip netns exec <name>`).
 */
export function clusterfit(
  words: string[],
  {
    limitS = 120,
    env = ENV,
    until,
    prefix = [],
  }: {
    limitS?: number;
    env?: NodeJS.ProcessEnv;
    until?: (output: string, launcherPid: number) => void;
    prefix?: string[];
  } = {},
): Promise<Finished> {
  return new Promise((resolveRun) => {
    const started = performance.now();
    // --json: rank 0's metrics lines on stdout, which `until` watches for the moment to interrupt.
    const argv = [process.execPath, CLI, 'run', '--json', ...words];
    const [command, ...args] = [...prefix, ...argv] as [string, ...string[]];
    const child = spawn(command, args, { env });
    let stdout = '';
    let stderr = '';
    const onOutput = (): void => until?.(stderr + stdout, child.pid as number);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      onOutput();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      onOutput();
    });
    const timer = setTimeout(() => {
      stderr += `\n[test] killed after ${limitS} s`;
      child.kill('SIGKILL');
    }, limitS * 1000);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolveRun({ status, signal, stdout, stderr, seconds: (performance.now() - started) / 1000 });
    });
  });
}

/** The pid of rank `rank` from the launcher's last "started rank 0 (pid N), ..." line. */
export function rankPid(output: string, rank: number): number | null {
  const matches = [...output.matchAll(new RegExp(`started .*rank ${rank} \\(pid (\\d+)\\)`, 'g'))];
  const last = matches.at(-1);
  return last ? Number(last[1]) : null;
}

/** True once rank 0 has logged a training step of `epoch` (metrics JSON on stdout). */
export function training(output: string, epoch = 0): boolean {
  return new RegExp(`"event":"train","time":"[^"]+","epoch":${epoch},"step":[1-9]`).test(output);
}
