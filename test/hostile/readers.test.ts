// Hostile and broken files against the readers (pickle, zip checkpoints, .npy, safetensors): each
// ends in one error that names the file and what is wrong, or loads correctly; none hangs (every
// test is bounded by a timeout), runs code or fills memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { arange, Tensor } from '../../src/torch/index.js';
import {
  disposeTensors,
  isCompleteCheckpoint,
  loadCheckpoint,
  readNpy,
  readSafetensors,
  saveCheckpoint,
} from '../../src/torch/io/index.js';
import { unpickle } from '../../src/torch/io/pickle.js';
import { Linear } from '../../src/torch/nn/index.js';
import { initModelFromWeights } from '../../src/models/weights-init.js';
import { checkpointZip, fifo, linkToDevZero, npyOf, pickleOf, safetensorsOf, tempDir, u32, zipOf } from './files.js';

const dir = tempDir();
const BOUND = { timeout: 30_000 };

function write(name: string, bytes: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

function rejects(fn: () => unknown, pattern: RegExp, path: string): void {
  assert.throws(fn, (error: Error) => {
    assert.match(error.message, pattern);
    assert.ok(error.message.includes(path), `the message names the file: ${error.message}`);
    assert.ok(
      !(error instanceof RangeError) && !(error instanceof TypeError),
      `not a bare engine error: ${error.name}`,
    );
    return true;
  });
}

test('a 2 MB LONG4 integer decodes in linear time, as Python decodes it', BOUND, () => {
  const digits = Buffer.alloc(2 << 20, 0x5a);
  digits[digits.length - 1] = 0x01; // positive
  const { value } = unpickle(pickleOf([0x8b], u32(digits.length), digits), { globals: new Map(), source: 'long4' });
  assert.equal(typeof value, 'bigint');
  assert.equal((value as bigint).toString(16).length, 2 * digits.length - 1);
  const negative = unpickle(pickleOf([0x8a, 2, 0xff, 0xff]), { globals: new Map(), source: 'x' }).value;
  assert.equal(negative, -1);
});

test('a decimal INT longer than Python accepts is refused', BOUND, () => {
  assert.throws(
    () => unpickle(pickleOf('I', '9'.repeat(100_000), '\n'), { globals: new Map(), source: 'big.pkl' }),
    /big\.pkl: an integer of 100000 decimal digits exceeds the limit/,
  );
});

test('deeply nested lists and a 5M-item APPENDS load from a checkpoint without overflowing the stack', BOUND, () => {
  const depth = 200_000;
  const nested = write('nested.pt', checkpointZip(pickleOf(']'.repeat(depth), 'a'.repeat(depth - 1))));
  let value = loadCheckpoint(nested);
  for (let level = 0; level < depth - 1; level++) value = (value as unknown[])[0];
  assert.deepEqual(value, []);
  const items = 5_000_000;
  const many = write('appends.pt', checkpointZip(pickleOf(']', '(', Buffer.alloc(items * 2, 'K\x07'), 'e')));
  const list = loadCheckpoint(many) as number[];
  assert.equal(list.length, items);
  assert.equal(list[items - 1], 7);
});

test('a pickle asking for os.system runs nothing', BOUND, () => {
  const marker = join(dir, 'pwned');
  const path = write(
    'evil.pt',
    checkpointZip(pickleOf('cos\nsystem\n', '(', 'X', u32(`touch ${marker}`.length), `touch ${marker}`, 'tR')),
  );
  rejects(() => loadCheckpoint(path), /refusing to load global os\.system/, path);
  assert.equal(existsSync(marker), false);
});

test('zip checkpoints: a flipped byte, a truncation, lying sizes and directories are named, not loaded', BOUND, () => {
  const good = join(dir, 'good.pt');
  const t = arange(0, 64, 1, { dtype: 'float32' });
  saveCheckpoint(good, { w: t });
  t.dispose();
  const bytes = readFileSync(good);
  const flipped = Buffer.from(bytes);
  const at = bytes.indexOf(Buffer.from([0, 0, 0x80, 0x3f])); // 1.0f in the tensor data
  flipped[at + 3] = 0x40;
  const rotten = write('rotten.pt', flipped);
  rejects(() => loadCheckpoint(rotten), /entry 'archive\/data\/0' is damaged \(its CRC-32/, rotten);
  assert.equal(isCompleteCheckpoint(rotten), false, 'a damaged checkpoint is not offered for resuming');
  assert.equal(isCompleteCheckpoint(good), true);

  const cut = write('cut.pt', bytes.subarray(0, Math.floor(bytes.length / 2)));
  rejects(() => loadCheckpoint(cut), /truncated/, cut);

  const pkl = pickleOf('}');
  // Declares 1 GiB from 1 MB: refused before inflating anything.
  const bomb = write(
    'bomb.pt',
    zipOf([{ name: 'archive/data.pkl', data: Buffer.alloc(1 << 20), method: 8, declaredSize: 1 << 30 }]),
  );
  rejects(() => loadCheckpoint(bomb), /declares 1073741824 bytes/, bomb);
  // Declares 100 bytes but inflates to 50 MB: inflating stops at the declared size.
  const liar = write(
    'liar.pt',
    zipOf([{ name: 'archive/data.pkl', data: Buffer.alloc(50 << 20), method: 8, declaredSize: 100 }]),
  );
  const before = process.memoryUsage().rss;
  rejects(() => loadCheckpoint(liar), /(does not inflate|more than its)/, liar);
  assert.ok(process.memoryUsage().rss - before < 40 << 20, 'the bomb was not inflated');

  const directory = Buffer.from(zipOf([{ name: 'archive/data.pkl', data: pkl }]));
  const eocd = directory.length - 22;
  const manyEntries = Buffer.from(directory);
  manyEntries.writeUInt16LE(0xfff0, eocd + 10);
  rejects(() => loadCheckpoint(write('count.pt', manyEntries)), /corrupt zip central directory/, join(dir, 'count.pt'));
  const farOffset = Buffer.from(directory);
  farOffset.writeUInt32LE(0x7fffffff, eocd + 16);
  rejects(() => loadCheckpoint(write('offset.pt', farOffset)), /corrupt zip central directory/, join(dir, 'offset.pt'));
  const longName = Buffer.from(directory);
  longName.writeUInt16LE(0xffff, eocd - 46 - 'archive/data.pkl'.length + 28);
  rejects(() => loadCheckpoint(write('name.pt', longName)), /corrupt zip central directory/, join(dir, 'name.pt'));
  const badCrc = write('crc.pt', zipOf([{ name: 'archive/data.pkl', data: pkl, crc: 1234 }]));
  rejects(() => loadCheckpoint(badCrc), /is damaged/, badCrc);
});

test('FIFOs, devices and folders are refused by name before anything opens them', BOUND, () => {
  const pipe = fifo(dir, 'pipe.pt');
  const zero = linkToDevZero(dir, 'zero.npy');
  rejects(() => loadCheckpoint(pipe), /is a FIFO \(named pipe\), not a regular file/, pipe);
  rejects(() => readNpy(zero), /is a device, not a regular \.npy file/, zero);
  rejects(() => readSafetensors(pipe), /is a FIFO/, pipe);
  rejects(() => loadCheckpoint(dir), /is a folder/, dir);
});

test('.npy: <U0, absurd widths, negative shapes, lying lengths and long strings', BOUND, () => {
  const u0 = write('u0.npy', npyOf("{'descr': '<U0', 'fortran_order': False, 'shape': (3,), }"));
  rejects(() => readNpy(u0), /string dtype '<U0' has a width outside/, u0);
  const negative = write('neg.npy', npyOf("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }"));
  rejects(() => readNpy(negative), /shape \(-1,\) is not a tuple of non-negative integers/, negative);
  const short = write('short.npy', npyOf("{'descr': '<f4', 'fortran_order': False, 'shape': (1000,), }"));
  rejects(() => readNpy(short), /shorter than its header says/, short);
  const header = Buffer.from(npyOf("{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }"));
  header.writeUInt16LE(0xffff, 8);
  const lying = write('lying.npy', header);
  rejects(() => readNpy(lying), /corrupt \.npy header/, lying);
  const width = 300_000;
  const text = Buffer.alloc(width * 4);
  for (let i = 0; i < width; i++) text.writeUInt32LE(0x61 + (i % 26), i * 4);
  const long = write('long.npy', npyOf(`{'descr': '<U${width}', 'fortran_order': False, 'shape': (1,), }`, text));
  const [value] = readNpy(long) as string[];
  assert.equal(value!.length, width);
  const bad = Buffer.alloc(8);
  bad.writeUInt32LE(0x110000, 0);
  const notUnicode = write('cp.npy', npyOf("{'descr': '<U2', 'fortran_order': False, 'shape': (1,), }", bad));
  rejects(() => readNpy(notUnicode), /string 0 holds 110000, which is not a Unicode code point/, notUnicode);
});

test('safetensors: negative, overlapping, gapped and short data_offsets, bad dtypes and headers', BOUND, () => {
  const data = Buffer.alloc(32);
  const cases: [string, unknown, RegExp][] = [
    ['negative', { a: { dtype: 'F32', shape: [2], data_offsets: [-8, 0] } }, /data_offsets \[-8,0\]/],
    [
      'overlap',
      {
        a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
        b: { dtype: 'F32', shape: [4], data_offsets: [8, 24] },
        c: { dtype: 'F32', shape: [2], data_offsets: [24, 32] },
      },
      /tensor 'b' starts at data byte 8, inside the tensor before it/,
    ],
    ['gap', { a: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, /leaving a gap/],
    [
      'size',
      { a: { dtype: 'F32', shape: [3], data_offsets: [0, 32] } },
      /spans 32 bytes, but its shape and dtype need 12/,
    ],
    [
      'short',
      { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } },
      /cover 16 bytes of data but the file holds 32/,
    ],
    ['dtype', { a: { dtype: 'F8', shape: [8], data_offsets: [0, 32] } }, /dtype "F8"/],
    ['shape', { a: { dtype: 'F32', shape: 'x', data_offsets: [0, 32] } }, /has shape "x"/],
    ['entry', { a: 7 }, /is not described by an object/],
    ['array', [1, 2], /the header is not a JSON object/],
    ['metadata', { __metadata__: { a: 1 } }, /__metadata__ must map names to strings/],
  ];
  for (const [name, header, pattern] of cases) {
    const path = write(`${name}.safetensors`, safetensorsOf(header, data));
    rejects(() => readSafetensors(path), pattern, path);
  }
  const huge = Buffer.alloc(16);
  huge.writeBigUInt64LE(1n << 62n);
  const lengthy = write('length.safetensors', huge);
  rejects(() => readSafetensors(lengthy), /bad header length/, lengthy);
  const ok = write(
    'ok.safetensors',
    safetensorsOf({ a: { dtype: 'F32', shape: [8], data_offsets: [0, 32] }, __metadata__: { k: 'v' } }, data),
  );
  const { tensors } = readSafetensors(ok);
  assert.deepEqual((tensors.get('a') as Tensor).shape, [8]);
  disposeTensors(tensors);
});

test('a dict that refers to itself thousands of times gets a key-name hint at once', BOUND, () => {
  const keys = 1000;
  const pairs = Array.from({ length: keys }, (_, i) =>
    Buffer.concat([Buffer.from([0x8c, 4]), Buffer.from(`k${String(i).padStart(3, '0')}`), Buffer.from([0x68, 0])]),
  );
  const path = write('selfref.pt', checkpointZip(pickleOf('}', [0x71, 0], '(', Buffer.concat(pairs), 'u')));
  const model = new Linear(2, 2);
  try {
    assert.throws(
      () => initModelFromWeights(model, { PARAMS_FILE: path, STATE_DICT_KEY_NAME: 'missing' }),
      (error: Error) => error.message.includes(path) && /has no key 'missing'/.test(error.message),
    );
  } finally {
    model.dispose();
  }
});

test('torch.Size, OrderedDict and set reduced with an int are named, not a bare TypeError', BOUND, () => {
  // GLOBAL torch.Size, (7,), REDUCE
  const path = write('size.pt', checkpointZip(pickleOf('ctorch\nSize\n', 'K', [7], '\x85R')));
  rejects(() => loadCheckpoint(path), /torch\.Size\(sizes\) must be a tuple of ints/, path);
  // The same for OrderedDict and set given an int.
  const dict = write('dict.pt', checkpointZip(pickleOf('ccollections\nOrderedDict\n', 'K', [7], '\x85R')));
  rejects(() => loadCheckpoint(dict), /OrderedDict\(items\) takes a list, got number/, dict);
  const set = write('set.pt', checkpointZip(pickleOf('c__builtin__\nset\n', 'K', [7], '\x85R')));
  rejects(() => loadCheckpoint(set), /set\(items\) takes a list, got number/, set);
});
