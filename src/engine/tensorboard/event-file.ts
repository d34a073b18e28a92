// A TensorBoard event file writer: `Event` protobufs (wall time, step, and a `Summary` of scalar
// or histogram values) framed as TFRecords (length, masked CRC-32C of the length, data, masked
// CRC-32C of the data), in a file named as TensorFlow's and torch.utils.tensorboard's writers name
// theirs, so TensorBoard finds it. Records are buffered and written every `flushSeconds` and on
// close, as SummaryWriter's flush_secs.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { maskedCrc32c } from './crc32c.js';
import { ProtoWriter } from './protobuf.js';

/** The numbers a TensorBoard histogram holds (tensorflow/core/framework/summary.proto). */
export interface Histogram {
  min: number;
  max: number;
  num: number;
  sum: number;
  sumSquares: number;
  /** Right edge of each bucket, ascending. */
  bucketLimit: number[];
  /** Count in each bucket. */
  bucket: number[];
}

export function tfRecord(data: Uint8Array): Buffer {
  const header = Buffer.alloc(12);
  header.writeBigUInt64LE(BigInt(data.length), 0);
  header.writeUInt32LE(maskedCrc32c(header.subarray(0, 8)), 8);
  const footer = Buffer.alloc(4);
  footer.writeUInt32LE(maskedCrc32c(data), 0);
  return Buffer.concat([header, data, footer]);
}

let filesMade = 0;

export class EventFileWriter {
  readonly path: string;
  readonly #fd: number;
  readonly #flushMs: number;
  #pending: Buffer[] = [];
  #lastFlush = Date.now();
  #closed = false;

  constructor(dir: string, { flushSeconds = 120 }: { flushSeconds?: number } = {}) {
    mkdirSync(dir, { recursive: true });
    const seconds = Math.floor(Date.now() / 1000);
    this.path = join(dir, `events.out.tfevents.${seconds}.${hostname()}.${process.pid}.${filesMade++}`);
    this.#fd = openSync(this.path, 'wx');
    this.#flushMs = flushSeconds * 1000;
    this.#append(new ProtoWriter().double(1, Date.now() / 1000).string(3, 'brain.Event:2'));
    this.flush();
  }

  scalar(tag: string, value: number, step: number): void {
    this.#summary(step, (v) => v.string(1, tag).float(2, value));
  }

  histogram(tag: string, h: Histogram, step: number): void {
    this.#summary(step, (v) =>
      v
        .string(1, tag)
        .message(5, (p) =>
          p
            .double(1, h.min)
            .double(2, h.max)
            .double(3, h.num)
            .double(4, h.sum)
            .double(5, h.sumSquares)
            .packedDoubles(6, h.bucketLimit)
            .packedDoubles(7, h.bucket),
        ),
    );
  }

  /** Writes the buffered events to the file now. */
  flush(): void {
    if (this.#pending.length > 0) writeSync(this.#fd, Buffer.concat(this.#pending));
    this.#pending = [];
    this.#lastFlush = Date.now();
  }

  close(): void {
    if (this.#closed) return;
    this.flush();
    closeSync(this.#fd);
    this.#closed = true;
  }

  #summary(step: number, value: (v: ProtoWriter) => void): void {
    this.#append(
      new ProtoWriter()
        .double(1, Date.now() / 1000)
        .int(2, step)
        .message(5, (summary) => summary.message(1, value)),
    );
  }

  #append(event: ProtoWriter): void {
    if (this.#closed) throw new Error(`${this.path}: the event file is closed`);
    this.#pending.push(tfRecord(event.finish()));
    if (Date.now() - this.#lastFlush >= this.#flushMs) this.flush();
  }
}
