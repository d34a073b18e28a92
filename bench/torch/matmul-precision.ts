// What a bfloat16 matrix product buys on this CPU, at k-means shapes, ours and PyTorch's in one run:
// the distance GEMM of a row chunk X (rows x d, rows = the chunk k-means uses at that K, see
// chunkRows in src/cluster/assign.ts) by the centroids transposed (d x K, contiguous), as
//   * float32 mm    aten::mm in float32 (libtorch hands it to the system BLAS),
//   * float32 gemm_ our gemm_ (oneDNN's dnnl_sgemm where libtorch carries oneDNN; oneDNN 2.x logs
//                   no verbose line for it): k-means' float32 path,
//   * bfloat16 mm   aten::mm on inputs cast to bfloat16 once, outside the timing (bfloat16 output).
// The PyTorch peer (bench/peers/torch_matmul.py) times the two mm's; the variants and the two sides
// alternate round by round so machine load hits all alike. Each figure is the median of the rounds;
// "effective GFLOP/s" counts 2 rows d K flops per product, whatever the kernel does.
//
// Then, once per variant and d, a child process (of this script, or the peer) runs two products
// (the second timed) with ONEDNN_VERBOSE=1 and DNNL_VERBOSE=1 (oneDNN 2.6 reads both) and its
// oneDNN lines are printed: the implementation that ran (brg:avx512_core_bf16, an AMX brgemm,
// gemm:jit, ref, ...), or a plain statement that oneDNN printed nothing, i.e. libtorch did not
// route the product through it. The bfloat16 child runs again with oneDNN capped at AVX-512 without
// BF16 (ONEDNN_MAX_CPU_ISA), and the peer's with oneDNN off (ATen's own bfloat16 loop, what a CPU
// without AVX-512 gets), to show what CPUs without the bfloat16 instructions get.
//
//   node dist/bench/torch/matmul-precision.js [--d 256,2048] [--k 1000,4000,16000] [--rounds 3]
//     [--reps 2] [--threads 2]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chunkRows } from '../../src/cluster/index.js';
import * as torch from '../../src/torch/index.js';
import { median, peerScript, PYTHON, startPeer, type Peer } from '../support.js';

type Variant = 'float32 mm' | 'float32 gemm_' | 'bfloat16 mm';
const OUR_VARIANTS: Variant[] = ['float32 mm', 'float32 gemm_', 'bfloat16 mm'];
const PEER_VARIANTS: Variant[] = ['float32 mm', 'bfloat16 mm'];

interface Shape {
  rows: number;
  d: number;
  k: number;
}

const { values } = parseArgs({
  options: {
    d: { type: 'string', default: '256,2048' },
    k: { type: 'string', default: '1000,4000,16000' },
    rounds: { type: 'string', default: '3' },
    reps: { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
    // Internal: run one product of this shape and variant, for the ONEDNN_VERBOSE child.
    once: { type: 'string' },
  },
});
const threads = Number(values.threads);
const PEER_SCRIPT = peerScript('torch_matmul.py');
const VERBOSE_ENV = { ...process.env, ONEDNN_VERBOSE: '1', DNNL_VERBOSE: '1' };

// ---- our side -----------------------------------------------------------------------------------

/** The shape's inputs in float32 and bfloat16 (cast once), and the product each variant times. */
function ourProducts(shape: Shape): { run: Record<Variant, () => void>; dispose: () => void } {
  torch.manualSeed(0);
  const x = torch.randn([shape.rows, shape.d]);
  const centroidsT = torch.tidy(() => torch.randn([shape.k, shape.d]).t().contiguous());
  const x16 = x.to('bfloat16');
  const c16 = centroidsT.to('bfloat16');
  const out = torch.empty([shape.rows, shape.k]);
  return {
    run: {
      'float32 mm': () => torch.mm(x, centroidsT).dispose(),
      'float32 gemm_': () => torch.gemm_(out, x, centroidsT, { beta: 0 }),
      'bfloat16 mm': () => torch.mm(x16, c16).dispose(),
    },
    dispose: () => [x, centroidsT, x16, c16, out].forEach((t) => t.dispose()),
  };
}

function timeReps(fn: () => void, reps: number): number {
  fn(); // warm-up: oneDNN creates (JIT-compiles) its primitive on the first call
  const start = performance.now();
  for (let i = 0; i < reps; i++) fn();
  return (performance.now() - start) / 1000;
}

// ---- the PyTorch peer ---------------------------------------------------------------------------

type Ask = Peer['ask'];

const dtypeOf = (v: Variant): string => (v === 'bfloat16 mm' ? 'bfloat16' : 'float32');

// ---- oneDNN verbose children --------------------------------------------------------------------

/** The oneDNN lines one product printed (the exec lines and the ISA oneDNN dispatched for). */
function oneDnnLines(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => /^(onednn|dnnl)_verbose,/.test(l))
    .filter((l) => /,exec,|,isa:|,info,oneDNN/.test(l));
}

