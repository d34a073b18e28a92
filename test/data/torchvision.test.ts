// VISSL's torchvision_dataset: small files in torchvision's on-disk layouts (written by Python), read
// here and by torchvision.datasets itself as the oracle: the same images (pixel bytes), labels and
// order for every sample of both splits; then the loader and DATA_LIMIT on them, and the errors.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { loadConfig } from '../../src/config/index.js';
import { DataLoader } from '../../src/data/loader.js';
import { TorchvisionRecords, torchvisionDataset, torchvisionSplitOf, type Dataset } from '../../src/data/index.js';
import { THUMB_SIZE, Thumbnails } from '../../src/explore/thumbnails.js';
import type { Clustering } from '../../src/explore/clustering.js';
import sharp from 'sharp';
import { datasetFromConfig } from '../../src/tasks/data.js';
import { PYTHON } from '../support/oracle.js';
import { reference, tempDir } from './reference.js';

const dir = tempDir();
const COUNTS = { train: 5, test: 4 };
const hasScipy = spawnSync(PYTHON, ['-c', 'import scipy.io']).status === 0;

/** The fake datasets: name and options of the Python that writes them (see reference.py). */
const FAKES: { name: string; options?: Record<string, unknown>; oracle: boolean }[] = [
  { name: 'CIFAR10', oracle: true },
  { name: 'CIFAR100', options: { python2: false }, oracle: true },
  { name: 'MNIST', oracle: true },
  { name: 'MNIST', options: { gzip: true }, oracle: false },
  { name: 'STL10', oracle: true },
  ...(hasScipy
    ? [
        { name: 'SVHN', options: { compress: true }, oracle: true },
        { name: 'SVHN', options: { compress: false, ydtype: 'float64' }, oracle: true },
      ]
    : []),
  { name: 'MNIST', options: { seed: 3 }, oracle: false },
  { name: 'CIFAR10', options: { seed: 5 }, oracle: false },
];

function rootOf(name: string, options: Record<string, unknown> = {}): string {
  return join(dir, `${name}-${Object.values(options).join('-') || 'plain'}`);
}

type Answer = { pixels: Buffer; labels: number[]; modes: string[] };
/** torchvision's images (as RGB, HWC) and labels, by root and split. */
const oracle = new Map<string, Answer>();

before(() => {
  reference(
    'torchvision_files',
    FAKES.map(({ name, options }) => ({ name, root: rootOf(name, options), ...COUNTS, ...options })),
  );
  const loads = FAKES.filter((f) => f.oracle).flatMap(({ name, options }) =>
    [true, false].map((train) => ({
      name,
      root: rootOf(name, options),
      train,
      out: `${rootOf(name, options)}-${train}.bin`,
    })),
  );
  const answers = reference<{ labels: number[]; modes: string[] }[]>('torchvision_load', loads);
  loads.forEach(({ root, train, out }, i) =>
    oracle.set(`${root} ${train}`, { pixels: readFileSync(out), ...answers[i]! }),
  );
});

function assertSameAsTorchvision(name: string, root: string, expectedMode: string): void {
  for (const train of [true, false]) {
    const ours = torchvisionDataset(name, root, train);
    const theirs = oracle.get(`${root} ${train}`)!;
    assert.deepEqual(theirs.modes, [expectedMode]);
    assert.deepEqual(
      ours.samples.map((s) => s.label),
      theirs.labels,
      `${name} ${train ? 'train' : 'test'} labels`,
    );
    assert.deepEqual(
      ours.samples.map((s) => s.index),
      theirs.labels.map((_, i) => i),
    );
    assert.ok(ours.store, 'the images are held in a store');
    assert.equal(ours.store.pixels.length, theirs.pixels.length);
    assert.ok(Buffer.from(ours.store.pixels).equals(theirs.pixels), `${name} ${train ? 'train' : 'test'} pixels`);
    assert.ok(ours.store.pixels.buffer instanceof SharedArrayBuffer);
  }
}

