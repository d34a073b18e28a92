// Training checkpoints in VISSL's layout: PyTorch opens ours with weights_only=True, ours and
// VISSL's load back here, the torchvision conversion, and which file a resume picks (never one
// cut short by a crash).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { memoryStats, tensor, Tensor, noGrad } from '../../src/torch/index.js';
import { SGD } from '../../src/torch/optim/index.js';
import type * as nn from '../../src/torch/nn/index.js';
import {
  convertToTorchvision,
  findResumeCheckpoint,
  loadTrainingCheckpoint,
  saveTrainingCheckpoint,
  type TrainingState,
} from '../../src/engine/checkpoint.js';
import { initModelFromWeights } from '../../src/models/weights-init.js';
import { python, tempFolder } from '../torch/io/python.js';
import { TORCH_TOY_MODEL, ToySSLModel } from '../models/toy-ssl-model.js';

/** A model and an SGD with momentum buffers after one step, all with distinct values. */
function trainedState(): { model: ToySSLModel; optimizer: SGD } {
  const model = new ToySSLModel();
  noGrad(() => {
    model.parameters().forEach((p, i) => {
      const values = tensor(Array.from({ length: p.numel }, (_, j) => i + j / 8));
      p.copy_(values.reshape(...p.shape));
      values.dispose();
    });
  });
  const params = model.parameters();
  const optimizer = new SGD(
    [
      { params: params.slice(0, 3), weightDecay: 1e-4 },
      { params: params.slice(3), weightDecay: 0 },
    ],
    { lr: 0.1, momentum: 0.9, nesterov: true },
  );
  for (const p of params) {
    const grad = p.detach().mul(0.5).add(1);
    p.grad = grad;
    grad.dispose();
  }
  optimizer.step();
  return { model, optimizer };
}

function valuesOf(state: Record<string, Tensor>): Record<string, number[]> {
  return Object.fromEntries(Object.entries(state).map(([name, t]) => [name, t.toArray()]));
}

function modelValues(model: nn.Module): Record<string, number[]> {
  const state = model.stateDict();
  const values = valuesOf(state);
  for (const t of Object.values(state)) t.dispose();
  return values;
}

function momentumValues(optimizer: SGD): Record<string, number[]> {
  const dict = optimizer.stateDict();
  const out = Object.fromEntries(
    Object.entries(dict.state).map(([index, entry]) => [index, entry.momentum_buffer!.toArray()]),
  );
  for (const entry of Object.values(dict.state)) entry.momentum_buffer?.dispose();
  return out;
}

const LOSSES = [2.5, 1.25, 1 / 3];

