// Atomic file replacement: write a temporary file in the target's folder, fsync it, rename it over
// the target, fsync the folder. A crash at any point leaves either the old file or the complete
// new one under the final name, never a half-written file. What a crash can leave is a temporary
// file, named `.<target>.<pid>.<random>.tmp`, which `removeStaleTemporaries` clears.
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

const TEMPORARY = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;

function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Makes a rename in `folder` durable: it is only on disk once the folder's entry is. */
function syncFolder(folder: string): void {
  const fd = openSync(folder, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A file being written under a temporary name until `commit` moves it into place. */
export class AtomicFile {
  readonly fd: number;
  readonly #temporary: string;

  constructor(readonly path: string) {
    this.#temporary = temporaryName(path);
    this.fd = openSync(this.#temporary, 'wx');
  }

  commit(): void {
    fsyncSync(this.fd);
    closeSync(this.fd);
    renameSync(this.#temporary, this.path);
    syncFolder(dirname(this.path));
  }

  /** Drops the temporary file; the target is untouched. */
  abort(): void {
    closeSync(this.fd);
    rmSync(this.#temporary, { force: true });
  }
}

/** Creates or replaces `path` with what `write` writes to the file descriptor it is given. */
export function writeFileAtomic(path: string, write: (fd: number) => void): void {
  const file = new AtomicFile(path);
  try {
    write(file.fd);
  } catch (error) {
    file.abort();
    throw error;
  }
  file.commit();
}

/** Creates or replaces the symbolic link `path` so that it points at `target`, atomically. */
export function symlinkAtomic(target: string, path: string): void {
  const temporary = temporaryName(path);
  symlinkSync(target, temporary);
  try {
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
  syncFolder(dirname(path));
}

/**
 * Deletes the temporary files in `folder` whose writing process is gone (killed mid-write).
 * Those of live processes, this one included, are left alone. Returns the names removed.
 */
export function removeStaleTemporaries(folder: string): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(folder)) {
    const pid = TEMPORARY.exec(name)?.[1];
    if (pid === undefined || isAlive(Number(pid))) continue;
    rmSync(join(folder, name), { force: true });
    removed.push(name);
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
