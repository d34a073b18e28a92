// Runs PyTorch (Debian's python3-torch) beside the tests as a long-lived child process, so each
// parity check sends inputs and gets PyTorch's outputs and gradients back. See oracle.py.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { fromBytes, getNumThreads, setNumThreads, type DType, Tensor } from '../../src/torch/index.js';

interface EncodedTensor {
  dtype: DType;
  shape: number[];
  data: string;
}

interface Reply {
  outputs?: (EncodedTensor | number | null)[];
  grads?: Record<string, EncodedTensor | null>;
  error?: string;
  trace?: string;
}

export interface OracleResult {
  outputs: (Tensor | number | null)[];
  grads: Record<string, Tensor | null>;
}

export interface OracleRequest {
  /** A Python expression over the inputs, `torch` and `F`. */
  code: string;
  inputs?: Record<string, Tensor>;
  /** Inputs to differentiate with respect to. */
  grad?: string[];
  /** Upstream gradient for the first output (default: gradient of its sum). */
  gradOutput?: Tensor;
  /** Python statements run before `code`, sharing its namespace. */
  setup?: string;
  device?: string;
}

/** The oracle's intra-op thread count (oracle.py sets it). */
export const ORACLE_THREADS = 1;

/**
 * Runs `fn` with libtorch at the oracle's thread count. For long chains of reductions (a ResNet-50's
 * convolutions) libtorch 2.x's oneDNN picks its blocking, and so its summation order, by thread
 * count, which moves deep outputs by more than the float32 tolerance a same-order comparison can
 * use; at one thread count both sides do the same arithmetic (1.13's kernels did at any count).
 */
export function atOracleThreads<T>(fn: () => T): T {
  const threads = getNumThreads();
  setNumThreads(ORACLE_THREADS);
  try {
    return fn();
  } finally {
    setNumThreads(threads);
  }
}

/** The Python that has torch; Debian's python3-torch lives under /usr/bin/python3. */
export const PYTHON = process.env.CLUSTERFIT_PYTHON ?? '/usr/bin/python3';

// The oracle lives in the source tree (test/support), not in dist/.
const ORACLE_PY = join(
  resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..'),
  'test',
  'support',
  'oracle.py',
);

function encode(t: Tensor): EncodedTensor {
  const bytes = new Uint8Array(t.data().buffer);
  return { dtype: t.dtype, shape: t.shape, data: Buffer.from(bytes).toString('base64') };
}

function decode(spec: EncodedTensor | number | null): Tensor | number | null {
  if (spec === null || typeof spec === 'number') return spec;
  const bytes = Buffer.from(spec.data, 'base64');
  return fromBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), spec.shape, spec.dtype);
}

export class Oracle {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending: ((reply: Reply) => void)[] = [];
  private stderr = '';

  constructor() {
    this.child = spawn(PYTHON, [ORACLE_PY], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    createInterface({ input: this.child.stdout }).on('line', (line) =>
      this.pending.shift()?.(JSON.parse(line) as Reply),
    );
    this.child.on('exit', (code) => {
      for (const resolveReply of this.pending.splice(0)) {
        resolveReply({ error: `the PyTorch oracle (${PYTHON}) exited with ${code}: ${this.stderr}` });
      }
    });
  }

  async run(request: OracleRequest): Promise<OracleResult> {
    const message = {
      code: request.code,
      setup: request.setup ?? null,
      inputs: Object.fromEntries(Object.entries(request.inputs ?? {}).map(([k, v]) => [k, encode(v)])),
      grad: request.grad ?? [],
      gradOutput: request.gradOutput ? encode(request.gradOutput) : null,
      device: request.device ?? 'cpu',
    };
    const reply = await new Promise<Reply>((resolveReply) => {
      this.pending.push(resolveReply);
      this.child.stdin.write(JSON.stringify(message) + '\n');
    });
    if (reply.error)
      throw new Error(`PyTorch oracle failed on \`${request.code}\`: ${reply.error}\n${reply.trace ?? ''}`);
    return {
      outputs: (reply.outputs ?? []).map(decode),
      grads: Object.fromEntries(Object.entries(reply.grads ?? {}).map(([k, v]) => [k, decode(v) as Tensor | null])),
    };
  }

  close(): void {
    this.child.stdin.end();
  }
}
