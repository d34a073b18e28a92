// A minimal zip archive reader and writer, enough for PyTorch's checkpoint container: entries are
// found through the central directory, STORED and DEFLATE entries are read, zip64 is honoured
// (PyTorch writes zip64 for entries over 4 GB), and entries are written STORED with their data
// aligned to 64 bytes, as torch.save aligns them.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { crc32, inflateRawSync } from 'node:zlib';
import { readExactly, readSlices, SequentialWriter, writeAll } from './file-bytes.js';

export interface ZipEntry {
  name: string;
  /** 0 = STORED, 8 = DEFLATE. */
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const ZIP64_EXTRA_ID = 0x0001;
const U32_MAX = 0xffffffff;
const STORED = 0;
const DEFLATE = 8;

function u64(buffer: Buffer, offset: number): number {
  const value = buffer.readBigUInt64LE(offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`zip field of ${value} bytes is too large`);
  return Number(value);
}

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  readonly #fd: number;

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.#fd = fd;
  }

  /** Opens an archive, or returns null when the file is not a zip archive. */
  static open(path: string): ZipReader | null {
    const fd = openSync(path, 'r');
    try {
      const reader = new ZipReader(path, fd);
      if (!reader.#readCentralDirectory()) {
        closeSync(fd);
        return null;
      }
      return reader;
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  close(): void {
    closeSync(this.#fd);
  }

  /** The entry called `name`; throws naming the archive when it is missing. */
  entry(name: string): ZipEntry {
    const entry = this.entries.get(name);
    if (!entry) throw new Error(`${this.path}: the zip archive has no entry '${name}'`);
    return entry;
  }

  /** The uncompressed bytes of an entry that fits in one Buffer. */
  read(entry: ZipEntry): Buffer {
    const raw = readExactly(this.#fd, entry.compressedSize, this.#dataOffset(entry), this.path);
    if (entry.method === STORED) return raw;
    if (entry.method === DEFLATE) return inflateRawSync(raw);
    throw new Error(
      `${this.path}: entry '${entry.name}' uses zip compression method ${entry.method} (only STORED and DEFLATE are supported)`,
    );
  }

  /**
   * Calls `consume` with consecutive pieces of a STORED entry (each at most `sliceBytes`), so an
   * entry larger than a JS buffer can hold is never read at once. Other entries arrive whole.
   */
  readSlices(entry: ZipEntry, sliceBytes: number, consume: (piece: Buffer, offset: number) => void): void {
    if (entry.method !== STORED) {
      consume(this.read(entry), 0);
      return;
    }
    readSlices(this.#fd, this.path, this.#dataOffset(entry), entry.size, sliceBytes, consume);
  }

  /** Where an entry's data starts: after its local header, whose extra field may differ from the central one. */
  #dataOffset(entry: ZipEntry): number {
    const header = readExactly(this.#fd, 30, entry.localHeaderOffset, this.path);
    if (header.readUInt32LE(0) !== LOCAL_SIGNATURE) {
      throw new Error(`${this.path}: corrupt zip archive (no local header for '${entry.name}')`);
    }
    return entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
  }

  #readCentralDirectory(): boolean {
    const fileSize = fstatSync(this.#fd).size;
    if (fileSize < 22) return false;
    const tailLength = Math.min(fileSize, 22 + 0xffff);
    const tailStart = fileSize - tailLength;
    const tail = readExactly(this.#fd, tailLength, tailStart, this.path);
    let eocd = -1;
    for (let i = tailLength - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD_SIGNATURE) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) return false;
    let count = tail.readUInt16LE(eocd + 10);
    let directorySize = tail.readUInt32LE(eocd + 12);
    let directoryOffset = tail.readUInt32LE(eocd + 16);
    const locator = eocd - 20;
    if (locator >= 0 && tail.readUInt32LE(locator) === ZIP64_LOCATOR_SIGNATURE) {
      const record = readExactly(this.#fd, 56, u64(tail, locator + 8), this.path);
      if (record.readUInt32LE(0) !== ZIP64_EOCD_SIGNATURE)
        throw new Error(`${this.path}: corrupt zip64 end of central directory`);
      count = u64(record, 32);
      directorySize = u64(record, 40);
      directoryOffset = u64(record, 48);
    }
    const directory = readExactly(this.#fd, directorySize, directoryOffset, this.path);
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (directory.readUInt32LE(p) !== CENTRAL_SIGNATURE)
        throw new Error(`${this.path}: corrupt zip central directory`);
      const nameLength = directory.readUInt16LE(p + 28);
      const extraLength = directory.readUInt16LE(p + 30);
      const commentLength = directory.readUInt16LE(p + 32);
      const entry: ZipEntry = {
        name: directory.toString('utf8', p + 46, p + 46 + nameLength),
        method: directory.readUInt16LE(p + 10),
        compressedSize: directory.readUInt32LE(p + 20),
        size: directory.readUInt32LE(p + 24),
        localHeaderOffset: directory.readUInt32LE(p + 42),
      };
      this.#applyZip64Extra(entry, directory.subarray(p + 46 + nameLength, p + 46 + nameLength + extraLength));
      this.entries.set(entry.name, entry);
      p += 46 + nameLength + extraLength + commentLength;
    }
    return true;
  }

  // The zip64 extra field holds, in this order, only those sizes whose 32-bit field is saturated.
  #applyZip64Extra(entry: ZipEntry, extra: Buffer): void {
    for (let p = 0; p + 4 <= extra.length;) {
      const id = extra.readUInt16LE(p);
      const length = extra.readUInt16LE(p + 2);
      if (id === ZIP64_EXTRA_ID) {
        let q = p + 4;
        if (entry.size === U32_MAX) {
          entry.size = u64(extra, q);
          q += 8;
        }
        if (entry.compressedSize === U32_MAX) {
          entry.compressedSize = u64(extra, q);
          q += 8;
        }
        if (entry.localHeaderOffset === U32_MAX) entry.localHeaderOffset = u64(extra, q);
      }
      p += 4 + length;
    }
  }
}

interface WrittenEntry {
  name: Buffer;
  crc: number;
  size: number;
  offset: number;
}

/** Writes a STORED zip archive sequentially to an open file descriptor. */
export class ZipWriter {
  readonly #entries: WrittenEntry[] = [];
  readonly #out: SequentialWriter;

  constructor(fd: number) {
    this.#out = new SequentialWriter(fd);
  }

  /**
   * Adds an entry of `size` bytes; `produce` hands its data over piece by piece through `write`
   * (so large tensors are written in slices). The CRC is patched into the local header afterwards.
   */
  addEntry(name: string, size: number, produce: (write: (piece: Uint8Array) => void) => void): void {
    const nameBytes = Buffer.from(name, 'utf8');
    const offset = this.#out.position;
    const zip64 = size >= U32_MAX;
    const fixedLength = 30 + nameBytes.length + (zip64 ? 20 : 0) + 4;
    const padding = (64 - ((offset + fixedLength) % 64)) % 64;
    const header = Buffer.alloc(fixedLength + padding);
    header.writeUInt32LE(LOCAL_SIGNATURE, 0);
    header.writeUInt16LE(zip64 ? 45 : 20, 4);
    header.writeUInt32LE(zip64 ? U32_MAX : size, 18);
    header.writeUInt32LE(zip64 ? U32_MAX : size, 22);
    header.writeUInt16LE(nameBytes.length, 26);
    header.writeUInt16LE(fixedLength + padding - 30 - nameBytes.length, 28);
    nameBytes.copy(header, 30);
    let p = 30 + nameBytes.length;
    if (zip64) {
      header.writeUInt16LE(ZIP64_EXTRA_ID, p);
      header.writeUInt16LE(16, p + 2);
      header.writeBigUInt64LE(BigInt(size), p + 4);
      header.writeBigUInt64LE(BigInt(size), p + 12);
      p += 20;
    }
    // Padding as PyTorch writes it: an extra field 'FB' whose payload aligns the data.
    header.writeUInt16LE(0x4246, p);
    header.writeUInt16LE(padding, p + 2);
    header.fill(0x5a, p + 4);
    this.#out.write(header);

    let crc = 0;
    let written = 0;
    produce((piece) => {
      crc = crc32(piece, crc);
      written += piece.length;
      this.#out.write(piece);
    });
    if (written !== size) throw new Error(`zip entry '${name}': ${written} bytes written but ${size} announced`);
    const crcBytes = Buffer.alloc(4);
    crcBytes.writeUInt32LE(crc >>> 0, 0);
    writeAll(this.#out.fd, crcBytes, offset + 14);
    this.#entries.push({ name: nameBytes, crc: crc >>> 0, size, offset });
  }

  /** Writes the central directory (zip64 when needed); the archive is complete afterwards. */
  finish(): void {
    const directoryOffset = this.#out.position;
    for (const entry of this.#entries) {
      const zip64 = entry.size >= U32_MAX || entry.offset >= U32_MAX;
      const record = Buffer.alloc(46 + entry.name.length + (zip64 ? 28 : 0));
      record.writeUInt32LE(CENTRAL_SIGNATURE, 0);
      record.writeUInt16LE(zip64 ? 45 : 20, 4);
      record.writeUInt16LE(zip64 ? 45 : 20, 6);
      record.writeUInt32LE(entry.crc, 16);
      record.writeUInt32LE(zip64 ? U32_MAX : entry.size, 20);
      record.writeUInt32LE(zip64 ? U32_MAX : entry.size, 24);
      record.writeUInt16LE(entry.name.length, 28);
      record.writeUInt16LE(zip64 ? 28 : 0, 30);
      record.writeUInt32LE(zip64 ? U32_MAX : entry.offset, 42);
      entry.name.copy(record, 46);
      if (zip64) {
        const p = 46 + entry.name.length;
        record.writeUInt16LE(ZIP64_EXTRA_ID, p);
        record.writeUInt16LE(24, p + 2);
        record.writeBigUInt64LE(BigInt(entry.size), p + 4);
        record.writeBigUInt64LE(BigInt(entry.size), p + 12);
        record.writeBigUInt64LE(BigInt(entry.offset), p + 20);
      }
      this.#out.write(record);
    }
    const directorySize = this.#out.position - directoryOffset;
    const count = this.#entries.length;
    if (directoryOffset >= U32_MAX || count >= 0xffff) {
      const zip64Offset = this.#out.position;
      const record = Buffer.alloc(56 + 20);
      record.writeUInt32LE(ZIP64_EOCD_SIGNATURE, 0);
      record.writeBigUInt64LE(44n, 4);
      record.writeUInt16LE(45, 12);
      record.writeUInt16LE(45, 14);
      record.writeBigUInt64LE(BigInt(count), 24);
      record.writeBigUInt64LE(BigInt(count), 32);
      record.writeBigUInt64LE(BigInt(directorySize), 40);
      record.writeBigUInt64LE(BigInt(directoryOffset), 48);
      record.writeUInt32LE(ZIP64_LOCATOR_SIGNATURE, 56);
      record.writeBigUInt64LE(BigInt(zip64Offset), 64);
      record.writeUInt32LE(1, 72);
      this.#out.write(record);
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(EOCD_SIGNATURE, 0);
    end.writeUInt16LE(Math.min(count, 0xffff), 8);
    end.writeUInt16LE(Math.min(count, 0xffff), 10);
    end.writeUInt32LE(Math.min(directorySize, U32_MAX), 12);
    end.writeUInt32LE(Math.min(directoryOffset, U32_MAX), 16);
    this.#out.write(end);
  }
}
