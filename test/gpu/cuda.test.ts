// The CUDA paths, run where CLUSTERFIT_TEST_DEVICE=cuda (scripts/gpu-check.sh): float16 autocast
// against torch.autocast('cuda'), the GradScaler on ATen's fused kernels, the caching allocator's
// statistics, pinned memory with non-blocking copies, the cuDNN/TF32 switches, and k-means's TF32
// distance path against its float32 search. Skipped on CPU.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  amp,
  backends,
  functional as F,
  isPinned,
  manualSeed,
  pinMemory,
  randn,
  tidy,
  zeros,
  type Tensor,
} from '../../src/torch/index.js';
import { SGD } from '../../src/torch/optim/index.js';
import { assign } from '../../src/cluster/index.js';
import { Oracle } from '../support/oracle.js';
import { assertClose } from '../support/compare.js';
import { ON_CUDA, TEST_DEVICE } from '../support/device.js';

const skip = ON_CUDA ? false : 'CUDA only (CLUSTERFIT_TEST_DEVICE=cuda)';
const oracle = ON_CUDA ? new Oracle() : null;
after(() => oracle?.close());
const FP16 = { rtol: 1e-2, atol: 1e-2 };

describe('CUDA', { skip }, () => {
  manualSeed(0);

  it('float16 autocast of conv2d and linear, forward and backward, equals torch.autocast("cuda")', async () => {
    const x = randn([4, 3, 16, 16], { device: TEST_DEVICE }).requiresGrad_(true);
    const w = randn([8, 3, 3, 3], { device: TEST_DEVICE }).requiresGrad_(true);
    const l = randn([5, 8], { device: TEST_DEVICE }).requiresGrad_(true);
    const out = amp.autocast({ deviceType: 'cuda' }, () =>
      F.linear(F.adaptiveAvgPool2d(F.relu(F.conv2d(x, w, null, { padding: 1 })), 1).flatten(1), l),
    );
    assert.equal(out.dtype, 'float16');
    tidy(() => out.float().sum().backward());
    const expected = await oracle!.run({
      setup:
        "with torch.autocast('cuda'):\n    out = F.linear(F.adaptive_avg_pool2d(F.relu(F.conv2d(x, w, padding=1)), 1).flatten(1), l)",
      code: 'out',
      inputs: { x, w, l },
      grad: ['x', 'w', 'l'],
      device: TEST_DEVICE,
    });
    assertClose(out, expected.outputs[0] as Tensor, FP16, 'output');
    for (const [name, t] of Object.entries({ x, w, l }))
      assertClose(t.grad!, expected.grads[name]!, FP16, `grad ${name}`);
  });

  it('the GradScaler runs on the fused kernels: skip on inf, backoff, growth', () => {
    const param = zeros([3], { device: TEST_DEVICE }).requiresGrad_(true);
    const optimizer = new SGD([param], { lr: 0.1 });
    const scaler = new amp.GradScaler({ device: TEST_DEVICE, initScale: 1024, growthInterval: 2 });
    assert.equal(scaler.usesFusedKernels, true);
    const stepped: boolean[] = [];
    for (const bad of [false, true, false, false]) {
      tidy(() => {
        const g = scaler.scale(randn([3], { device: TEST_DEVICE }));
        if (bad) g.narrow(0, 1, 1).fill_(Infinity);
        param.grad = g;
      });
      stepped.push(scaler.step(optimizer));
      scaler.update();
    }
    assert.deepEqual(stepped, [true, false, true, true]);
    assert.deepEqual(scaler.stateDict(), {
      scale: 1024,
      growth_factor: 2,
      backoff_factor: 0.5,
      growth_interval: 2,
      _growth_tracker: 0,
    });
    scaler.dispose();
    param.dispose();
  });

  it('memory statistics, pinned memory and the backend switches', () => {
    backends.cudaResetPeakMemoryStats();
    const big = zeros([64, 1024, 1024], { device: TEST_DEVICE });
    const stats = backends.cudaMemoryStats();
    assert.ok(stats !== null, 'this CUDA build found no CUDA headers: memory statistics are unavailable');
    assert.ok(stats.peakAllocatedBytes >= 256 * 2 ** 20, `peak ${stats.peakAllocatedBytes}`);
    big.dispose();
    const host = randn([1000]);
    const pinned = pinMemory(host);
    assert.equal(isPinned(pinned), true);
    const onDevice = pinned.to(TEST_DEVICE, { nonBlocking: true });
    assert.deepEqual(onDevice.cpu().toArray(), host.toArray());
    [host, pinned, onDevice].forEach((t) => t.dispose());
    backends.withFlags({ cudnnBenchmark: true, allowTF32Matmul: true, allowTF32Conv: false }, () =>
      assert.deepEqual(
        [backends.flags().cudnnBenchmark, backends.flags().allowTF32Matmul, backends.flags().allowTF32Conv],
        [true, true, false],
      ),
    );
  });

  it('k-means assignment with TF32 distances equals the float32 search', () => {
    const x = tidy(() => F.normalize(randn([20000, 256], { device: TEST_DEVICE })));
    const c = tidy(() => F.normalize(randn([500, 256], { device: TEST_DEVICE })));
    const exact = assign(x, c);
    const fast = assign(x, c, { precision: 'tf32' });
    const a = exact.labels.cpu().toArray();
    const b = fast.labels.cpu().toArray();
    const differing = a.filter((label, i) => label !== b[i]).length;
    assert.ok(differing <= 2, `${differing} labels differ (only exact float32 ties may)`);
    [x, c, exact.labels, exact.distances, fast.labels, fast.distances].forEach((t) => t.dispose());
  });
});
