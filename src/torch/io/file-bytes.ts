// Positioned reads from a file descriptor. Large ranges are read in slices because one JS
// buffer cannot exceed about 2 GB, while storages and feature files can.
import { mkdirSync, readSync, statSync, writeSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a folder';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/**
 * Throws unless `path` (after symlinks) is a regular file. Reading a FIFO blocks until something
 * writes to it and a device such as /dev/zero never ends, so both are refused before opening.
 */
export function requireRegularFile(path: string, what = 'file'): void {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist (or is a dangling symlink)' : `cannot be read (${code})`;
    throw new Error(`${path}: the ${what} ${why}`, { cause: error });
  }
  if (!stats.isFile()) throw new Error(`${path}: is ${kindOf(stats)}, not a regular ${what}`);
}

/**
 * mkdir -p, one level at a time. Node's recursive mkdir retries forever where the kernel answers
 * ENOENT under a parent that exists (as /proc does), so that case is an error here instead.
 */
export function makeDirectories(path: string): void {
  const statOf = (dir: string): Stats | undefined => {
    try {
      return statSync(dir, { throwIfNoEntry: false });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined; // under a file
      throw error;
    }
  };
  const missing: string[] = [];
  let at = resolve(path);
  while (statOf(at) === undefined) {
    missing.push(at);
    if (dirname(at) === at) break;
    at = dirname(at);
  }
  const existing = statOf(at);
  if (existing && !existing.isDirectory()) throw new Error(`${at} is not a folder, so ${path} cannot be created in it`);
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statSync(dir).isDirectory()) continue;
      const why =
        code === 'ENOENT' ? 'the filesystem refuses new folders there (a virtual filesystem such as /proc?)' : code;
      throw new Error(`cannot create the folder ${dir} (${why})`, { cause: error });
    }
  }
}

/** Slice size for large reads: big enough to be fast, small enough to stay far below buffer limits. */
export const SLICE_BYTES = 64 * 1024 * 1024;

/** The error for a file that ends at `byte`, before the bytes its structure promised. */
export function endOfFileError(path: string, byte: number): Error {
  return new Error(`${path}: unexpected end of file at byte ${byte} (truncated file?)`);
}

/** Reads exactly `length` bytes at `position`; throws naming the file when it ends early. */
export function readExactly(fd: number, length: number, position: number, path: string): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) throw endOfFileError(path, position + done);
    done += n;
  }
  return buffer;
}

/** Calls `consume` with consecutive pieces of [position, position + length), each at most `sliceBytes`. */
export function readSlices(
  fd: number,
  path: string,
  position: number,
  length: number,
  sliceBytes: number,
  consume: (piece: Buffer, offset: number) => void,
): void {
  for (let offset = 0; offset < length; offset += sliceBytes) {
    consume(readExactly(fd, Math.min(sliceBytes, length - offset), position + offset, path), offset);
  }
}

/** Writes all of `bytes` at `position`. */
export function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}

/** Sequential writes to a file descriptor, from the start of the file. */
export class SequentialWriter {
  position = 0;

  constructor(readonly fd: number) {}

  write(bytes: Uint8Array): void {
    writeAll(this.fd, bytes, this.position);
    this.position += bytes.length;
  }
}
