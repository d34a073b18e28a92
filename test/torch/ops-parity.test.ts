// Every curated op, forward and backward, against PyTorch on the same inputs. Cases include
// non-contiguous (transposed, sliced) and broadcast operands, since those take different kernels.
import { after, describe, test } from 'node:test';
import * as torch from '../../src/torch/index.js';
import { type DType, type Tensor } from '../../src/torch/index.js';
import { Oracle } from '../support/oracle.js';
import { assertClose, type Tolerance } from '../support/compare.js';
import { TEST_DEVICE } from '../support/device.js';

const F = torch.functional;

interface InputSpec {
  shape: number[];
  dtype?: DType;
  /** randn (default), positive (|randn| + 0.5, for log/sqrt/div), int (randint 0..high-1), bool */
  kind?: 'randn' | 'positive' | 'int' | 'bool';
  high?: number;
}

interface Case {
  name: string;
  inputs: Record<string, InputSpec>;
  ours: (x: Record<string, Tensor>) => Tensor | Tensor[];
  /** The same computation in PyTorch, over the same input names. */
  py: string;
  /** Inputs to differentiate with respect to. */
  grad?: string[];
  tol?: Tolerance;
}

// findAtMost_'s meaning in PyTorch: the flat indices of (v - dec) <= lim per row, skip excluded.
const FIND_AT_MOST =
  '(lambda w: (torch.nonzero(((w <= lim[:, None]) & (torch.arange(w.shape[1])[None, :] != skip[:, None])).flatten()).squeeze(1), w))(v - dec)';

const S = (shape: number[], extra: Partial<InputSpec> = {}): InputSpec => ({ shape, ...extra });
const POS = (shape: number[]): InputSpec => ({ shape, kind: 'positive' });
const INT = (shape: number[], high: number): InputSpec => ({ shape, kind: 'int', high, dtype: 'int64' });

function makeInput(spec: InputSpec): Tensor {
  return torch.tidy(() => {
    let t: Tensor;
    switch (spec.kind ?? 'randn') {
      case 'positive':
        t = torch.randn(spec.shape).abs().add(0.5);
        break;
      case 'int':
        t = torch.randint(0, spec.high ?? 10, spec.shape);
        break;
      case 'bool':
        t = torch.rand(spec.shape).gt(0.5);
        break;
      default:
        t = torch.randn(spec.shape);
    }
    return t.to(spec.dtype ?? t.dtype).to(TEST_DEVICE);
  });
}

const LOOSE: Tolerance = { rtol: 1e-4, atol: 1e-5 };