describe('torchvision_dataset reads what torchvision.datasets reads', () => {
  test('CIFAR10: Python 2 pickles of numpy arrays (as the real files), five train batches', () => {
    const root = rootOf('CIFAR10');
    assertSameAsTorchvision('CIFAR10', root, 'RGB');
    const train = torchvisionDataset('CIFAR10', root, true);
    assert.equal(train.samples.length, 5 * COUNTS.train);
    assert.match(train.samples[COUNTS.train]!.path, /cifar-10-batches-py\/data_batch_2\[0\]$/);
  });

  test('CIFAR100: fine labels, from pickles Python 3 wrote with protocol 2', () => {
    assertSameAsTorchvision('CIFAR100', rootOf('CIFAR100', { python2: false }), 'RGB');
  });

  test('MNIST: idx files of grey levels, copied to RGB as PIL converts them; .gz files too', () => {
    const root = rootOf('MNIST');
    assertSameAsTorchvision('MNIST', root, 'L');
    // Only gzipped files (as downloaded, which torchvision unpacks first): the same dataset.
    const gz = rootOf('MNIST', { gzip: true });
    for (const train of [true, false]) {
      const [a, b] = [torchvisionDataset('MNIST', root, train), torchvisionDataset('MNIST', gz, train)];
      assert.deepEqual(
        a.samples.map((s) => s.label),
        b.samples.map((s) => s.label),
      );
      assert.ok(Buffer.from(a.store!.pixels).equals(Buffer.from(b.store!.pixels)));
    }
  });

  test('STL10: column-major 96x96 planes, labels 1..10 made 0-based as torchvision does (0 wraps to 255)', () => {
    assertSameAsTorchvision('STL10', rootOf('STL10'), 'RGB');
  });

  test('SVHN: MAT-files, compressed and not, uint8 and double labels, 10 meaning the digit 0', (t) => {
    if (!hasScipy) return t.skip(`scipy (which torchvision's SVHN needs) is missing from ${PYTHON}`);
    assertSameAsTorchvision('SVHN', rootOf('SVHN', { compress: true }), 'RGB');
    assertSameAsTorchvision('SVHN', rootOf('SVHN', { compress: false, ydtype: 'float64' }), 'RGB');
  });
});

describe('torchvision_dataset records by name (the explorer has only the names)', () => {
  test("'<file>[<i>]' gives that image's pixels, as torchvision reads them, for every dataset and split", () => {
    const records = new TorchvisionRecords();
    for (const { name, options } of FAKES.filter((f) => f.oracle)) {
      for (const train of [true, false]) {
        const root = rootOf(name, options);
        const theirs = oracle.get(`${root} ${train}`)!;
        const samples = torchvisionDataset(name, root, train).samples;
        // Last to first, so that a record found by its position alone would not pass.
        for (const sample of [...samples].reverse()) {
          assert.ok(TorchvisionRecords.isRecord(sample.path), sample.path);
          const { data, width, height } = records.pixels(sample.path);
          const bytes = width * height * 3;
          assert.ok(
            Buffer.from(data).equals(theirs.pixels.subarray(sample.index * bytes, (sample.index + 1) * bytes)),
            `${sample.path} (${name} ${train ? 'train' : 'test'})`,
          );
        }
      }
    }
    const gz = torchvisionDataset('MNIST', rootOf('MNIST', { gzip: true }), false).samples[2]!.path;
    assert.match(gz, /t10k-images-idx3-ubyte\.gz\[2\]$/);
    assert.equal(records.pixels(gz).width, 28);
    for (const other of ['/data/cat.jpg', '/data/cat.jpg[3]', join(dir, 'cifar-10-batches-py', 'batches.meta')])
      assert.equal(TorchvisionRecords.isRecord(other), false, other);
    assert.equal(torchvisionSplitOf(join(dir, 'x', 'MNIST', 'raw', 'train-images-idx3-ubyte'))?.root, join(dir, 'x'));
    const cifar = samplesOf('CIFAR10', true);
    assert.throws(
      () => records.pixels(cifar[0]!.path.replace(/\[0\]$/, '[999]')),
      /data_batch_1\[999\]: the file holds no image 999/,
    );
  });

  test("the explorer's thumbnail of a record is that image, resized", async () => {
    const samples = samplesOf('STL10', false);
    const runRoot = join(dir, 'explore-run');
    const clustering = { info: { id: 'stl10' }, imagePath: (i: number) => samples[i]!.path } as unknown as Clustering;
    const jpeg = await new Thumbnails(runRoot).get(clustering, 3);
    const store = torchvisionDataset('STL10', rootOf('STL10'), false).store!;
    const bytes = store.width * store.height * 3;
    const expected = await sharp(Buffer.from(store.pixels.subarray(3 * bytes, 4 * bytes)), {
      raw: { width: store.width, height: store.height, channels: 3 },
    })
      .resize(THUMB_SIZE, THUMB_SIZE, { fit: 'cover' })
      .jpeg({ quality: 80 })
      .toBuffer();
    assert.ok(jpeg.equals(expected));
    const other = await new Thumbnails(runRoot).get(clustering, 2);
    assert.ok(!other.equals(jpeg), 'another record, another thumbnail');
  });
});

function samplesOf(name: string, train: boolean) {
  return torchvisionDataset(name, rootOf(name), train).samples;
}

