// VISSL's ImgPil2LabTensor against the reference (OpenCV's 8-bit cvtColor plus VISSL's scaling, as
// test/data/reference.py runs it), and MODEL.INPUT_TYPE on the trunk (VISSL's
// transform_model_input_data_type: lab keeps the L channel, bgr reverses the channels).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyPhotometric } from '../../src/data/photometric.js';
import { Rng } from '../../src/data/rng.js';
import { parseTransforms } from '../../src/data/transforms.js';
import { ResNeXt } from '../../src/models/resnet.js';
import { manualSeed, narrow, noGrad, randn, tensor, type Tensor } from '../../src/torch/index.js';
import { reference, tempDir } from './reference.js';

/** HWC RGB images: a lattice of every channel at 0, 17, ..., 255 (4,096 colours) and random pixels. */
function images(): { height: number; width: number; hwc: Uint8Array }[] {
  const lattice = new Uint8Array(64 * 64 * 3);
  for (let i = 0; i < 4096; i++) lattice.set([(i >> 8) * 17, ((i >> 4) & 15) * 17, (i & 15) * 17], i * 3);
  const rng = new Rng(11);
  const noise = Uint8Array.from({ length: 96 * 128 * 3 }, () => rng.randint(0, 256));
  return [
    { height: 64, width: 64, hwc: lattice },
    { height: 96, width: 128, hwc: noise },
  ];
}

function toNchw({ height, width, hwc }: { height: number; width: number; hwc: Uint8Array }): Tensor {
  return tensor(hwc, { shape: [1, height, width, 3] })
    .permute(0, 3, 1, 2)
    .contiguous();
}

test('ImgPil2LabTensor: VISSL-scaled LAB within OpenCV 8-bit rounding of cv2.cvtColor(BGR2LAB)', () => {
  const dir = tempDir();
  const steps = parseTransforms([{ name: 'ImgPil2LabTensor' }]).photometric;
  const cases = images().map((image, i) => {
    const input = join(dir, `rgb${i}.raw`);
    writeFileSync(input, image.hwc);
    return { ...image, input, output: join(dir, `lab${i}.raw`) };
  });
  reference(
    'lab',
    cases.map(({ height, width, input, output }) => ({ height, width, input, output })),
  );
  for (const [i, c] of cases.entries()) {
    const ours = applyPhotometric(toNchw(c), steps, [{ index: i, copy: 0 }], 0, 0, 'cpu');
    assert.deepEqual(ours.shape, [1, 3, c.height, c.width]);
    assert.equal(ours.dtype, 'float32');
    const got = ours.data() as Float32Array;
    const raw = readFileSync(c.output);
    const want = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    const plane = c.height * c.width;
    // Differences in OpenCV's 8-bit levels: L is stored as L * 255 / 100, a and b offset by 128.
    const levelsPerUnit = [255 / 100, 1, 1];
    for (let ch = 0; ch < 3; ch++) {
      let exact = 0;
      let worst = 0;
      for (let p = ch * plane; p < (ch + 1) * plane; p++) {
        const levels = Math.abs((got[p]! - want[p]!) * levelsPerUnit[ch]!);
        if (levels < 1e-3) {
          // The same 8-bit level gives the same float32 as numpy's scaling, bit for bit.
          assert.equal(got[p], want[p], `image ${i} channel ${ch} pixel ${p - ch * plane}`);
          exact++;
        }
        worst = Math.max(worst, levels);
      }
      // OpenCV's 8-bit path interpolates a fixed-point table: on all 2^24 colours it differs from
      // the exact formulas by at most 2 (L), 3 (a), 2 (b) levels, on 14%, 9% and 6% of them.
      assert.ok(worst <= 3 + 1e-3, `image ${i} channel ${'Lab'[ch]}: ${worst} levels off`);
      assert.ok(exact / plane >= 0.8, `image ${i} channel ${'Lab'[ch]}: only ${exact / plane} exact`);
    }
  }
});

test('ImgPil2LabTensor comes last and alone among the tensor transforms', () => {
  assert.throws(
    () => parseTransforms([{ name: 'ImgPil2LabTensor' }, { name: 'ToTensor' }]),
    /ImgPil2LabTensor must be the only photometric transform and come last/,
  );
  assert.throws(
    () => parseTransforms([{ name: 'ImgPil2LabTensor', size: 3 }]),
    /unknown parameter\(s\) size; known: indices/,
  );
  const { geometric, photometric } = parseTransforms([
    { name: 'Resize', size: 40 },
    { name: 'RandomCrop', size: 32 },
    { name: 'RandomHorizontalFlip' },
    { name: 'ImgPil2LabTensor', indices: [] },
  ]);
  assert.equal(geometric.length, 3);
  assert.deepEqual(photometric, [{ kind: 'ImgPil2LabTensor' }]);
});

test('INPUT_TYPE lab: conv1 takes 1 channel and the trunk sees only L; bgr reverses the channels', () => {
  manualSeed(3);
  const lab = new ResNeXt({ depth: 18, inputType: 'lab' }).eval();
  assert.deepEqual(lab.stateDict()['_feature_blocks.conv1.weight']?.shape, [64, 1, 7, 7]);
  const rgb = new ResNeXt({ depth: 18 }).eval();
  const bgr = new ResNeXt({ depth: 18, inputType: 'bgr' }).eval();
  bgr.loadStateDict(rgb.stateDict());
  const x = randn([2, 3, 40, 40]);
  noGrad(() => {
    // Channels 1 and 2 (a, b) replaced by copies of L: a lab trunk must not see the difference.
    const direct = lab.features(x, ['res4', 'res5avg']);
    const onL = lab.features(narrow(x, 1, 0, 1).expand(2, 3, 40, 40).contiguous(), ['res4', 'res5avg']);
    for (const name of ['res4', 'res5avg']) {
      assert.deepEqual(direct.get(name)!.data(), onL.get(name)!.data(), name);
    }
    const flipped = x.flip([1]).contiguous();
    assert.deepEqual(bgr.call(x).data(), rgb.call(flipped).data());
  });
});
