import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { arange, tensor, type Tensor } from '../../../src/torch/index.js';
import { NpyReader, NpyWriter, readNpy, writeNpy } from '../../../src/torch/io/index.js';
import { tensorFromFile } from '../../../src/torch/io/storage.js';
import { python, tempFolder } from './python.js';

const dir = tempFolder();

// numpy writes one file per dtype (plus a version 2.0 header, a Fortran-ordered array and strings).
const CASES: [string, string, number[]][] = [
  ['f4', 'float32', [2, 3]],
  ['f8', 'float64', [4]],
  ['f2', 'float16', [3, 1]],
  ['i8', 'int64', [2, 2]],
  ['i4', 'int32', [5]],
  ['i2', 'int16', [2]],
  ['i1', 'int8', [3]],
  ['u1', 'uint8', [2, 2, 2]],
  ['b1', 'bool', [3]],
];
python(
  `
import sys, numpy as np, numpy.lib.format as fmt
d = sys.argv[1]
for code in ['f4', 'f8', 'f2', 'i8', 'i4', 'i2', 'i1', 'u1', 'b1']:
    np.save(f'{d}/{code}.npy', (np.arange(24) - 5)[:{'f4': 6, 'f8': 4, 'f2': 3, 'i8': 4, 'i4': 5, 'i2': 2, 'i1': 3, 'u1': 8, 'b1': 3}[code]].astype(code)
            .reshape({'f4': (2, 3), 'f8': (4,), 'f2': (3, 1), 'i8': (2, 2), 'i4': (5,), 'i2': (2,), 'i1': (3,), 'u1': (2, 2, 2), 'b1': (3,)}[code]))
with open(f'{d}/v2.npy', 'wb') as f:
    fmt.write_array(f, np.arange(6, dtype='<f4').reshape(3, 2), version=(2, 0))
np.save(f'{d}/fortran.npy', np.asfortranarray(np.arange(6, dtype='<i8').reshape(2, 3)))
np.save(f'{d}/strings.npy', np.array(['a/b.jpg', 'ünïcödé/😀.png', '']))
`,
  dir,
);

test('reads every numeric dtype numpy writes', () => {
  for (const [code, dtype, shape] of CASES) {
    const t = readNpy(join(dir, `${code}.npy`)) as Tensor;
    assert.deepEqual([t.dtype, t.shape], [dtype, shape], code);
    const n = shape.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: n }, (_, i) => i - 5);
    const expected =
      code === 'u1' ? values.map((v) => (v + 256) % 256) : code === 'b1' ? values.map((v) => Number(v !== 0)) : values;
    assert.deepEqual(t.toArray(), expected, code);
  }
});

test('reads version 2.0 headers, Fortran order and unicode strings', () => {
  assert.deepEqual((readNpy(join(dir, 'v2.npy')) as Tensor).toArray(), [0, 1, 2, 3, 4, 5]);
  const fortran = readNpy(join(dir, 'fortran.npy')) as Tensor;
  assert.deepEqual(
    [fortran.shape, fortran.toArray()],
    [
      [2, 3],
      [0, 1, 2, 3, 4, 5],
    ],
  );
  assert.deepEqual(readNpy(join(dir, 'strings.npy')), ['a/b.jpg', 'ünïcödé/😀.png', '']);
});

test('writes files numpy reads: numeric dtypes, non-contiguous tensors and strings', () => {
  const matrix = arange(6, undefined, 1, { dtype: 'float32' }).reshape(2, 3).t();
  writeNpy(join(dir, 'out-f4.npy'), matrix);
  writeNpy(join(dir, 'out-i8.npy'), tensor(new BigInt64Array([2n ** 40n, -1n])));
  writeNpy(join(dir, 'out-f2.npy'), tensor([0.5, -1], { dtype: 'float16' }));
  writeNpy(join(dir, 'out-b1.npy'), tensor([true, false]));
  writeNpy(join(dir, 'out-U.npy'), ['x.jpg', 'ünï/😀.png']);
  const out = python(
    `
import sys, numpy as np
d = sys.argv[1]
a = np.load(f'{d}/out-f4.npy'); assert a.dtype == '<f4' and a.tolist() == [[0, 3], [1, 4], [2, 5]], a
a = np.load(f'{d}/out-i8.npy'); assert a.dtype == '<i8' and a.tolist() == [2**40, -1], a
a = np.load(f'{d}/out-f2.npy'); assert a.dtype == '<f2' and a.tolist() == [0.5, -1], a
a = np.load(f'{d}/out-b1.npy'); assert a.dtype == '|b1' and a.tolist() == [True, False], a
a = np.load(f'{d}/out-U.npy'); assert a.dtype == '<U9' and a.tolist() == ['x.jpg', 'ünï/😀.png'], a
print('ok')
`,
    dir,
  );
  assert.equal(out.trim(), 'ok');
  assert.throws(() => writeNpy(join(dir, 'bf16.npy'), tensor([1], { dtype: 'bfloat16' })), /numpy has no bfloat16/);
});