function showVerbose(
  who: string,
  variant: Variant,
  shape: Shape,
  run: { stdout: string; stderr: string; status: number | null },
): void {
  const lines = oneDnnLines(run.stdout);
  const exec = lines.filter((l) => l.includes(',exec,'));
  const timed = run.stdout.match(/^\{"seconds": ?([0-9.e-]+)\}$/m)?.[1];
  const took = timed === undefined ? '' : ` (the second product took ${(Number(timed) * 1000).toFixed(1)} ms)`;
  const head = `  ${who} ${variant}, ${shape.rows}x${shape.d} @ ${shape.d}x${shape.k}${took}:`;
  if (run.status !== 0) {
    const error = run.stderr.trim().split('\n').at(-1) ?? '';
    console.log(`${head} the child failed (exit ${run.status}): ${error}`);
  } else if (exec.length === 0 && variant === 'float32 gemm_') {
    // dnnl_sgemm is oneDNN's BLAS-style function, not a primitive: oneDNN 2.x logs no line for it.
    console.log(`${head} no exec line (expected: oneDNN 2.x does not log its dnnl_sgemm function)`);
  } else if (exec.length === 0) {
    console.log(`${head} oneDNN printed no exec line: libtorch did not run this product through oneDNN`);
  } else {
    console.log(`${head} ${exec.length} oneDNN exec line(s) (the first creates the primitive):`);
  }
  for (const line of lines) console.log(`    ${line}`);
}

/** Runs the one-product child (ours or the peer) with oneDNN's verbose output on; `oneDnn` false
 * turns libtorch's oneDNN use off (the peer only: torch.backends.mkldnn.flags(enabled=False)). */
function verboseChild(
  who: 'ours' | 'PyTorch',
  v: Variant,
  shape: Shape,
  options: { env?: NodeJS.ProcessEnv; oneDnn?: boolean } = {},
): void {
  const env = options.env ?? {};
  const request = JSON.stringify({ ...shape, variant: v, dtype: dtypeOf(v), threads, onednn: options.oneDnn ?? true });
  const [command, script] = who === 'ours' ? [process.execPath, fileURLToPath(import.meta.url)] : [PYTHON, PEER_SCRIPT];
  const run = spawnSync(command, [script, '--once', request], {
    env: { ...VERBOSE_ENV, ...env },
    encoding: 'utf8',
    timeout: 300_000,
  });
  const capped = env.ONEDNN_MAX_CPU_ISA === undefined ? '' : ` with ONEDNN_MAX_CPU_ISA=${env.ONEDNN_MAX_CPU_ISA}`;
  const off = options.oneDnn === false ? ' with oneDNN off' : '';
  showVerbose(`${who}${capped}${off}`, v, shape, run);
}

function verboseChildren(shape: Shape): void {
  for (const v of OUR_VARIANTS) verboseChild('ours', v, shape);
  for (const v of PEER_VARIANTS) verboseChild('PyTorch', v, shape);
  // What a CPU without AVX512-BF16 gets. With AVX-512 (Skylake/Cascade Lake class): oneDNN capped
  // at plain AVX-512. Without AVX-512 BW/VL/DQ, libtorch does not call oneDNN for bfloat16 products
  // but ATen's own loop; oneDNN capped at AVX2 would only fail (it has no bfloat16 matmul there), so
  // the peer runs that loop with oneDNN turned off, as torch.backends.mkldnn allows.
  const isa = 'AVX512_CORE';
  verboseChild('ours', 'bfloat16 mm', shape, { env: { ONEDNN_MAX_CPU_ISA: isa, DNNL_MAX_CPU_ISA: isa } });
  verboseChild('PyTorch', 'bfloat16 mm', shape, { oneDnn: false });
}

// ---- report -------------------------------------------------------------------------------------

function cpuSummary(): string {
  let text: string;
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return 'CPU: /proc/cpuinfo unreadable';
  }
  const model = text.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? 'unknown';
  const flags = new Set((text.match(/^flags\s*:(.*)$/m)?.[1] ?? '').trim().split(/\s+/));
  const wanted = ['avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_tile', 'amx_bf16', 'amx_int8'];
  const has = wanted.filter((f) => flags.has(f));
  const lacks = wanted.filter((f) => !flags.has(f));
  return `CPU: ${model}; has ${has.join(' ') || 'none of them'}; lacks ${lacks.join(' ') || 'none'}`;
}

