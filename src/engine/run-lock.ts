// One run per folder: two runs writing the same checkpoints and metrics would interleave silently.
// A run takes `<dir>/.clusterfit.lock` (created exclusively, holding its pid and host) and keeps it
// until its process exits; tasks of one process (a pipeline) share their locks. A lock whose
// process is gone (killed, crashed) on this host is stale: it is taken over with a warning.
// The multi-process launcher takes the lock itself before it makes any log or starts any worker, so
// a second launch into a running run's folder is refused before it touches anything; its rank 0
// finds the lock held by its parent (the launcher) and works under it.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_NAME = '.clusterfit.lock';

const held = new Set<string>();

/** Whether a process with this pid runs on this machine (one of another user's counts). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Releases every run folder this process locked (at exit, or when its run is over). */
export function releaseRunFolders(): void {
  for (const path of held) rmSync(path, { force: true });
  held.clear();
}

/**
 * Locks `dir` for this process (idempotent). Throws naming the other run when one holds it;
 * `warn` hears about a stale lock taken over. `name` is the lock file (the launchers of nodes other
 * than 0 lock their own `.clusterfit.node{K}.lock`, so nodes sharing a file system do not refuse
 * each other). Returns the pid that holds the lock: this process', or its launcher's.
 */
export function lockRunFolder(dir: string, key: string, warn: (message: string) => void, name = LOCK_NAME): number {
  const path = join(dir, name);
  if (held.has(path)) return process.pid;
  const owner = `${process.pid} ${hostname()}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, owner);
      closeSync(fd);
      if (held.size === 0) process.once('exit', releaseRunFolders);
      held.add(path);
      return process.pid;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
    }
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue; // released meanwhile
    }
    const [pidText, host] = text.trim().split(' ');
    const pid = Number(pidText);
    const here = host === hostname();
    if (pid === process.pid && here) {
      held.add(path);
      return pid;
    }
    // Our launcher locked it for the job: it also releases it, after every worker has exited.
    if (pid === process.ppid && here) return pid;
    if (Number.isInteger(pid) && pid > 0 && (!here || processAlive(pid))) {
      throw new Error(
        `${key}: another run (process ${pid} on ${host ?? 'an unknown host'}) is using ${dir}; ` +
          `wait for it to finish, or give this run another folder (if that process is gone, delete ${path})`,
      );
    }
    warn(`${path} was left by process ${pidText || '?'}, which is no longer running: taking the folder over`);
    rmSync(path, { force: true });
  }
}
