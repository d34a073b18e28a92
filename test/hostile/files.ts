// Hostile and broken files, built byte by byte so each test owns exactly the damage it checks:
// pickles with chosen opcodes, zip archives whose sizes, CRCs and methods lie, FIFOs and links to
// devices.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'clusterfit-hostile-'));
}

/** A protocol-2 pickle of `body` opcodes, ended with STOP. */
export function pickleOf(...body: (Buffer | number[] | string)[]): Buffer {
  const parts = body.map((b) => (typeof b === 'string' ? Buffer.from(b, 'latin1') : Buffer.from(b)));
  return Buffer.concat([Buffer.from([0x80, 2]), ...parts, Buffer.from('.', 'latin1')]);
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

export interface RawEntry {
  name: string;
  data: Buffer;
  /** 0 STORED (default) or 8 DEFLATE. */
  method?: number;
  /** The uncompressed size the directory claims (default: the truth). */
  declaredSize?: number;
  /** The CRC the directory claims (default: the truth). */
  crc?: number;
}

/** A zip archive with the given entries, whose headers may lie. */
export function zipOf(entries: RawEntry[]): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const method = entry.method ?? 0;
    const stored = method === 8 ? deflateRawSync(entry.data) : entry.data;
    const name = Buffer.from(entry.name);
    const size = entry.declaredSize ?? entry.data.length;
    const crc = entry.crc ?? crc32(entry.data) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, stored);
    const record = Buffer.alloc(46);
    record.writeUInt32LE(0x02014b50, 0);
    record.writeUInt16LE(20, 4);
    record.writeUInt16LE(20, 6);
    record.writeUInt16LE(method, 10);
    record.writeUInt32LE(crc, 16);
    record.writeUInt32LE(stored.length, 20);
    record.writeUInt32LE(size, 24);
    record.writeUInt16LE(name.length, 28);
    record.writeUInt32LE(offset, 42);
    central.push(record, name);
    offset += 30 + name.length + stored.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** A zip checkpoint whose archive/data.pkl is `pickle`. */
export function checkpointZip(pickle: Buffer, extra: RawEntry[] = []): Buffer {
  return zipOf([{ name: 'archive/data.pkl', data: pickle }, ...extra]);
}

/** A FIFO at `dir/name` (no writer ever opens it: a reader that opens it blocks forever). */
export function fifo(dir: string, name: string): string {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  return path;
}

/** A symlink at `dir/name` to /dev/zero: endless bytes. */
export function linkToDevZero(dir: string, name: string): string {
  const path = join(dir, name);
  symlinkSync('/dev/zero', path);
  return path;
}

/** A .npy file with a hand-written header (version 1.0). */
export function npyOf(header: string, data: Buffer = Buffer.alloc(0)): Buffer {
  let text = header;
  text += ' '.repeat((64 - ((10 + text.length + 1) % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  Buffer.from('\x93NUMPY', 'latin1').copy(pre);
  pre[6] = 1;
  pre.writeUInt16LE(text.length, 8);
  return Buffer.concat([pre, Buffer.from(text, 'latin1'), data]);
}

/** A safetensors file with the given header object and data bytes. */
export function safetensorsOf(header: unknown, data: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, data]);
}
