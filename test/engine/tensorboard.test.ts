// TensorBoard event files from a real (tiny) training run, read back by a reader written here from
// the format's specification, independent of the writer: TFRecord framing (u64 length, masked
// CRC-32C of it, data, masked CRC-32C of the data), then the Event protobuf
// (tensorflow/core/util/event.proto) and its Summary (summary.proto). The values must be the
// ones the run logged in metrics.jsonl.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { RunLogger } from '../../src/engine/run-logger.js';
import { trainTask } from '../../src/tasks/index.js';
import { makeImageFolders, tinyRun } from '../tasks/support.js';

/** CRC-32C bit by bit (no table), as the RFC 3720 definition reads. */
function crc32cReference(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function masked(crc: number): number {
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

function readRecords(file: Buffer): Buffer[] {
  const records: Buffer[] = [];
  let at = 0;
  while (at < file.length) {
    const length = Number(file.readBigUInt64LE(at));
    assert.equal(file.readUInt32LE(at + 8), masked(crc32cReference(file.subarray(at, at + 8))), 'length CRC');
    const data = file.subarray(at + 12, at + 12 + length);
    assert.equal(file.readUInt32LE(at + 12 + length), masked(crc32cReference(data)), 'data CRC');
    records.push(data);
    at += 12 + length + 4;
  }
  assert.equal(at, file.length, 'the file ends on a record boundary');
  return records;
}

type Field = { field: number; wire: number; value: bigint | Buffer };

/** Every field of one protobuf message, in order. */
function decode(message: Buffer): Field[] {
  const fields: Field[] = [];
  let at = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = message[at++] as number;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (at < message.length) {
    const key = Number(varint());
    const field = key >> 3;
    const wire = key & 7;
    if (wire === 0) fields.push({ field, wire, value: varint() });
    else if (wire === 1) fields.push({ field, wire, value: message.subarray(at, (at += 8)) });
    else if (wire === 5) fields.push({ field, wire, value: message.subarray(at, (at += 4)) });
    else if (wire === 2) {
      const length = Number(varint());
      fields.push({ field, wire, value: message.subarray(at, (at += length)) });
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return fields;
}

const one = (fields: Field[], n: number): Field | undefined => fields.find((f) => f.field === n);
const asBuffer = (f: Field | undefined): Buffer => f?.value as Buffer;
const packed = (b: Buffer): number[] => Array.from({ length: b.length / 8 }, (_, i) => b.readDoubleLE(i * 8));

interface Logged {
  step: number;
  tag: string;
  scalar?: number;
  histogram?: { min: number; max: number; num: number; sum: number; bucket: number[]; limits: number[] };
}

function readEvents(path: string): { fileVersion: string; values: Logged[] } {
  const records = readRecords(readFileSync(path)).map(decode);
  const first = records[0] as Field[];
  const fileVersion = asBuffer(one(first, 3)).toString();
  const values: Logged[] = [];
  for (const event of records.slice(1)) {
    assert.ok(asBuffer(one(event, 1)).readDoubleLE(0) > 1.7e9, 'wall_time is seconds since 1970');
    const step = Number(BigInt.asIntN(64, (one(event, 2)?.value as bigint | undefined) ?? 0n));
    for (const value of decode(asBuffer(one(event, 5))).filter((f) => f.field === 1)) {
      const v = decode(value.value as Buffer);
      const tag = asBuffer(one(v, 1)).toString();
      const simple = one(v, 2);
      if (simple) values.push({ step, tag, scalar: (simple.value as Buffer).readFloatLE(0) });
      const histo = one(v, 5);
      if (histo) {
        const h = decode(histo.value as Buffer);
        const d = (n: number): number => asBuffer(one(h, n)).readDoubleLE(0);
        values.push({
          step,
          tag,
          histogram: {
            min: d(1),
            max: d(2),
            num: d(3),
            sum: d(4),
            limits: packed(asBuffer(one(h, 6))),
            bucket: packed(asBuffer(one(h, 7))),
          },
        });
      }
    }
  }
  return { fileVersion, values };
}

describe('TensorBoard event files', () => {
  it('hold the scalars and histograms a tiny training run logged, in a file TensorBoard reads', async () => {
    const root = await makeImageFolders(4, 1);
    const dir = join(root, 'run');
    const cfg = loadConfig({
      config: 'demo/rotnet',
      overrides: [
        `config.DATA.TRAIN.DATA_PATHS=[${JSON.stringify(join(root, 'train'))}]`,
        `config.DATA.TEST.DATA_PATHS=[${JSON.stringify(join(root, 'test'))}]`,
        ...tinyRun(dir, 2),
        'config.HOOKS.TENSORBOARD_SETUP.USE_TENSORBOARD=True',
        'config.HOOKS.TENSORBOARD_SETUP.LOG_PARAMS_EVERY_N_ITERS=2',
      ],
    });
    const metricsFile = join(dir, 'metrics.jsonl');
    await trainTask(cfg, { logger: new RunLogger({ quiet: true, jsonToStdout: false, metricsFile }) });
    const files = readdirSync(join(dir, 'tb_logs'));
    assert.equal(files.length, 1);
    assert.match(files[0] as string, /^events\.out\.tfevents\.\d+\./);
    const { fileVersion, values } = readEvents(join(dir, 'tb_logs', files[0] as string));
    assert.equal(fileVersion, 'brain.Event:2');

    const lines = readFileSync(metricsFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    // 12 train images, batches of 4: 3 steps per epoch, 6 in all; LOG_FREQUENCY 1 logs every step.
    const steps = lines.filter((l) => l.event === 'train');
    assert.equal(steps.length, 6);
    const scalars = (tag: string): [number, number][] =>
      values.filter((v) => v.tag === tag).map((v) => [v.step, v.scalar as number]);
    assert.deepEqual(
      scalars('Training/Learning_rate').map(([s]) => s),
      steps.map((l) => l.iteration),
    );
    scalars('Training/Learning_rate').forEach(([, lr], i) => assert.ok(Math.abs(lr - (steps[i]?.lr as number)) < 1e-6));
    // The first step of each epoch: the metrics line's running mean is that step's loss.
    for (const line of steps.filter((l) => l.step === 1)) {
      const logged = scalars('Training/Loss').find(([s]) => s === line.iteration);
      assert.ok(logged && Math.abs(logged[1] - (line.loss as number)) < 1e-4, `loss at iteration ${line.iteration}`);
    }
    for (const tag of [
      'Speed/img_per_sec_per_gpu',
      'Speed/Batch_processing_time_ms',
      'Speed/ETA_hours',
      'Memory/Peak_RSS_MiB',
    ]) {
      assert.equal(scalars(tag).length, 6, tag);
    }
    assert.ok(scalars('Memory/Peak_RSS_MiB').every(([, mib]) => mib > 10));

    const epochs = lines.filter((l) => l.event === 'train_epoch') as { epoch: number; accuracy: { top1: number }[] }[];
    const tests = lines.filter((l) => l.event === 'train_test') as {
      epoch: number;
      loss: number;
      accuracy: { top1: number }[];
    }[];
    assert.deepEqual(
      scalars('Training/accuracy_list_meter_top_1_Output_0'),
      epochs.map((e) => [e.epoch, Math.fround(e.accuracy[0]?.top1 as number)]),
    );
    assert.deepEqual(
      scalars('Testing/accuracy_list_meter_top_1_Output_0'),
      tests.map((e) => [e.epoch, Math.fround(e.accuracy[0]?.top1 as number)]),
    );
    assert.deepEqual(
      scalars('Testing/Loss'),
      tests.map((e) => [e.epoch, Math.fround(e.loss)]),
    );

    // Parameter histograms: before training (-1), every 2 iterations, after each epoch; gradients likewise without -1.
    const conv = values.filter((v) => v.tag === 'Parameters/trunk.conv1.weight');
    assert.deepEqual(
      conv.map((v) => v.step),
      [-1, 2, 0, 4, 6, 1],
    );
    for (const { histogram } of conv) {
      assert.equal(histogram?.num, 16 * 3 * 3 * 3);
      assert.equal(
        histogram?.bucket.reduce((a, b) => a + b, 0),
        histogram?.num,
      );
      assert.ok((histogram?.min as number) < 0 && (histogram?.max as number) > 0);
      assert.ok(Math.abs((histogram?.limits.at(-1) as number) - (histogram?.max as number)) < 1e-9);
    }
    const grads = values.filter((v) => v.tag === 'Gradients/trunk.conv1.weight').map((v) => v.step);
    assert.deepEqual(grads, [2, 0, 4, 6, 1]);
  });
});