function save(dir: string, epoch: number, options: { final?: boolean } = {}, more: Partial<TrainingState> = {}) {
  const { model, optimizer } = trainedState();
  try {
    return saveTrainingCheckpoint(dir, { model, optimizer, epoch, iteration: 10 * (epoch + 1), ...more }, options);
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

describe('VISSL-layout training checkpoints', () => {
  const dir = tempFolder();
  const { model, optimizer } = trainedState();
  const rng = tensor(new Uint8Array([1, 2, 250]));
  const extra = { sampler: { seed: 7, position: 12 }, config: 'OPTIMIZER:\n  num_epochs: 3\n', lrScale: 0.1, rng };
  const path = saveTrainingCheckpoint(dir, {
    model,
    optimizer,
    epoch: 2,
    iteration: 30,
    numUpdates: 960,
    losses: LOSSES,
    extra,
  });
  const expectedModel = modelValues(model);
  const expectedMomentum = momentumValues(optimizer);

  it('is written as model_phase{N}.torch, with checkpoint.torch pointing at it and no temporary left', () => {
    assert.equal(path, join(dir, 'model_phase2.torch'));
    assert.equal(readlinkSync(join(dir, 'checkpoint.torch')), 'model_phase2.torch');
    assert.deepEqual(readdirSync(dir).sort(), ['checkpoint.torch', 'model_phase2.torch']);
  });

  it("opens with PyTorch's torch.load(weights_only=True) in VISSL's layout, tensors equal ours", () => {
    const expectedPath = join(dir, 'expected.json');
    writeFileSync(expectedPath, JSON.stringify({ model: expectedModel, momentum: expectedMomentum, losses: LOSSES }));
    const out = python(
      `${TORCH_TOY_MODEL}
import sys, json, collections
ck = torch.load(sys.argv[1], weights_only=True)
want = json.load(open(sys.argv[2]))
assert ck['type'] == 'consolidated' and ck['phase_idx'] == 2 and ck['train_phase_idx'] == 2, ck.keys()
assert ck['iteration'] == 30 and ck['iteration_num'] == 30 and ck['loss'] == {}
cs = ck['classy_state_dict']
assert sorted(cs) == sorted(['train', 'base_model', 'meters', 'optimizer', 'phase_idx', 'train_phase_idx',
                             'num_updates', 'losses', 'hooks', 'loss']), sorted(cs)
assert cs['train'] is True and cs['phase_idx'] == 2 and cs['num_updates'] == 960
assert cs['base_model']['meta'] == {'trunk': {}, 'heads': []}
parts = cs['base_model']['model']
assert type(parts['trunk']) is collections.OrderedDict
assert list(parts['heads']) == ['0.clf.0.weight', '0.clf.0.bias'], list(parts['heads'])
flat = collections.OrderedDict([('trunk.' + k, v) for k, v in parts['trunk'].items()] +
                               [('heads.' + k, v) for k, v in parts['heads'].items()])
assert list(flat) == list(want['model']), list(flat)
for k, v in flat.items():
    assert torch.equal(v, torch.tensor(want['model'][k], dtype=v.dtype).reshape(v.shape)), k
model = toy_model()
model.load_state_dict(flat, strict=True)
opt = cs['optimizer']
assert sorted(opt['state']) == [int(k) for k in want['momentum']], opt['state'].keys()
for k, v in opt['state'].items():
    assert torch.equal(v['momentum_buffer'], torch.tensor(want['momentum'][str(k)]).reshape(v['momentum_buffer'].shape)), k
g0, g1 = opt['param_groups']
assert g0['params'] == [0, 1, 2] and g1['params'] == [3, 4]
assert float(g0['lr']) == 0.1 and float(g0['momentum']) == 0.9 and float(g0['weight_decay']) == 1e-4
assert g1['weight_decay'] == 0 and g0['nesterov'] is True and g0['dampening'] == 0
assert cs['losses'].tolist() == want['losses']
ex = ck['extra']
assert ex['sampler'] == {'seed': 7, 'position': 12} and ex['config'] == 'OPTIMIZER:\\n  num_epochs: 3\\n'
assert float(ex['lrScale']) == 0.1 and ex['rng'].tolist() == [1, 2, 250] and ex['rng'].dtype == torch.uint8
print('ok')
`,
      path,
      expectedPath,
    );
    assert.equal(out.trim(), 'ok');
  });

  it('loads back here: model, optimizer, progress, losses and extra, so a run resumes exactly', () => {
    const loaded = loadTrainingCheckpoint(path);
    assert.deepEqual([loaded.epoch, loaded.iteration, loaded.numUpdates], [2, 30, 960]);
    assert.deepEqual(loaded.losses, LOSSES);
    assert.deepEqual(Object.keys(loaded.heads), ['0.clf.0.weight', '0.clf.0.bias']);
    assert.ok(Object.keys(loaded.trunk).every((name) => name.startsWith('_feature_blocks.')));
    assert.deepEqual(valuesOf(loaded.model), expectedModel);

    const fresh = new ToySSLModel();
    fresh.loadStateDict(loaded.model);
    assert.deepEqual(modelValues(fresh), expectedModel);
    const freshOptimizer = new SGD(
      [{ params: fresh.parameters().slice(0, 3) }, { params: fresh.parameters().slice(3) }],
      { lr: 1 },
    );
    freshOptimizer.loadStateDict(loaded.optimizer!);
    assert.deepEqual(momentumValues(freshOptimizer), expectedMomentum);
    assert.deepEqual(
      freshOptimizer.paramGroups.map((g) => [g.lr, g.momentum, g.weightDecay, g.nesterov]),
      [
        [0.1, 0.9, 1e-4, true],
        [0.1, 0.9, 0, true],
      ],
    );

    const { rng: loadedRng, ...plain } = loaded.extra;
    assert.deepEqual(plain, { sampler: { seed: 7, position: 12 }, config: extra.config, lrScale: 0.1 });
    assert.ok(loadedRng instanceof Tensor);
    assert.deepEqual([loadedRng.dtype, loadedRng.toArray()], ['uint8', [1, 2, 250]]);
    loaded.dispose();
    assert.equal(loadedRng.isDisposed, true);
    freshOptimizer.dispose();
    fresh.dispose();
  });

  it('MODEL.WEIGHTS_INIT reads it through classy_state_dict', () => {
    const fresh = new ToySSLModel();
    const report = initModelFromWeights(fresh, { PARAMS_FILE: path, logger: { info: () => {}, warn: () => {} } });
    assert.equal(report.loaded.length, 7);
    assert.deepEqual(report.skipped, ['trunk._feature_blocks.bn1.num_batches_tracked']);
    assert.deepEqual(modelValues(fresh), expectedModel);
    fresh.dispose();
  });

  it('converts to a torchvision-style state dict that weights_only=True opens', () => {
    const output = join(dir, 'torchvision.pth');
    const names = convertToTorchvision(path, output);
    assert.deepEqual(names, [
      'conv1.weight',
      'bn1.weight',
      'bn1.bias',
      'bn1.running_mean',
      'bn1.running_var',
      'bn1.num_batches_tracked',
    ]);
    const expectedPath = join(dir, 'expected-tv.json');
    writeFileSync(expectedPath, JSON.stringify(expectedModel));
    const out = python(
      `
import sys, json, collections, torch
sd = torch.load(sys.argv[1], weights_only=True)
want = json.load(open(sys.argv[2]))
assert type(sd) is collections.OrderedDict and list(sd) == ${JSON.stringify(names)}, list(sd)
for k, v in sd.items():
    assert torch.equal(v, torch.tensor(want['trunk._feature_blocks.' + k], dtype=v.dtype).reshape(v.shape)), k
print('ok')
`,
      output,
      expectedPath,
    );
    assert.equal(out.trim(), 'ok');
  });

  it("reads VISSL's own checkpoints: float losses, ClassyVision's optimizer wrapper, a frozen trunk's base_model names", () => {
    const vissl = join(dir, 'vissl_phase4.torch');
    python(
      `${TORCH_TOY_MODEL}
import sys
torch.manual_seed(0)
model = toy_model()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
sum((p * p).sum() for p in model.parameters()).backward()
opt.step()
trunk = {'base_model.' + k: v for k, v in model.trunk.state_dict().items()}
torch.save({'phase_idx': 9, 'train_phase_idx': 4, 'iteration': 50, 'iteration_num': 50, 'type': 'consolidated', 'loss': {},
            'classy_state_dict': {'train': True, 'base_model': {'model': {'trunk': trunk, 'heads': model.heads.state_dict()}},
                                  'optimizer': {'optim': opt.state_dict()}, 'num_updates': 1600, 'losses': [0.75, 0.5]}},
           sys.argv[1])
`,
      vissl,
    );
    const loaded = loadTrainingCheckpoint(vissl);
    assert.deepEqual([loaded.epoch, loaded.iteration, loaded.numUpdates, loaded.losses], [4, 50, 1600, [0.75, 0.5]]);
    assert.ok('base_model._feature_blocks.conv1.weight' in loaded.trunk);
    assert.equal(loaded.optimizer!.param_groups[0]!.lr, 0.05);
    assert.equal(Object.keys(loaded.optimizer!.state).length, 5);
    loaded.dispose();

    const output = join(dir, 'from-vissl.pth');
    assert.deepEqual(convertToTorchvision(vissl, output).slice(0, 2), ['conv1.weight', 'bn1.weight']);
  });

  it('a file without the VISSL layout is a clear error', () => {
    const flat = join(dir, 'flat.pth');
    python('import sys, torch; torch.save({"conv1.weight": torch.zeros(1)}, sys.argv[1])', flat);
    assert.throws(
      () => loadTrainingCheckpoint(flat),
      /flat\.pth is not a VISSL-layout checkpoint: it has no classy_state_dict/,
    );
  });

  it('writes only what weights_only accepts: bytes and sets in extra are refused with the fix', () => {
    assert.throws(
      () => save(tempFolder(), 0, {}, { extra: { state: new Uint8Array([1]) } }),
      /checkpoint extra\.state: a Uint8Array cannot be opened by torch\.load\(weights_only=True\); store bytes as a uint8 Tensor/,
    );
  });

  it('saving, loading and converting leave no tensor behind', () => {
    const before = memoryStats().liveTensors;
    const again = saveTrainingCheckpoint(tempFolder(), {
      model,
      optimizer,
      epoch: 3,
      iteration: 40,
      losses: LOSSES,
      extra,
    });
    loadTrainingCheckpoint(again).dispose();
    convertToTorchvision(again, join(dir, 'again.pth'));
    assert.equal(memoryStats().liveTensors, before);
  });

  after(() => {
    optimizer.dispose();
    model.dispose();
    rng.dispose();
  });
});

describe('resuming', () => {
  it('finds nothing in an empty or absent folder', () => {
    const dir = tempFolder();
    assert.equal(findResumeCheckpoint(dir), null);
    assert.equal(findResumeCheckpoint(join(dir, 'absent')), null);
  });

  it('picks the newest phase by number, and the final checkpoint over any phase', () => {
    const dir = tempFolder();
    for (const epoch of [0, 1, 2, 10]) save(dir, epoch);
    assert.equal(findResumeCheckpoint(dir), join(dir, 'model_phase10.torch'), '10 sorts after 2 numerically');
    save(dir, 11, { final: true });
    save(dir, 12);
    assert.equal(findResumeCheckpoint(dir), join(dir, 'model_final_checkpoint_phase11.torch'));
    assert.equal(readlinkSync(join(dir, 'checkpoint.torch')), 'model_phase12.torch');
  });

  it('passes over truncated checkpoints and temporary files', () => {
    const dir = tempFolder();
    const good = save(dir, 2);
    const bytes = readFileSync(good);
    // A half-copied phase, and an interrupted atomic write's temporary file.
    writeFileSync(join(dir, 'model_phase3.torch'), bytes.subarray(0, bytes.length >> 1));
    writeFileSync(join(dir, '.model_phase4.torch.99999.0123abcd.tmp'), bytes.subarray(0, 100));
    assert.equal(findResumeCheckpoint(dir), good);
    writeFileSync(join(dir, 'model_final_checkpoint_phase5.torch'), bytes.subarray(0, bytes.length - 10));
    assert.equal(findResumeCheckpoint(dir), good, 'a damaged final checkpoint is passed over too');
    copyFileSync(good, join(dir, 'model_phase6.torch'));
    assert.equal(findResumeCheckpoint(dir), join(dir, 'model_phase6.torch'));
  });

  it('a writer killed mid-write leaves the previous checkpoint the latest; the next save clears its temporary', () => {
    const dir = tempFolder();
    const previous = save(dir, 1);
    // A child process saves phase 2 and is SIGKILLed by its own second write to the file.
    const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
    const script = `
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
const { saveTrainingCheckpoint } = await import(${JSON.stringify(join(root, 'src/engine/checkpoint.js'))});
const { ToySSLModel } = await import(${JSON.stringify(join(root, 'test/models/toy-ssl-model.js'))});
const write = fs.writeSync;
let writes = 0;
fs.writeSync = (...args) => {
  if (++writes === 2) process.kill(process.pid, 'SIGKILL');
  return write(...args);
};
syncBuiltinESMExports();
saveTrainingCheckpoint(process.argv[1], { model: new ToySSLModel(), epoch: 2, iteration: 30 });
`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, dir], { encoding: 'utf8' });
    assert.equal(child.signal, 'SIGKILL', child.stderr);
    const leftovers = readdirSync(dir).filter((name) => name.endsWith('.tmp'));
    assert.equal(leftovers.length, 1, 'the killed write left its temporary file');
    assert.match(leftovers[0]!, /^\.model_phase2\.torch\.\d+\.[0-9a-f]{8}\.tmp$/);
    assert.equal(existsSync(join(dir, 'model_phase2.torch')), false);
    assert.equal(findResumeCheckpoint(dir), previous);
    assert.equal(readlinkSync(join(dir, 'checkpoint.torch')), 'model_phase1.torch');

    save(dir, 2);
    assert.deepEqual(readdirSync(dir).sort(), ['checkpoint.torch', 'model_phase1.torch', 'model_phase2.torch']);
    assert.equal(findResumeCheckpoint(dir), join(dir, 'model_phase2.torch'));
  });
});
