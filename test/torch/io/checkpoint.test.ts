import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { arange, fromBytes, tensor, Tensor } from '../../../src/torch/index.js';
import {
  disposeTensors,
  isCompleteCheckpoint,
  loadCheckpoint,
  RefusedGlobalError,
  removeStaleTemporaries,
  saveCheckpoint,
  symlinkAtomic,
} from '../../../src/torch/io/index.js';
import { python, tempFolder } from './python.js';
import { sharedData } from '../../support/shared-data.js';

const dir = tempFolder();

// The same structure, saved by PyTorch in both container formats. Each tensor is described
// (shape, stride, offset, dtype, values) so the loaded one can be compared exactly.
const SAVE = `
import sys, json, collections, torch
a = torch.arange(12, dtype=torch.float32).reshape(3, 4)
sd = collections.OrderedDict()
sd['w'] = a
sd['v'] = a[1:, 1:3]
sd['t'] = a.t()
sd['h'] = torch.tensor([1.5, -2.25, 65504.0], dtype=torch.float16)
sd['b'] = torch.tensor([1.5, -2.0, 3e38], dtype=torch.bfloat16)
sd['i'] = torch.tensor([2**40, -3, 7])
sd['bo'] = torch.tensor([True, False, True])
sd['u8'] = torch.arange(250, 256, dtype=torch.uint8)
sd['s'] = torch.tensor(3.5, dtype=torch.float64)
obj = {'sd': sd, 'opt': {'state': {0: {'momentum_buffer': a[0]}, 1: {'step': 4}}, 'param_groups': [{'lr': 0.1, 'params': [0, 1]}]},
       'tup': (1, 'x', None, True), 'big': 2**70, 'neg': -2**40, 'f': 2.5, 'tied': [sd['w'], sd['w']]}
torch.save(obj, sys.argv[1])
torch.save(obj, sys.argv[2], _use_new_zipfile_serialization=False)
dtypes = {torch.float32: 'float32', torch.float64: 'float64', torch.float16: 'float16', torch.bfloat16: 'bfloat16',
          torch.int64: 'int64', torch.bool: 'bool', torch.uint8: 'uint8'}
print(json.dumps({k: dict(shape=list(t.shape), stride=list(t.stride()), offset=t.storage_offset(), dtype=dtypes[t.dtype],
                          values=t.double().flatten().tolist()) for k, t in sd.items()}))
`;
const expected = JSON.parse(python(SAVE, join(dir, 'zip.pt'), join(dir, 'legacy.pt'))) as Record<
  string,
  { shape: number[]; stride: number[]; offset: number; dtype: string; values: number[] }
>;

for (const format of ['zip', 'legacy']) {
  test(`loads a ${format}-format checkpoint written by PyTorch with identical tensors and structure`, () => {
    const loaded = loadCheckpoint(join(dir, `${format}.pt`)) as Map<string, unknown>;
    assert.deepEqual([...loaded.keys()], ['sd', 'opt', 'tup', 'big', 'neg', 'f', 'tied']);
    const sd = loaded.get('sd') as Map<string, Tensor>;
    assert.deepEqual([...sd.keys()], Object.keys(expected));
    for (const [name, t] of sd) {
      const e = expected[name]!;
      assert.deepEqual([t.shape, t.strides, t.storageOffset, t.dtype], [e.shape, e.stride, e.offset, e.dtype], name);
      assert.deepEqual(t.toArray(), e.values, name);
    }
    assert.deepEqual(loaded.get('tup'), [1, 'x', null, true]);
    assert.ok(Object.isFrozen(loaded.get('tup')), 'tuples are frozen arrays');
    assert.equal(loaded.get('big'), 2n ** 70n);
    assert.equal(loaded.get('neg'), -(2 ** 40));
    assert.equal(loaded.get('f'), 2.5);
    const opt = loaded.get('opt') as Map<string, Map<unknown, Map<string, unknown>>>;
    assert.deepEqual([...opt.get('state')!.keys()], [0, 1], 'int keys stay ints');
    assert.equal(opt.get('state')!.get(1)!.get('step'), 4);
    assert.deepEqual(opt.get('param_groups'), [
      new Map<string, unknown>([
        ['lr', 0.1],
        ['params', [0, 1]],
      ]),
    ]);

    // One storage: writing through `w` shows in its views, in the optimizer state and the tied list.
    const w = sd.get('w')!;
    w.mul_(2);
    assert.deepEqual(sd.get('v')!.toArray(), [10, 12, 18, 20]);
    assert.deepEqual(sd.get('t')!.toArray().slice(0, 3), [0, 8, 16]);
    const momentum = opt.get('state')!.get(0)!.get('momentum_buffer') as Tensor;
    assert.deepEqual(momentum.toArray(), [0, 2, 4, 6]);
    const tied = loaded.get('tied') as Tensor[];
    assert.equal(tied[0], tied[1], 'the same pickled tensor is one object');
  });
}