async function benchmark(shape: Shape, ask: Ask, rounds: number, reps: number): Promise<void> {
  const ours = ourProducts(shape);
  const times = new Map<string, number[]>();
  const record = (key: string, s: number): void => void times.set(key, [...(times.get(key) ?? []), s]);
  try {
    for (let round = 0; round < rounds; round++) {
      // Alternate who goes first, and the variants' order, so a load spike does not always hit one.
      const order = round % 2 === 0 ? OUR_VARIANTS : [...OUR_VARIANTS].reverse();
      const peerOrder = round % 2 === 0 ? PEER_VARIANTS : [...PEER_VARIANTS].reverse();
      const runOurs = (): void => order.forEach((v) => record(`ours ${v}`, timeReps(ours.run[v], reps)));
      if (round % 2 === 0) runOurs();
      for (const v of peerOrder) {
        const reply = await ask({ kind: 'mm', ...shape, dtype: dtypeOf(v), reps });
        record(`PyTorch ${v}`, reply.seconds as number);
      }
      if (round % 2 === 1) runOurs();
    }
  } finally {
    ours.dispose();
  }
  const flops = 2 * shape.rows * shape.d * shape.k;
  const perProduct = (key: string): number => median(times.get(key)!) / reps;
  console.log(`d ${shape.d}, K ${shape.k}, rows ${shape.rows} (${(flops / 1e9).toFixed(2)} GFLOP per product):`);
  for (const who of ['ours', 'PyTorch']) {
    const variants = who === 'ours' ? OUR_VARIANTS : PEER_VARIANTS;
    const cells = variants.map((v) => {
      const s = perProduct(`${who} ${v}`);
      return `${v} ${(s * 1000).toFixed(1)} ms ${(flops / s / 1e9).toFixed(1)} GFLOP/s`;
    });
    const bf16 = perProduct(`${who} bfloat16 mm`);
    const ratios = [`bf16/fp32 mm ${(perProduct(`${who} float32 mm`) / bf16).toFixed(2)}x`];
    if (who === 'ours') ratios.push(`bf16/fp32 gemm_ ${(perProduct('ours float32 gemm_') / bf16).toFixed(2)}x`);
    console.log(`  ${who.padEnd(7)} ${cells.join(' | ')} | speed ratio ${ratios.join(', ')}`);
  }
}

async function main(): Promise<void> {
  const rounds = Number(values.rounds);
  const reps = Number(values.reps);
  const ds = values.d!.split(',').map(Number);
  const ks = values.k!.split(',').map(Number);
  torch.setNumThreads(threads);
  const peer = startPeer('torch_matmul.py');
  try {
    const info = await peer.ask({ kind: 'info' });
    await peer.ask({ kind: 'threads', threads });
    console.log(cpuSummary());
    console.log(
      `ours: libtorch ${torch.buildInfo().torchVersion}, OpenBLAS core ${torch.blasCore() ?? '(not OpenBLAS)'}, ` +
        `gemm_ through oneDNN sgemm: ${torch.hasFastGemm() ? 'yes' : 'no'}; peer: PyTorch ${String(info.torch)}; ` +
        `${threads} threads, median of ${rounds} alternating rounds of ${reps} products; speed ratio > 1: bfloat16 faster`,
    );
    for (const d of ds) {
      for (const [i, k] of ks.entries()) {
        const shape = { rows: chunkRows(k), d, k };
        // float32 and bfloat16 copies of X, C and the product, on each side.
        const bytes = 2 * (4 + 2) * (shape.rows * d + d * k + shape.rows * k);
        if (bytes > freemem() / 2) {
          console.log(`d ${d}, K ${k}: skipped, its inputs and products need ${(bytes / 2 ** 30).toFixed(1)} GiB`);
          continue;
        }
        await benchmark(shape, peer.ask, rounds, reps);
        if (i === 0) {
          console.log(`oneDNN verbose, one product per variant at d ${d}, K ${k}:`);
          verboseChildren(shape);
        }
      }
    }
  } finally {
    peer.close();
  }
}

if (values.once !== undefined) {
  const request = JSON.parse(values.once) as Shape & { variant: Variant; threads: number };
  torch.setNumThreads(request.threads);
  const products = ourProducts(request);
  console.log(JSON.stringify({ seconds: timeReps(products.run[request.variant], 1) }));
  products.dispose();
} else {
  await main();
}
