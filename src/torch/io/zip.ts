// A minimal zip archive reader and writer, enough for PyTorch's checkpoint container: entries are
// found through the central directory, STORED and DEFLATE entries are read, zip64 is honoured
// (PyTorch writes zip64 for entries over 4 GB), and entries are written STORED with their data
// aligned to 64 bytes, as torch.save aligns them.
//
// The reader trusts nothing in the file: every record, offset and size is checked against the
// file before use, an entry never inflates past its declared size (nor declares more than
// DEFLATE can produce from its compressed bytes), and every entry's CRC-32 is checked, so a
// damaged archive fails with a message naming the file and entry instead of loading wrong bytes.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { crc32, inflateRawSync } from 'node:zlib';
import { readExactly, readSlices, requireRegularFile, SequentialWriter, SLICE_BYTES, writeAll } from './file-bytes.js';

export interface ZipEntry {
  name: string;
  /** 0 = STORED, 8 = DEFLATE. */
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
  /** CRC-32 of the uncompressed data, from the central directory. */
  crc: number;
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
/** DEFLATE's best case is about 1032:1; an entry declaring more than that is lying. */
const MAX_DEFLATE_RATIO = 1032;

/** A damaged or malformed archive: always names the file, and the entry when there is one. */
export class CorruptZipError extends Error {}

function u64(buffer: Buffer, offset: number): number {
  const value = buffer.readBigUInt64LE(offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`zip field of ${value} bytes is too large`);
  return Number(value);
}

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  readonly #fd: number;
  #size = 0;

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.#fd = fd;
  }

  /** Opens an archive, or returns null when the file is not a zip archive. */
  static open(path: string): ZipReader | null {
    requireRegularFile(path);
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
      const message = (error as Error).message;
      throw message.includes(path) ? error : new CorruptZipError(`${path}: corrupt zip archive (${message})`);
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

  /**
   * The uncompressed bytes of an entry that fits in one Buffer, CRC-checked. `maxBytes` refuses
   * an entry whose declared size is larger before anything is read or inflated.
   */
  read(entry: ZipEntry, maxBytes = SLICE_BYTES * 16): Buffer {
    if (entry.size > maxBytes) {
      throw new CorruptZipError(
        `${this.path}: entry '${entry.name}' declares ${entry.size} bytes, more than the ${maxBytes} this entry may hold`,
      );
    }
    const raw = readExactly(this.#fd, entry.compressedSize, this.#dataOffset(entry), this.path);
    let data: Buffer;
    if (entry.method === STORED) data = raw;
    else if (entry.method === DEFLATE) {
      try {
        // Never more than declared: a bomb stops at its declared size instead of filling memory.
        data = inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.size) });
      } catch (error) {
        throw new CorruptZipError(
          `${this.path}: entry '${entry.name}' does not inflate to its declared ${entry.size} bytes (${(error as Error).message})`,
        );
      }
    } else {
      throw new CorruptZipError(
        `${this.path}: entry '${entry.name}' uses zip compression method ${entry.method} (only STORED and DEFLATE are supported)`,
      );
    }
    if (data.length !== entry.size) {
      throw new CorruptZipError(
        `${this.path}: entry '${entry.name}' holds ${data.length} bytes, its header declares ${entry.size}`,
      );
    }
    this.#checkCrc(entry, crc32(data));
    return data;
  }

  #checkCrc(entry: ZipEntry, crc: number): void {
    if (crc >>> 0 !== entry.crc) {
      throw new CorruptZipError(
        `${this.path}: entry '${entry.name}' is damaged (its CRC-32 is ${(crc >>> 0).toString(16)}, the archive says ${entry.crc.toString(16)}); the file was corrupted on disk or in transfer`,
      );
    }
  }

  /** Reads every entry through its CRC: whether the archive's bytes are intact. Throws naming the entry. */
  verify(): void {
    for (const entry of this.entries.values()) this.readSlices(entry, SLICE_BYTES, () => {});
  }

  /**
   * Calls `consume` with consecutive pieces of a STORED entry (each at most `sliceBytes`), so an
   * entry larger than a JS buffer can hold is never read at once. Other entries arrive whole.
   */
  readSlices(entry: ZipEntry, sliceBytes: number, consume: (piece: Buffer, offset: number) => void): void {
    if (entry.method !== STORED) {
      consume(this.read(entry, Number.MAX_SAFE_INTEGER), 0);
      return;
    }
    let crc = 0;
    readSlices(this.#fd, this.path, this.#dataOffset(entry), entry.size, sliceBytes, (piece, offset) => {
      crc = crc32(piece, crc);
      // The last piece is checked before it is handed over, so a damaged entry is never used.
      if (offset + piece.length === entry.size) this.#checkCrc(entry, crc);
      consume(piece, offset);
    });
    if (entry.size === 0) this.#checkCrc(entry, 0);
  }

  /** Where an entry's data starts: after its local header, whose extra field may differ from the central one. */
  #dataOffset(entry: ZipEntry): number {
    if (entry.localHeaderOffset + 30 > this.#size) {
      throw new CorruptZipError(
        `${this.path}: corrupt zip archive (the local header of '${entry.name}' lies past the end of the file; truncated?)`,
      );
    }
    const header = readExactly(this.#fd, 30, entry.localHeaderOffset, this.path);
    if (header.readUInt32LE(0) !== LOCAL_SIGNATURE) {
      throw new CorruptZipError(`${this.path}: corrupt zip archive (no local header for '${entry.name}')`);
    }
    const start = entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
    if (start + entry.compressedSize > this.#size) {
      throw new CorruptZipError(
        `${this.path}: entry '${entry.name}' ends at byte ${start + entry.compressedSize}, past the end of the ${this.#size}-byte file (truncated?)`,
      );
    }
    return start;
  }

  #readCentralDirectory(): boolean {
    const fileSize = fstatSync(this.#fd).size;
    this.#size = fileSize;
    const corrupt = (what: string) => new CorruptZipError(`${this.path}: corrupt zip ${what}`);
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
    if (eocd < 0) {
      // A zip's first bytes are a local header: such a file without its directory was cut short.
      if (readExactly(this.#fd, 4, 0, this.path).readUInt32LE(0) === LOCAL_SIGNATURE) {
        throw corrupt(
          `archive: it starts like a zip archive but has no end of central directory; the file is truncated (an interrupted copy or download?)`,
        );
      }
      return false;
    }
    let count = tail.readUInt16LE(eocd + 10);
    let directorySize = tail.readUInt32LE(eocd + 12);
    let directoryOffset = tail.readUInt32LE(eocd + 16);
    const locator = eocd - 20;
    if (locator >= 0 && tail.readUInt32LE(locator) === ZIP64_LOCATOR_SIGNATURE) {
      const recordOffset = u64(tail, locator + 8);
      if (recordOffset + 56 > fileSize)
        throw corrupt('zip64 end of central directory (it lies past the end of the file)');
      const record = readExactly(this.#fd, 56, recordOffset, this.path);
      if (record.readUInt32LE(0) !== ZIP64_EOCD_SIGNATURE) throw corrupt('zip64 end of central directory');
      count = u64(record, 32);
      directorySize = u64(record, 40);
      directoryOffset = u64(record, 48);
    }
    if (directoryOffset + directorySize > fileSize) {
      throw corrupt(
        `central directory (it claims bytes ${directoryOffset} to ${directoryOffset + directorySize} of a ${fileSize}-byte file; truncated?)`,
      );
    }
    if (count * 46 > directorySize)
      throw corrupt(`central directory (${count} entries cannot fit in ${directorySize} bytes)`);
    const directory = readExactly(this.#fd, directorySize, directoryOffset, this.path);
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > directory.length || directory.readUInt32LE(p) !== CENTRAL_SIGNATURE)
        throw corrupt(`central directory (record ${i} of ${count} is malformed)`);
      const nameLength = directory.readUInt16LE(p + 28);
      const extraLength = directory.readUInt16LE(p + 30);
      const commentLength = directory.readUInt16LE(p + 32);
      const next = p + 46 + nameLength + extraLength + commentLength;
      if (next > directory.length) throw corrupt(`central directory (record ${i} runs past the directory)`);
      const entry: ZipEntry = {
        name: directory.toString('utf8', p + 46, p + 46 + nameLength),
        method: directory.readUInt16LE(p + 10),
        crc: directory.readUInt32LE(p + 16),
        compressedSize: directory.readUInt32LE(p + 20),
        size: directory.readUInt32LE(p + 24),
        localHeaderOffset: directory.readUInt32LE(p + 42),
      };
      this.#applyZip64Extra(entry, directory.subarray(p + 46 + nameLength, p + 46 + nameLength + extraLength));
      if (entry.localHeaderOffset + 30 + entry.compressedSize > fileSize) {
        throw corrupt(`archive: entry '${entry.name}' lies past the end of the ${fileSize}-byte file (truncated?)`);
      }
      const maxSize = entry.method === STORED ? entry.compressedSize : entry.compressedSize * MAX_DEFLATE_RATIO + 64;
      if (entry.size > maxSize) {
        throw corrupt(
          `archive: entry '${entry.name}' declares ${entry.size} bytes, more than its ${entry.compressedSize} stored bytes can hold`,
        );
      }
      this.entries.set(entry.name, entry);
      p = next;
    }
    return true;
  }

  // The zip64 extra field holds, in this order, only those sizes whose 32-bit field is saturated.
  #applyZip64Extra(entry: ZipEntry, extra: Buffer): void {
    for (let p = 0; p + 4 <= extra.length;) {
      const id = extra.readUInt16LE(p);
      const length = extra.readUInt16LE(p + 2);
      if (p + 4 + length > extra.length) {
        throw new CorruptZipError(
          `${this.path}: corrupt zip central directory (the extra field of '${entry.name}' is malformed)`,
        );
      }
      if (id === ZIP64_EXTRA_ID) {
        const needed =
          8 * [entry.size, entry.compressedSize, entry.localHeaderOffset].filter((v) => v === U32_MAX).length;
        if (length < needed) {
          throw new CorruptZipError(
            `${this.path}: corrupt zip central directory (the zip64 field of '${entry.name}' is too short)`,
          );
        }
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
