import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { arange, tensor } from '../../../src/torch/index.js';
import { readSafetensors, writeSafetensors } from '../../../src/torch/io/index.js';
import { python, tempFolder } from './python.js';

const dir = tempFolder();

// The safetensors Python package is not installed: the format is simple enough to write and
// parse directly with torch and json, which also checks our reading of the specification.
test('reads a safetensors file written from PyTorch tensors', () => {
  const path = join(dir, 'theirs.safetensors');
  python(
    `
import sys, json, struct, torch
tensors = {'b.weight': torch.arange(6, dtype=torch.float32).reshape(2, 3), 'a.half': torch.tensor([1.5, -2], dtype=torch.float16),
           'c.bf16': torch.tensor([3, -4], dtype=torch.bfloat16), 'd.long': torch.tensor([2**40, -1]), 'e.bool': torch.tensor([True, False])}
names = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.int64: 'I64', torch.bool: 'BOOL'}
header, data = {'__metadata__': {'format': 'pt'}}, b''
for k, t in tensors.items():
    raw = t.contiguous().view(torch.uint8).numpy().tobytes() if t.dim() else b''
    header[k] = {'dtype': names[t.dtype], 'shape': list(t.shape), 'data_offsets': [len(data), len(data) + len(raw)]}
    data += raw
h = json.dumps(header).encode()
open(sys.argv[1], 'wb').write(struct.pack('<Q', len(h)) + h + data)
`,
    path,
  );
  const { tensors, metadata } = readSafetensors(path);
  assert.deepEqual(metadata, { format: 'pt' });
  assert.deepEqual([...tensors.keys()], ['b.weight', 'a.half', 'c.bf16', 'd.long', 'e.bool']);
  const summary = [...tensors.values()].map((t) => [t.dtype, t.shape, t.toArray()]);
  assert.deepEqual(summary, [
    ['float32', [2, 3], [0, 1, 2, 3, 4, 5]],
    ['float16', [2], [1.5, -2]],
    ['bfloat16', [2], [3, -4]],
    ['int64', [1], [2 ** 40, -1]].map((v, i) => (i === 1 ? [2] : v)),
    ['bool', [2], [1, 0]],
  ]);
});

test('writes a safetensors file that parses back to the same tensors in PyTorch', () => {
  const path = join(dir, 'ours.safetensors');
  writeSafetensors(
    path,
    {
      'layer.weight': arange(6, undefined, 1, { dtype: 'float32' }).reshape(2, 3).t(),
      'layer.bias': tensor([0.5, -1], { dtype: 'float16' }),
    },
    { epoch: '3' },
  );
  const out = python(
    `
import sys, json, struct, torch
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
assert n % 8 == 0
header = json.loads(raw[8:8 + n])
assert header.pop('__metadata__') == {'epoch': '3'}
dtypes = {'F32': torch.float32, 'F16': torch.float16}
t = {k: torch.frombuffer(bytearray(raw[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]]), dtype=dtypes[v['dtype']]).reshape(v['shape']) for k, v in header.items()}
assert torch.equal(t['layer.weight'], torch.arange(6, dtype=torch.float32).reshape(2, 3).t())
assert torch.equal(t['layer.bias'], torch.tensor([0.5, -1], dtype=torch.float16))
print('ok')
`,
    path,
  );
  assert.equal(out.trim(), 'ok');
  const back = readSafetensors(path);
  assert.deepEqual(back.tensors.get('layer.weight')!.toArray(), [0, 3, 1, 4, 2, 5]);
});