test('NpyWriter appends chunks that numpy reads as one array; NpyReader reads row ranges', () => {
  const path = join(dir, 'features.npy');
  const writer = new NpyWriter(path, 'float32', [3]);
  for (let chunk = 0; chunk < 4; chunk++)
    writer.append(arange(chunk * 6, chunk * 6 + 6, 1, { dtype: 'float32' }).reshape(2, 3));
  assert.throws(() => writer.append(arange(4, undefined, 1, { dtype: 'float32' }).reshape(2, 2)), /cannot append/);
  writer.close();
  const out = python(
    'import sys, numpy as np; a = np.load(sys.argv[1]); assert a.shape == (8, 3) and (a.ravel() == np.arange(24)).all(), a; print("ok")',
    path,
  );
  assert.equal(out.trim(), 'ok');

  const reader = new NpyReader(path);
  assert.deepEqual([reader.rows, reader.rowShape], [8, [3]]);
  const rows = reader.read(3, 5);
  assert.deepEqual(
    [rows.shape, rows.toArray()],
    [
      [2, 3],
      [9, 10, 11, 12, 13, 14],
    ],
  );
  assert.deepEqual(reader.read(8, 8).shape, [0, 3]);
  assert.throws(() => reader.read(7, 9), /out of range/);
  reader.close();

  const strings = new NpyReader(join(dir, 'strings.npy'));
  assert.deepEqual(strings.readStrings(1, 2), ['ünïcödé/😀.png']);
  strings.close();
});

test('errors name the file and the problem', () => {
  python('import sys, numpy as np; np.save(sys.argv[1], np.arange(3, dtype=">f4"))', join(dir, 'big-endian.npy'));
  assert.throws(() => readNpy(join(dir, 'big-endian.npy')), /big-endian\.npy: big-endian dtype '>f4'/);
  python('import sys; open(sys.argv[1], "wb").write(b"nope" * 10)', join(dir, 'junk.npy'));
  assert.throws(() => readNpy(join(dir, 'junk.npy')), /not a \.npy file: .*junk\.npy/);
});

test('tensorFromFile reads at an offset straight into a tensor; a file that ends early or a failed read names the file', () => {
  const file = join(dir, 'raw.bin');
  const bytes = Buffer.from(Float32Array.from({ length: 40 }, (_, i) => i * 0.5 - 3).buffer);
  writeFileSync(file, Buffer.concat([Buffer.from('header!!'), bytes]));
  const fd = openSync(file, 'r');
  try {
    // 6 x 4 float32 from byte 8 + 16 * 4: rows 4..9 of the 10 x 4 the file holds.
    const t = tensorFromFile(fd, file, 8 + 16 * 4, 'float32', [6, 4]);
    assert.deepEqual(t.shape, [6, 4]);
    assert.deepEqual(
      Array.from(t.toArray() as number[]),
      Array.from({ length: 24 }, (_, i) => (16 + i) * 0.5 - 3),
    );
    t.dispose();
    assert.equal(tensorFromFile(fd, file, 8, 'int64', [0, 3]).numel, 0);
    assert.throws(
      () => tensorFromFile(fd, file, 8 + 36 * 4, 'float32', [2, 4]),
      (error: Error) => error.message === `${file}: unexpected end of file at byte ${8 + 40 * 4} (truncated file?)`,
    );
  } finally {
    closeSync(fd);
  }
  const folder = openSync(dir, 'r');
  try {
    assert.throws(
      () => tensorFromFile(folder, dir, 0, 'uint8', [4]),
      new RegExp(`^Error: ${dir}: read failed: Is a directory`),
    );
  } finally {
    closeSync(folder);
  }
});