describe('torchvision_dataset through the loader and the config', () => {
  test("the loader transforms stored images as torchvision's (MNISTImgPil2RGB, Resize), on workers or not", async () => {
    const root = rootOf('MNIST', { seed: 3 });
    const dataset = torchvisionDataset('MNIST', root, true);
    const indices = dataset.samples.map((s) => s.index);
    // PIL sizes are [width, height]; the second canvas cuts the digit off on the left and bottom.
    const cases = [
      { size: [34, 32], box: [2, 3], output: [48, 51] },
      { size: [20, 26], box: [-3, 5], output: [62, 48] },
      { size: [], box: [0, 0], output: [48, 48] },
    ];
    for (const [c, { size, box, output }] of cases.entries()) {
      const out = join(dir, `pipeline-${c}.bin`);
      reference('torchvision_pipeline', { name: 'MNIST', root, train: true, indices, size, box, resize: 48, out });
      const expected = readFileSync(out); // N x H x W x 3
      for (const numWorkers of [0, 1]) {
        const loader = new DataLoader({
          dataset,
          transforms: [
            { name: 'MNISTImgPil2RGB', size, box },
            { name: 'Resize', size: 48 },
          ],
          batchSize: 2,
          numWorkers,
          shuffle: false,
        });
        assert.deepEqual(loader.outputSize, output);
        const got: number[] = [];
        for await (const batch of loader.epoch(0)) {
          // N x 3 x H x W -> N x H x W x 3, as PIL lays the pixels out.
          got.push(...(batch.images.permute(0, 2, 3, 1).contiguous().data() as Uint8Array));
          batch.dispose();
        }
        await loader.close();
        assert.ok(
          Buffer.from(got).equals(expected),
          `pixels of ${JSON.stringify({ size, box })}, ${numWorkers} workers`,
        );
      }
    }
  });

  test('DATA_SOURCES torchvision_dataset with DATA_LIMIT, and cluster labels from a file over it', () => {
    const root = rootOf('CIFAR10', { seed: 5 });
    const config = (overrides: string[]) =>
      loadConfig({
        config: 'demo/rotnet',
        overrides: [
          'config.DATA.TRAIN.DATA_SOURCES=[torchvision_dataset]',
          'config.DATA.TRAIN.LABEL_SOURCES=[torchvision_dataset]',
          'config.DATA.TRAIN.DATASET_NAMES=[CIFAR10]',
          `config.DATA.TRAIN.DATA_PATHS=[${root}]`,
          ...overrides,
        ],
      });
    const full = torchvisionDataset('CIFAR10', root, true);
    const limited: Dataset = datasetFromConfig(config(['config.DATA.TRAIN.DATA_LIMIT=7']).DATA.TRAIN, 'TRAIN');
    assert.equal(limited.samples.length, 7);
    assert.equal(limited.store?.pixels.length, full.store?.pixels.length);
    for (const s of limited.samples) assert.equal(s.label, full.samples[s.record!]!.label);
    // VISSL's split TEST reads torchvision's test split.
    const test = datasetFromConfig(config([]).DATA.TRAIN, 'TEST');
    assert.equal(test.samples.length, COUNTS.test);

    const labels = join(dir, 'clusters.npy');
    reference('npy', [[labels, full.samples.map((_, i) => 100 + i), 'int64']]);
    const relabelled = datasetFromConfig(
      config(['config.DATA.TRAIN.LABEL_SOURCES=[disk_filelist]', `config.DATA.TRAIN.LABEL_PATHS=[${labels}]`]).DATA
        .TRAIN,
      'TRAIN',
    );
    assert.deepEqual(
      relabelled.samples.map((s) => s.label),
      full.samples.map((_, i) => 100 + i),
    );
    assert.ok(relabelled.store, 'labels from a file keep the stored images');
    // Class-folder labels need class folders: VISSL asserts it; silently numbering samples would not do.
    assert.throws(
      () => datasetFromConfig(config(['config.DATA.TRAIN.LABEL_SOURCES=[disk_folder]']).DATA.TRAIN, 'TRAIN'),
      /DATA\.TRAIN\.LABEL_SOURCES: disk_folder labels come with disk_folder data, but DATA\.TRAIN\.DATA_SOURCES is torchvision_dataset \(give the labels as a file/,
    );
  });
});

describe('torchvision_dataset errors are one line naming the file and the fix', () => {
  test('a missing file names the path torchvision reads and how to download it', () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty, { recursive: true });
    const cases: [string, RegExp][] = [
      ['CIFAR10', /cifar-10-batches-py\/data_batch_1: the CIFAR10 file does not exist/],
      ['CIFAR100', /cifar-100-python\/train: the CIFAR100 file does not exist/],
      ['MNIST', /MNIST\/raw\/train-images-idx3-ubyte: the MNIST file does not exist/],
      ['STL10', /stl10_binary\/train_X\.bin: the STL10 file does not exist/],
      ['SVHN', /train_32x32\.mat: the SVHN file does not exist/],
    ];
    for (const [name, path] of cases) {
      assert.throws(
        () => torchvisionDataset(name, empty, true),
        (error: Error) => {
          assert.match(error.message, path);
          assert.match(error.message, new RegExp(`torchvision\\.datasets\\.${name}\\('${empty}', download=True\\)`));
          assert.ok(!error.message.includes('\n'), error.message);
          return true;
        },
      );
    }
    assert.throws(
      () => torchvisionDataset('CIFAR10', join(dir, 'nowhere'), true),
      /root folder .*nowhere' does not exist/,
    );
  });

  test('an unsupported dataset name: at config load and from the reader', () => {
    assert.throws(
      () => torchvisionDataset('ImageNet', dir, true),
      /unsupported dataset 'ImageNet'; supported: CIFAR10, /,
    );
    assert.throws(
      () =>
        loadConfig({
          config: 'demo/rotnet',
          overrides: [
            'config.DATA.TEST.DATA_SOURCES=[torchvision_dataset]',
            'config.DATA.TEST.DATASET_NAMES=[FashionMNIST]',
          ],
        }),
      /DATA\.TEST\.DATASET_NAMES\[0\] is "FashionMNIST" .* torchvision_dataset reads CIFAR10, CIFAR100, STL10, MNIST, SVHN/,
    );
  });

  test('a pickle naming os.system (or any other global) is refused, nothing runs', () => {
    const root = join(dir, 'malicious');
    const folder = join(root, 'cifar-10-batches-py');
    mkdirSync(folder, { recursive: true });
    const marker = join(dir, 'pwned');
    // GLOBAL os.system, ('touch <marker>',), REDUCE: what pickle.loads would run.
    const command = `touch ${marker}`;
    const evil = Buffer.concat([
      Buffer.from('\x80\x02cos\nsystem\nX', 'latin1'),
      Buffer.from(Uint32Array.of(command.length).buffer),
      Buffer.from(`${command}\x85R.`, 'latin1'),
    ]);
    for (const file of ['data_batch_1', 'data_batch_2', 'data_batch_3', 'data_batch_4', 'data_batch_5'])
      writeFileSync(join(folder, file), evil);
    assert.throws(() => torchvisionDataset('CIFAR10', root, true), /refusing to load global os\.system: a CIFAR batch/);
    assert.ok(!existsSync(marker), 'the command did not run');
    // An object array (its items are pickles of anything) is refused too.
    const objectArray = Buffer.from(
      '\x80\x02}U\x04datacnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R(K\x01K\x01\x85cnumpy\ndtype\nU\x02O8K\x00K\x01\x87R\x89]tbs.',
      'latin1',
    );
    writeFileSync(join(folder, 'data_batch_1'), objectArray);
    assert.throws(() => torchvisionDataset('CIFAR10', root, true), /numpy dtype "O8" is not a plain number type/);
  });

  test('damaged files: a wrong idx type, a truncated STL10 file, a MATLAB 7.3 file', () => {
    const mnist = join(dir, 'bad-mnist');
    mkdirSync(join(mnist, 'MNIST', 'raw'), { recursive: true });
    const header = Buffer.from([0, 0, 0x0d, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
    writeFileSync(join(mnist, 'MNIST', 'raw', 'train-images-idx3-ubyte.gz'), gzipSync(header));
    writeFileSync(join(mnist, 'MNIST', 'raw', 'train-labels-idx1-ubyte'), Buffer.from([0, 0, 8, 1, 0, 0, 0, 1, 7]));
    assert.throws(() => torchvisionDataset('MNIST', mnist, true), /idx file of type 0xd with 3 dimensions/);

    const stl = join(dir, 'bad-stl');
    mkdirSync(join(stl, 'stl10_binary'), { recursive: true });
    writeFileSync(join(stl, 'stl10_binary', 'test_X.bin'), Buffer.alloc(1000));
    writeFileSync(join(stl, 'stl10_binary', 'test_y.bin'), Buffer.alloc(1));
    assert.throws(() => torchvisionDataset('STL10', stl, false), /not a whole number of 3x96x96 images/);

    const svhn = join(dir, 'bad-svhn');
    mkdirSync(svhn, { recursive: true });
    const v73 = Buffer.alloc(512);
    v73.write(
      'MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .',
      'latin1',
    );
    writeFileSync(join(svhn, 'test_32x32.mat'), v73);
    assert.throws(
      () => torchvisionDataset('SVHN', svhn, false),
      /MATLAB 7\.3 \(HDF5\) MAT-file, which is not read here/,
    );
  });
});