test('a checkpoint written here opens with torch.load(weights_only=True), storages still shared', () => {
  const base = arange(12, undefined, 1, { dtype: 'float32' }).reshape(3, 4);
  const state = new Map<string, Tensor>([
    ['weight', base],
    ['rows', base.narrow(0, 1, 2)],
    ['transposed', base.t()],
    ['half', tensor([1.5, -2.25], { dtype: 'float16' })],
    ['bf16', tensor([1.5, -2], { dtype: 'bfloat16' })],
    ['long', tensor(new BigInt64Array([2n ** 40n, -3n]))],
    ['mask', tensor([true, false])],
  ]);
  const path = join(dir, 'ours.pt');
  saveCheckpoint(path, { model: state, epoch: 7, names: Object.freeze(['a', 'b']), nested: [new Map([[3, 'three']])] });
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.startsWith('.')),
    [],
    'no temporary file is left behind',
  );
  const out = python(
    `
import sys, torch, collections
ck = torch.load(sys.argv[1], weights_only=True)
sd = ck['model']
assert type(sd) is collections.OrderedDict, type(sd)
assert list(sd) == ['weight', 'rows', 'transposed', 'half', 'bf16', 'long', 'mask']
base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
assert torch.equal(sd['weight'], base)
assert torch.equal(sd['rows'], base[1:3]) and sd['rows'].storage_offset() == 4
assert torch.equal(sd['transposed'], base.t()) and sd['transposed'].stride() == (1, 4)
assert torch.equal(sd['half'], torch.tensor([1.5, -2.25], dtype=torch.float16))
assert torch.equal(sd['bf16'], torch.tensor([1.5, -2], dtype=torch.bfloat16))
assert torch.equal(sd['long'], torch.tensor([2**40, -3]))
assert torch.equal(sd['mask'], torch.tensor([True, False]))
ptr = sd['weight'].storage().data_ptr()
assert sd['rows'].storage().data_ptr() == ptr and sd['transposed'].storage().data_ptr() == ptr
assert ck['epoch'] == 7 and ck['names'] == ('a', 'b') and ck['nested'] == [{3: 'three'}]
print('ok')
`,
    path,
  );
  assert.equal(out.trim(), 'ok');
});

test('a checkpoint written here loads back here with the same values, floats and shared storage', () => {
  const base = fromBytes(new Uint8Array(new Float64Array([1, 2, 3, 4]).buffer), [4], 'float64');
  const path = join(dir, 'roundtrip.pt');
  saveCheckpoint(
    path,
    new Map<unknown, unknown>([
      [0, { lr: 0.25, big: 2n ** 80n, a: base, b: base.narrow(0, 2, 2), bytes: new Uint8Array([0, 255]) }],
    ]),
  );
  assert.equal(python('import sys, torch; print(torch.load(sys.argv[1])[0]["lr"])', path).trim(), '0.25');
  const loaded = (loadCheckpoint(path) as Map<number, Map<string, unknown>>).get(0)!;
  assert.equal(loaded.get('lr'), 0.25);
  assert.equal(loaded.get('big'), 2n ** 80n);
  assert.deepEqual(loaded.get('bytes'), new Uint8Array([0, 255]));
  const [a, b] = [loaded.get('a') as Tensor, loaded.get('b') as Tensor];
  a.fill_(9);
  assert.deepEqual(b.toArray(), [9, 9]);
});

test('a pickle that names any other global is refused and runs nothing', () => {
  const marker = join(dir, 'pwned');
  const path = join(dir, 'evil.pt');
  python(
    `
import sys, os, torch
class Evil:
    def __reduce__(self):
        return (os.system, ('touch ' + sys.argv[2],))
torch.save({'weights': torch.zeros(2), 'payload': Evil()}, sys.argv[1])
`,
    path,
    marker,
  );
  assert.throws(
    () => loadCheckpoint(path),
    (error: Error) => {
      assert.ok(error instanceof RefusedGlobalError);
      assert.match(error.message, /refusing to load global (posix|os)\.system/);
      assert.ok(error.message.includes(path), 'the message names the file');
      return true;
    },
  );
  assert.equal(existsSync(marker), false);
});