const cases: Case[] = [
  // ---- elementwise, with broadcasting and non-contiguous operands ----
  {
    name: 'add',
    inputs: { a: S([3, 4]), b: S([3, 4]) },
    ours: ({ a, b }) => torch.add(a!, b!, 2),
    py: 'torch.add(a, b, alpha=2)',
    grad: ['a', 'b'],
  },
  {
    name: 'add broadcast',
    inputs: { a: S([3, 4]), b: S([4]) },
    ours: ({ a, b }) => a!.add(b!),
    py: 'a + b',
    grad: ['a', 'b'],
  },
  {
    name: 'add non-contiguous',
    inputs: { a: S([4, 3]), b: S([3, 4]) },
    ours: ({ a, b }) => a!.t().add(b!),
    py: 'a.t() + b',
    grad: ['a', 'b'],
  },
  { name: 'add scalar', inputs: { a: S([5]) }, ours: ({ a }) => a!.add(1.5), py: 'a + 1.5', grad: ['a'] },
  { name: 'add int scalar keeps int', inputs: { a: INT([5], 9) }, ours: ({ a }) => a!.add(2), py: 'a + 2' },
  {
    name: 'sub',
    inputs: { a: S([2, 3]), b: S([1, 3]) },
    ours: ({ a, b }) => torch.sub(a!, b!, 0.5),
    py: 'torch.sub(a, b, alpha=0.5)',
    grad: ['a', 'b'],
  },
  {
    name: 'mul',
    inputs: { a: S([2, 3, 4]), b: S([3, 1]) },
    ours: ({ a, b }) => a!.mul(b!),
    py: 'a * b',
    grad: ['a', 'b'],
  },
  {
    name: 'div',
    inputs: { a: S([3, 4]), b: POS([3, 4]) },
    ours: ({ a, b }) => a!.div(b!),
    py: 'a / b',
    grad: ['a', 'b'],
  },
  {
    name: 'div floor',
    inputs: { a: S([6]), b: POS([6]) },
    ours: ({ a, b }) => a!.div(b!, 'floor'),
    py: "torch.div(a, b, rounding_mode='floor')",
  },
  { name: 'div int true division', inputs: { a: INT([6], 9) }, ours: ({ a }) => a!.div(2), py: 'a / 2' },
  { name: 'pow scalar', inputs: { a: POS([4, 2]) }, ours: ({ a }) => a!.pow(2.5), py: 'a ** 2.5', grad: ['a'] },
  {
    name: 'pow tensor',
    inputs: { a: POS([4]), b: S([4]) },
    ours: ({ a, b }) => a!.pow(b!),
    py: 'a ** b',
    grad: ['a', 'b'],
  },
  {
    name: 'remainder',
    inputs: { a: S([8]) },
    ours: ({ a }) => torch.remainder(a!, 0.7),
    py: 'torch.remainder(a, 0.7)',
  },
  { name: 'fmod', inputs: { a: S([8]) }, ours: ({ a }) => torch.fmod(a!, 0.7), py: 'torch.fmod(a, 0.7)' },
  {
    name: 'maximum',
    inputs: { a: S([3, 3]), b: S([3, 3]) },
    ours: ({ a, b }) => torch.maximum(a!, b!),
    py: 'torch.maximum(a, b)',
    grad: ['a', 'b'],
  },
  {
    name: 'minimum',
    inputs: { a: S([3, 3]), b: S([3]) },
    ours: ({ a, b }) => torch.minimum(a!, b!),
    py: 'torch.minimum(a, b)',
    grad: ['a', 'b'],
  },
  ...(
    [
      ['neg', 'randn'],
      ['abs', 'randn'],
      ['exp', 'randn'],
      ['log', 'positive'],
      ['log1p', 'positive'],
      ['sqrt', 'positive'],
      ['rsqrt', 'positive'],
      ['square', 'randn'],
      ['reciprocal', 'positive'],
      ['sin', 'randn'],
      ['cos', 'randn'],
      ['tanh', 'randn'],
      ['sigmoid', 'randn'],
      ['relu', 'randn'],
    ] as const
  ).map(([name, kind]): Case => ({
    name,
    inputs: { a: { shape: [4, 5], kind } },
    ours: ({ a }) => (torch[name] as (t: Tensor) => Tensor)(a!.t()),
    py: `torch.${name}(a.t())`,
    grad: ['a'],
  })),
  ...(['floor', 'ceil', 'round', 'sign', 'isnan', 'isfinite'] as const).map((name): Case => ({
    name,
    inputs: { a: S([3, 5]) },
    ours: ({ a }) => torch[name](a!.mul(3)),
    py: `torch.${name}(a * 3)`,
  })),
  {
    name: 'clamp',
    inputs: { a: S([10]) },
    ours: ({ a }) => a!.clamp(-0.5, 0.5),
    py: 'a.clamp(-0.5, 0.5)',
    grad: ['a'],
  },
  { name: 'clamp min only', inputs: { a: S([10]) }, ours: ({ a }) => a!.clamp(0), py: 'a.clamp(min=0)', grad: ['a'] },
  ...(['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const).map((name): Case => ({
    name,
    inputs: { a: INT([4, 4], 3), b: INT([4], 3) },
    ours: ({ a, b }) => [a![name](b!), a![name](1)],
    py: `(torch.${name}(a, b), torch.${name}(a, 1))`,
  })),
  {
    name: 'logical ops',
    inputs: { a: S([6], { kind: 'bool' }), b: S([6], { kind: 'bool' }) },
    ours: ({ a, b }) => [torch.logicalAnd(a!, b!), torch.logicalOr(a!, b!), torch.logicalNot(a!)],
    py: '(torch.logical_and(a, b), torch.logical_or(a, b), torch.logical_not(a))',
  },
  {
    name: 'where',
    inputs: { c: S([3, 4], { kind: 'bool' }), a: S([3, 4]), b: S([4]) },
    ours: ({ c, a, b }) => torch.where(c!, a!, b!),
    py: 'torch.where(c, a, b)',
    grad: ['a', 'b'],
  },
  {
    name: 'lerp',
    inputs: { a: S([5]), b: S([5]) },
    ours: ({ a, b }) => torch.lerp(a!, b!, 0.3),
    py: 'torch.lerp(a, b, 0.3)',
    grad: ['a', 'b'],
  },

  // ---- reductions ----
  { name: 'sum all', inputs: { a: S([3, 4]) }, ours: ({ a }) => a!.sum(), py: 'a.sum()', grad: ['a'] },
  {
    name: 'sum dims keepdim',
    inputs: { a: S([2, 3, 4]) },
    ours: ({ a }) => a!.sum([0, 2], { keepdim: true }),
    py: 'a.sum((0, 2), keepdim=True)',
    grad: ['a'],
  },
  {
    name: 'sum int to float64',
    inputs: { a: INT([5], 7) },
    ours: ({ a }) => a!.sum(undefined, { dtype: 'float64' }),
    py: 'a.sum(dtype=torch.float64)',
  },
  { name: 'mean', inputs: { a: S([4, 6]) }, ours: ({ a }) => a!.t().mean(1), py: 'a.t().mean(1)', grad: ['a'] },
  {
    name: 'var',
    inputs: { a: S([5, 7]) },
    ours: ({ a }) => torch.variance(a!, 1),
    py: 'a.var(1)',
    grad: ['a'],
    tol: LOOSE,
  },
  {
    name: 'var population',
    inputs: { a: S([5, 7]) },
    ours: ({ a }) => torch.variance(a!, undefined, { correction: 0 }),
    py: 'a.var(unbiased=False)',
    grad: ['a'],
    tol: LOOSE,
  },
  {
    name: 'std',
    inputs: { a: S([5, 7]) },
    ours: ({ a }) => torch.std(a!, [0], { keepdim: true }),
    py: 'a.std(0, keepdim=True)',
    grad: ['a'],
    tol: LOOSE,
  },
  { name: 'max/min all', inputs: { a: S([4, 4]) }, ours: ({ a }) => [a!.max(), a!.min()], py: '(a.max(), a.min())' },
  {
    name: 'max/min dim',
    inputs: { a: S([4, 5]) },
    ours: ({ a }) => {
      const mx = torch.maxDim(a!, 1);
      const mn = torch.minDim(a!, 0, true);
      return [mx.values, mx.indices, mn.values, mn.indices];
    },
    py: '(*a.max(1), *a.min(0, keepdim=True))',
    grad: ['a'],
  },
  {
    name: 'argmax/argmin',
    inputs: { a: S([4, 5]) },
    ours: ({ a }) => [a!.argmax(1), a!.argmin(), a!.argmax(0, true)],
    py: '(a.argmax(1), a.argmin(), a.argmax(0, keepdim=True))',
  },
  {
    name: 'topk',
    inputs: { a: S([3, 8]) },
    ours: ({ a }) => {
      const { values, indices } = torch.topk(a!, 3);
      const smallest = torch.topk(a!, 2, { dim: 0, largest: false });
      return [values, indices, smallest.values, smallest.indices];
    },
    py: '(*a.topk(3), *a.topk(2, dim=0, largest=False))',
    grad: ['a'],
  },
  {
    name: 'norm',
    inputs: { a: S([3, 4]) },
    ours: ({ a }) => [a!.norm(), a!.norm(1, 1), a!.norm(2, [0], true)],
    py: '(a.norm(), a.norm(1, 1), a.norm(2, 0, keepdim=True))',
    grad: ['a'],
    tol: LOOSE,
  },
  {
    name: 'logsumexp',
    inputs: { a: S([3, 4]) },
    ours: ({ a }) => torch.logsumexp(a!, 1),
    py: 'a.logsumexp(1)',
    grad: ['a'],
  },
  { name: 'cumsum', inputs: { a: S([3, 4]) }, ours: ({ a }) => torch.cumsum(a!, 1), py: 'a.cumsum(1)', grad: ['a'] },
  {
    name: 'bincount',
    inputs: { a: INT([20], 6) },
    ours: ({ a }) => torch.bincount(a!, 8),
    py: 'torch.bincount(a, minlength=8)',
  },
  {
    name: 'all/any',
    inputs: { a: S([5], { kind: 'bool' }) },
    ours: ({ a }) => [torch.all(a!), torch.any(a!)],
    py: '(a.all(), a.any())',
  },

  // ---- shape ----
  {
    name: 'view/reshape',
    inputs: { a: S([2, 6]) },
    ours: ({ a }) => [a!.view(3, 4), a!.t().reshape(12)],
    py: '(a.view(3, 4), a.t().reshape(12))',
    grad: ['a'],
  },
  {
    name: 'permute',
    inputs: { a: S([2, 3, 4]) },
    ours: ({ a }) => a!.permute(2, 0, 1),
    py: 'a.permute(2, 0, 1)',
    grad: ['a'],
  },
  {
    name: 'transpose',
    inputs: { a: S([2, 3, 4]) },
    ours: ({ a }) => a!.transpose(0, 2),
    py: 'a.transpose(0, 2)',
    grad: ['a'],
  },
  {
    name: 'contiguous',
    inputs: { a: S([3, 4]) },
    ours: ({ a }) => a!.t().contiguous(),
    py: 'a.t().contiguous()',
    grad: ['a'],
  },
  {
    name: 'flatten',
    inputs: { a: S([2, 3, 4, 5]) },
    ours: ({ a }) => [a!.flatten(), a!.flatten(1), a!.flatten(1, 2)],
    py: '(a.flatten(), a.flatten(1), a.flatten(1, 2))',
    grad: ['a'],
  },
  {
    name: 'squeeze/unsqueeze',
    inputs: { a: S([2, 1, 3, 1]) },
    ours: ({ a }) => [a!.squeeze(), a!.squeeze(1), a!.unsqueeze(0), a!.unsqueeze(-1)],
    py: '(a.squeeze(), a.squeeze(1), a.unsqueeze(0), a.unsqueeze(-1))',
    grad: ['a'],
  },
  {
    name: 'expand',
    inputs: { a: S([3, 1]) },
    ours: ({ a }) => a!.expand(2, 3, 4),
    py: 'a.expand(2, 3, 4)',
    grad: ['a'],
  },
  {
    name: 'repeat',
    inputs: { a: S([2, 3]) },
    ours: ({ a }) => a!.repeat(2, 1, 2),
    py: 'a.repeat(2, 1, 2)',
    grad: ['a'],
  },
  { name: 'flip', inputs: { a: S([2, 3, 4]) }, ours: ({ a }) => a!.flip([0, 2]), py: 'a.flip((0, 2))', grad: ['a'] },
  {
    name: 'rot90',
    inputs: { a: S([2, 3, 4]) },
    ours: ({ a }) => [torch.rot90(a!, 1, [1, 2]), torch.rot90(a!, 3, [1, 2]), torch.rot90(a!, 2, [1, 2])],
    py: '(torch.rot90(a, 1, (1, 2)), torch.rot90(a, 3, (1, 2)), torch.rot90(a, 2, (1, 2)))',
    grad: ['a'],
  },
  {
    name: 'roll',
    inputs: { a: S([3, 4]) },
    ours: ({ a }) => torch.roll(a!, [1, -1], [0, 1]),
    py: 'torch.roll(a, (1, -1), (0, 1))',
    grad: ['a'],
  },
  {
    name: 'narrow/select/slice',
    inputs: { a: S([5, 6]) },
    ours: ({ a }) => [a!.narrow(1, 2, 3), a!.select(0, 4), torch.slice(a!, 1, 1, 6, 2)],
    py: '(a.narrow(1, 2, 3), a.select(0, 4), a[:, 1:6:2])',
    grad: ['a'],
  },
  {
    name: 'cat',
    inputs: { a: S([2, 3]), b: S([4, 3]) },
    ours: ({ a, b }) => torch.cat([a!, b!], 0),
    py: 'torch.cat([a, b], 0)',
    grad: ['a', 'b'],
  },
  {
    name: 'stack',
    inputs: { a: S([2, 3]), b: S([2, 3]) },
    ours: ({ a, b }) => torch.stack([a!, b!.t().t()], 1),
    py: 'torch.stack([a, b], 1)',
    grad: ['a', 'b'],
  },
  { name: 'split', inputs: { a: S([7, 2]) }, ours: ({ a }) => torch.split(a!, 3), py: 'a.split(3)', grad: ['a'] },
  {
    name: 'split sizes',
    inputs: { a: S([2, 7]) },
    ours: ({ a }) => torch.split(a!, [2, 5], 1),
    py: 'a.split([2, 5], 1)',
    grad: ['a'],
  },
  { name: 'chunk', inputs: { a: S([7, 2]) }, ours: ({ a }) => torch.chunk(a!, 3), py: 'a.chunk(3)', grad: ['a'] },
  {
    name: 'indexSelect',
    inputs: { a: S([5, 3]), i: INT([4], 5) },
    ours: ({ a, i }) => a!.indexSelect(0, i!),
    py: 'a.index_select(0, i)',
    grad: ['a'],
  },
  {
    name: 'gather',
    inputs: { a: S([4, 5]), i: INT([4, 2], 5) },
    ours: ({ a, i }) => a!.gather(1, i!),
    py: 'a.gather(1, i)',
    grad: ['a'],
  },
  {
    name: 'scatterAdd',
    inputs: { a: S([3, 5]), i: INT([6, 5], 3), s: S([6, 5]) },
    ours: ({ a, i, s }) => torch.scatterAdd(a!, 0, i!, s!),
    py: 'a.scatter_add(0, i, s)',
    grad: ['a', 's'],
  },
  {
    name: 'indexAdd',
    inputs: { a: S([4, 3]), i: INT([6], 4), s: S([6, 3]) },
    ours: ({ a, i, s }) => torch.indexAdd(a!, 0, i!, s!, 2),
    py: 'a.index_add(0, i, s, alpha=2)',
    grad: ['a', 's'],
  },
  {
    name: 'index',
    inputs: { a: S([5, 4]), i: INT([3], 5) },
    ours: ({ a, i }) => torch.index(a!, [i!]),
    py: 'a[i]',
    grad: ['a'],
  },
  {
    name: 'index second dim',
    inputs: { a: S([5, 4]), i: INT([3], 4) },
    ours: ({ a, i }) => torch.index(a!, [null, i!]),
    py: 'a[:, i]',
    grad: ['a'],
  },
  {
    name: 'maskedFill',
    inputs: { a: S([3, 4]), m: S([4], { kind: 'bool' }) },
    ours: ({ a, m }) => torch.maskedFill(a!, m!, -1),
    py: 'a.masked_fill(m, -1)',
    grad: ['a'],
  },
  {
    name: 'nonzero',
    inputs: { m: S([3, 4], { kind: 'bool' }) },
    ours: ({ m }) => torch.nonzero(m!),
    py: 'm.nonzero()',
  },
  {
    name: 'indexCopy_',
    inputs: { a: S([5, 3]), s: S([3, 3]) },
    ours: ({ a, s }) => {
      const out = a!.clone();
      torch.indexCopy_(out, 0, torch.tensor(Int32Array.from([4, 0, 2])).to('int64'), s!);
      return out;
    },
    py: 'a.clone().index_copy_(0, torch.tensor([4, 0, 2]), s)',
  },
  {
    name: 'scatterValue_',
    inputs: { a: S([3, 5]) },
    ours: ({ a }) => {
      const out = a!.clone();
      torch.scatterValue_(
        out,
        1,
        torch
          .tensor(Int32Array.from([4, 0, 2]))
          .to('int64')
          .unsqueeze(1),
        7,
      );
      return out;
    },
    py: 'a.clone().scatter_(1, torch.tensor([[4], [0], [2]]), 7)',
  },
  {
    name: 'asStrided',
    inputs: { a: S([12]) },
    ours: ({ a }) => torch.asStrided(a!, [3, 2], [1, 3], 2),
    py: 'a.as_strided((3, 2), (1, 3), 2)',
    grad: ['a'],
  },

  // ---- linear algebra ----
  {
    name: 'gemm_ (oneDNN where present): row-major and transposed operands',
    inputs: { c: S([5, 4]), a: S([5, 3]), b: S([4, 3]) },
    ours: ({ c, a, b }) => {
      const out = c!.clone();
      torch.gemm_(out, a!, b!.t(), { beta: 0.5, alpha: -2 });
      return out;
    },
    py: 'torch.addmm(c, a, b.t(), beta=0.5, alpha=-2)',
    tol: LOOSE,
  },
  {
    name: 'gemm_ with a transposed first operand',
    inputs: { c: S([5, 4]), a: S([3, 5]), b: S([3, 4]) },
    ours: ({ c, a, b }) => {
      const out = c!.clone();
      torch.gemm_(out, a!.t(), b!);
      return out;
    },
    py: 'torch.addmm(c, a.t(), b)',
    tol: LOOSE,
  },
  {
    name: 'gemm_ falls back to addmm_ for layouts sgemm cannot take and for float64',
    inputs: {
      c: S([5, 4], { dtype: 'float64' }),
      a: S([5, 6], { dtype: 'float64' }),
      b: S([3, 4], { dtype: 'float64' }),
    },
    ours: ({ c, a, b }) => {
      const out = c!.clone();
      torch.gemm_(out, torch.slice(a!, 1, 0, 6, 2), b!);
      const strided = c!.to('float32');
      torch.gemm_(strided, torch.slice(a!.to('float32'), 1, 0, 6, 2), b!.to('float32'));
      return torch.stack([out, strided.to('float64')]);
    },
    py: 'torch.stack([torch.addmm(c, a[:, ::2], b), torch.addmm(c.float(), a.float()[:, ::2], b.float()).double()])',
    tol: LOOSE,
  },
  {
    // d = 70: the 64-wide blocks, a 16-wide one and a scalar tail; rows longer than d (a slice).
    name: 'pairDots: listed row pairs, repeated and unsorted, rows wider than d',
    inputs: { a: S([6, 80]), b: S([5, 70]), i: INT([40], 6), j: INT([40], 5) },
    ours: ({ a, b, i, j }) => torch.pairDots(torch.narrow(a!, 1, 0, 70), b!, i!, j!),
    py: '(a[:, :70][i] * b[j]).sum(1)',
    tol: LOOSE,
  },
  {
    // Enough pairs for every intra-op thread to take a range.
    name: 'pairDots at d = 2048',
    inputs: { a: S([30, 2048]), b: S([20, 2048]), i: INT([300], 30), j: INT([300], 20) },
    ours: ({ a, b, i, j }) => torch.pairDots(a!, b!, i!, j!),
    py: '(a[i] * b[j]).sum(1)',
    tol: LOOSE,
  },
  {
    name: 'pairDots in float64 (the gathering path other devices take)',
    inputs: {
      a: S([6, 9], { dtype: 'float64' }),
      b: S([4, 9], { dtype: 'float64' }),
      i: INT([12], 6),
      j: INT([12], 4),
    },
    ours: ({ a, b, i, j }) => torch.pairDots(a!, b!, i!, j!),
    py: '(a[i] * b[j]).sum(1)',
  },
  {
    // 37 columns: two 16-wide blocks and a scalar tail; about half the entries end up listed.
    name: 'findAtMost_: lowered in place, entries at most the row limit listed, one column per row skipped',
    inputs: { v: S([7, 37]), dec: S([37]), lim: S([7]), skip: INT([7], 37) },
    ours: ({ v, dec, lim, skip }) => {
      const values = v!.clone();
      return [torch.findAtMost_(values, dec!, lim!, skip!), values];
    },
    py: FIND_AT_MOST,
  },
  {
    name: 'findAtMost_ in float64 (the ATen ops other devices take)',
    inputs: {
      v: S([5, 9], { dtype: 'float64' }),
      dec: S([9], { dtype: 'float64' }),
      lim: S([5], { dtype: 'float64' }),
      skip: INT([5], 9),
    },
    ours: ({ v, dec, lim, skip }) => {
      const values = v!.clone();
      return [torch.findAtMost_(values, dec!, lim!, skip!), values];
    },
    py: FIND_AT_MOST,
  },
  {
    name: 'matmul',
    inputs: { a: S([2, 3, 4]), b: S([4, 5]) },
    ours: ({ a, b }) => a!.matmul(b!),
    py: 'a @ b',
    grad: ['a', 'b'],
    tol: LOOSE,
  },
  {
    name: 'mm non-contiguous',
    inputs: { a: S([4, 3]), b: S([5, 4]) },
    ours: ({ a, b }) => a!.t().mm(b!.t()),
    py: 'a.t().mm(b.t())',
    grad: ['a', 'b'],
    tol: LOOSE,
  },
  {
    name: 'bmm',
    inputs: { a: S([2, 3, 4]), b: S([2, 4, 2]) },
    ours: ({ a, b }) => torch.bmm(a!, b!),
    py: 'torch.bmm(a, b)',
    grad: ['a', 'b'],
    tol: LOOSE,
  },
  {
    name: 'addmm',
    inputs: { c: S([3]), a: S([2, 4]), b: S([4, 3]) },
    ours: ({ c, a, b }) => torch.addmm(c!, a!, b!, { beta: 0.5, alpha: 2 }),
    py: 'torch.addmm(c, a, b, beta=0.5, alpha=2)',
    grad: ['c', 'a', 'b'],
    tol: LOOSE,
  },
  {
    name: 'dot',
    inputs: { a: S([6]), b: S([6]) },
    ours: ({ a, b }) => torch.dot(a!, b!),
    py: 'torch.dot(a, b)',
    grad: ['a', 'b'],
    tol: LOOSE,
  },
  {
    name: 'eigh (eigenvalues; vectors up to sign via reconstruction)',
    inputs: { a: S([5, 5], { dtype: 'float64' }) },
    ours: ({ a }) => {
      const sym = a!.add(a!.t());
      const { eigenvalues, eigenvectors } = torch.eigh(sym);
      const rebuilt = eigenvectors.mul(eigenvalues).mm(eigenvectors.t());
      return [eigenvalues, rebuilt];
    },
    py: '(torch.linalg.eigh(a + a.t())[0], a + a.t())',
    tol: { rtol: 1e-8, atol: 1e-10 },
  },
  {
    name: 'svd (singular values; reconstruction)',
    inputs: { a: S([6, 4], { dtype: 'float64' }) },
    ours: ({ a }) => {
      const { U, S: s, Vh } = torch.svd(a!, false);
      return [s, U.mul(s).mm(Vh)];
    },
    py: '(torch.linalg.svdvals(a), a)',
    tol: { rtol: 1e-8, atol: 1e-10 },
  },

  // ---- neural-network functionals ----
  {
    name: 'conv2d',
    inputs: { x: S([2, 3, 9, 9]), w: S([4, 3, 3, 3]), b: S([4]) },
    ours: ({ x, w, b }) => F.conv2d(x!, w!, b!, { stride: 2, padding: 1 }),
    py: 'F.conv2d(x, w, b, stride=2, padding=1)',
    grad: ['x', 'w', 'b'],
    tol: LOOSE,
  },
  {
    name: 'conv2d grouped dilated channels-last',
    inputs: { x: S([2, 4, 10, 10]), w: S([6, 2, 3, 3]) },
    ours: ({ x, w }) => F.conv2d(x!.contiguous('channelsLast'), w!, null, { dilation: 2, groups: 2, padding: [1, 2] }),
    py: 'F.conv2d(x.contiguous(memory_format=torch.channels_last), w, None, dilation=2, groups=2, padding=(1, 2))',
    grad: ['x', 'w'],
    tol: LOOSE,
  },
  {
    name: 'batchNorm train (updates running stats)',
    inputs: { x: S([4, 3, 5, 5]), w: S([3]), b: S([3]), m: S([3]), v: POS([3]) },
    ours: ({ x, w, b, m, v }) => {
      const y = F.batchNorm(x!, m!, v!, { weight: w!, bias: b!, training: true, momentum: 0.2, eps: 1e-3 });
      return [y, m!, v!];
    },
    py: '(F.batch_norm(x, m, v, w, b, training=True, momentum=0.2, eps=1e-3), m, v)',
    grad: ['x', 'w', 'b'],
    tol: LOOSE,
  },
  {
    name: 'batchNorm eval',
    inputs: { x: S([4, 3, 5, 5]), w: S([3]), b: S([3]), m: S([3]), v: POS([3]) },
    ours: ({ x, w, b, m, v }) => F.batchNorm(x!, m!, v!, { weight: w!, bias: b! }),
    py: 'F.batch_norm(x, m, v, w, b)',
    grad: ['x', 'w', 'b'],
    tol: LOOSE,
  },
  {
    name: 'linear',
    inputs: { x: S([5, 4]), w: S([3, 4]), b: S([3]) },
    ours: ({ x, w, b }) => F.linear(x!, w!, b!),
    py: 'F.linear(x, w, b)',
    grad: ['x', 'w', 'b'],
    tol: LOOSE,
  },
  {
    name: 'maxPool2d',
    inputs: { x: S([2, 3, 9, 9]) },
    ours: ({ x }) => F.maxPool2d(x!, 3, { stride: 2, padding: 1 }),
    py: 'F.max_pool2d(x, 3, 2, 1)',
    grad: ['x'],
  },
  {
    name: 'maxPool2d ceil',
    inputs: { x: S([1, 2, 8, 8]) },
    ours: ({ x }) => F.maxPool2d(x!, 3, { stride: 2, ceilMode: true }),
    py: 'F.max_pool2d(x, 3, 2, ceil_mode=True)',
    grad: ['x'],
  },
  {
    name: 'avgPool2d',
    inputs: { x: S([2, 3, 9, 9]) },
    ours: ({ x }) => [F.avgPool2d(x!, 3, { stride: 2, padding: 1 }), F.avgPool2d(x!, [6, 6], { stride: 1 })],
    py: '(F.avg_pool2d(x, 3, 2, 1), F.avg_pool2d(x, (6, 6), 1))',
    grad: ['x'],
  },
  {
    name: 'adaptiveAvgPool2d',
    inputs: { x: S([2, 3, 7, 7]) },
    ours: ({ x }) => [F.adaptiveAvgPool2d(x!, 1), F.adaptiveAvgPool2d(x!, [2, 3])],
    py: '(F.adaptive_avg_pool2d(x, 1), F.adaptive_avg_pool2d(x, (2, 3)))',
    grad: ['x'],
  },
  {
    name: 'pad constant',
    inputs: { x: S([2, 4, 6, 6]) },
    ours: ({ x }) => [F.pad(x!, [0, 0, 0, 0, 2, 2]), F.pad(x!, [1, 2, 0, 1], 0.5)],
    py: "(F.pad(x, (0, 0, 0, 0, 2, 2)), F.pad(x, (1, 2, 0, 1), 'constant', 0.5))",
    grad: ['x'],
  },
  {
    name: 'dropout off',
    inputs: { x: S([4, 4]) },
    ours: ({ x }) => [F.dropout(x!, 0.5, false), F.dropout(x!, 0, true)],
    py: '(F.dropout(x, 0.5, False), F.dropout(x, 0.0, True))',
    grad: ['x'],
  },
  {
    name: 'logSoftmax/softmax',
    inputs: { x: S([3, 5]) },
    ours: ({ x }) => [F.logSoftmax(x!, 1), F.softmax(x!.t(), 0)],
    py: '(F.log_softmax(x, 1), F.softmax(x.t(), 0))',
    grad: ['x'],
  },
  {
    name: 'crossEntropy',
    inputs: { x: S([6, 5]), y: INT([6], 5) },
    ours: ({ x, y }) => F.crossEntropy(x!, y!),
    py: 'F.cross_entropy(x, y)',
    grad: ['x'],
  },
  {
    name: 'crossEntropy ignoreIndex',
    inputs: { x: S([6, 5]), y: INT([6], 5) },
    ours: ({ x, y }) => F.crossEntropy(x!, torch.where(y!.eq(0), torch.fullLike(y!, -1), y!), { ignoreIndex: -1 }),
    py: 'F.cross_entropy(x, torch.where(y == 0, torch.full_like(y, -1), y), ignore_index=-1)',
    grad: ['x'],
  },
  {
    name: 'crossEntropy labelSmoothing, sum, weight',
    inputs: { x: S([6, 5]), y: INT([6], 5), w: POS([5]) },
    ours: ({ x, y, w }) => F.crossEntropy(x!, y!, { labelSmoothing: 0.1, reduction: 'sum', weight: w! }),
    py: 'F.cross_entropy(x, y, weight=w, label_smoothing=0.1, reduction="sum")',
    grad: ['x'],
    tol: LOOSE,
  },
  {
    name: 'nllLoss',
    inputs: { x: S([6, 5]), y: INT([6], 5) },
    ours: ({ x, y }) => F.nllLoss(F.logSoftmax(x!, 1), y!),
    py: 'F.nll_loss(F.log_softmax(x, 1), y)',
    grad: ['x'],
  },
  {
    name: 'mseLoss',
    inputs: { x: S([6, 5]), y: S([6, 5]) },
    ours: ({ x, y }) => F.mseLoss(x!, y!),
    py: 'F.mse_loss(x, y)',
    grad: ['x', 'y'],
  },
  {
    name: 'normalize',
    inputs: { x: S([4, 6]) },
    ours: ({ x }) => [F.normalize(x!), F.normalize(x!, { dim: 0, p: 1 })],
    py: '(F.normalize(x), F.normalize(x, dim=0, p=1))',
    grad: ['x'],
  },
  { name: 'oneHot', inputs: { y: INT([5], 4) }, ours: ({ y }) => [F.oneHot(y!, 6)], py: '(F.one_hot(y, 6),)' },

  // ---- conversion ----
  {
    name: 'dtype conversion',
    inputs: { a: S([6]) },
    ours: ({ a }) => [a!.double(), a!.half(), a!.to('bfloat16'), a!.mul(3).long(), a!.int(), a!.gt(0).to('uint8')],
    py: '(a.double(), a.half(), a.bfloat16(), (a * 3).long(), a.int(), (a > 0).to(torch.uint8))',
  },
  {
    name: 'float16 arithmetic',
    inputs: { a: S([6], { dtype: 'float16' }), b: S([6], { dtype: 'float16' }) },
    ours: ({ a, b }) => a!.mul(b!).add(1),
    py: 'a * b + 1',
    tol: { rtol: 1e-3, atol: 1e-3 },
  },
  {
    name: 'clone channels-last',
    inputs: { a: S([2, 3, 4, 5]) },
    ours: ({ a }) => a!.clone('channelsLast'),
    py: 'a.clone(memory_format=torch.channels_last)',
    grad: ['a'],
  },
];

