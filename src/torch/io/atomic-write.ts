// Atomic file replacement: write a temporary file in the target's folder, fsync it, rename it over
// the target, fsync the folder. A crash at any point leaves either the old file or the complete
// new one under the final name, never a half-written file.
import { closeSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** A file being written under a temporary name until `commit` moves it into place. */
export class AtomicFile {
  readonly fd: number;
  readonly #temporary: string;

  constructor(readonly path: string) {
    this.#temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    this.fd = openSync(this.#temporary, 'wx');
  }

  commit(): void {
    fsyncSync(this.fd);
    closeSync(this.fd);
    renameSync(this.#temporary, this.path);
    // The rename itself is durable only once the folder's entry is on disk.
    const folder = openSync(dirname(this.path), 'r');
    try {
      fsyncSync(folder);
    } finally {
      closeSync(folder);
    }
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