test('a file that is not a checkpoint gets a clear error', () => {
  const path = join(dir, 'junk.pt');
  python('import sys; open(sys.argv[1], "wb").write(b"hello, this is not a checkpoint" * 10)', path);
  assert.throws(() => loadCheckpoint(path), /not a PyTorch checkpoint: .*junk\.pt/);
});

const RESNET20 = sharedData('pretrained', 'akamaster_cifar10_resnet', 'resnet20-12fca82f.th');
test(
  'loads the real legacy resnet20 checkpoint exactly as PyTorch does',
  { skip: existsSync(RESNET20) ? false : `${RESNET20} is not present` },
  () => {
    const loaded = loadCheckpoint(RESNET20) as Map<string, unknown>;
    const sd = loaded.get('state_dict') as Map<string, Tensor>;
    const reference = JSON.parse(
      python(
        `
import sys, json, torch
ck = torch.load(sys.argv[1], map_location='cpu')
print(json.dumps({'best_prec1': float(ck['best_prec1']), 'tensors': {k: [list(t.shape), t.double().flatten().tolist()] for k, t in ck['state_dict'].items()}}))
`,
        RESNET20,
      ),
    ) as { best_prec1: number; tensors: Record<string, [number[], number[]]> };
    assert.equal(Number(loaded.get('best_prec1')), reference.best_prec1);
    assert.deepEqual([...sd.keys()], Object.keys(reference.tensors));
    for (const [name, t] of sd) {
      assert.ok(name.startsWith('module.'));
      assert.deepEqual([t.shape, t.toArray()], reference.tensors[name], name);
    }
  },
);

test('isCompleteCheckpoint tells whole checkpoints (zip and legacy) from ones cut short', () => {
  const cut = (from: string, to: string, keep: number) =>
    python(`import sys; b = open(sys.argv[1], 'rb').read(); open(sys.argv[2], 'wb').write(b[:${keep}])`, from, to);
  for (const format of ['zip', 'legacy']) {
    const whole = join(dir, `${format}.pt`);
    assert.equal(isCompleteCheckpoint(whole), true, format);
    for (const keep of [100, -30]) {
      const partial = join(dir, `${format}-cut${keep}.pt`);
      cut(whole, partial, keep);
      assert.equal(isCompleteCheckpoint(partial), false, `${format} cut at ${keep}`);
    }
  }
  assert.equal(isCompleteCheckpoint(join(dir, 'junk.pt')), false);
  assert.equal(isCompleteCheckpoint(join(dir, 'absent.pt')), false);
});

test('disposeTensors frees a loaded tree except the tensors kept', () => {
  const loaded = loadCheckpoint(join(dir, 'zip.pt')) as Map<string, unknown>;
  const sd = loaded.get('sd') as Map<string, Tensor>;
  const kept = sd.get('w')!;
  disposeTensors(loaded, new Set([kept]));
  assert.equal(kept.isDisposed, false);
  assert.equal(sd.get('h')!.isDisposed, true);
  assert.equal((loaded.get('tied') as Tensor[])[0], kept, 'the same object, kept');
  kept.dispose();
});

test('removeStaleTemporaries removes temporary files of dead writers only; symlinkAtomic replaces a link', () => {
  const folder = tempFolder();
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  const stale = `.model.pt.${dead}.0123abcd.tmp`;
  const live = `.model.pt.${process.pid}.89abcdef.tmp`;
  for (const name of [stale, live, 'model.pt', '.hidden']) writeFileSync(join(folder, name), 'x');
  assert.deepEqual(removeStaleTemporaries(folder), [stale]);
  assert.deepEqual(readdirSync(folder).sort(), ['.hidden', live, 'model.pt'].sort());
  symlinkAtomic('model.pt', join(folder, 'latest'));
  symlinkAtomic('other.pt', join(folder, 'latest'));
  assert.equal(readlinkSync(join(folder, 'latest')), 'other.pt');
  assert.ok(!readdirSync(folder).some((name) => name.startsWith('.latest')));
});