const oracle = new Oracle();
after(() => oracle.close());

describe(`op parity with PyTorch on ${TEST_DEVICE}`, () => {
  for (const c of cases) {
    test(c.name, async () => {
      torch.manualSeed(7);
      const inputs = Object.fromEntries(Object.entries(c.inputs).map(([name, spec]) => [name, makeInput(spec)]));
      for (const name of c.grad ?? []) inputs[name]!.requiresGrad_(true);
      // Inputs that an op updates in place (batch-norm running stats) are sent before we run it.
      const sent = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.detach().clone()]));
      const produced = c.ours(inputs);
      const outputs = Array.isArray(produced) ? produced : [produced];
      let gradOutput: Tensor | undefined;
      if (c.grad) {
        gradOutput = torch.randn(outputs[0]!.shape, { dtype: outputs[0]!.dtype, device: TEST_DEVICE });
        outputs[0]!.backward(gradOutput);
      }
      const reference = await oracle.run({ code: c.py, inputs: sent, grad: c.grad, gradOutput, device: TEST_DEVICE });
      const tol = c.tol ?? {};
      outputs.forEach((out, i) => assertClose(out.cpu(), reference.outputs[i] as Tensor, tol, `${c.name} output ${i}`));
      for (const name of c.grad ?? []) {
        const ours = inputs[name]!.grad;
        const theirs = reference.grads[name];
        if (!ours || !theirs)
          throw new Error(`${c.name}: gradient of ${name} missing (ours ${!!ours}, PyTorch ${!!theirs})`);
        assertClose(ours.cpu(), theirs, tol, `${c.name} d/d${name}`);
      }
    });
  }
});

describe('random generators match PyTorch for the same seed', () => {
  test('rand, randn, randint, randperm after manualSeed(0)', async () => {
    torch.manualSeed(0);
    const ours = [torch.rand([5]), torch.randn([2, 3]), torch.randint(0, 10, [6]), torch.randperm(8)];
    const reference = await oracle.run({
      code: '(torch.rand(5), torch.randn(2, 3), torch.randint(0, 10, (6,)), torch.randperm(8))',
    });
    ours.forEach((t, i) => assertClose(t, reference.outputs[i] as Tensor, {}, `generator ${i}`));
  });
});
