// DistributedDataParallel over c10d's own bucketed gradient reducer (the C++ half of PyTorch's
// DDP): gradients are averaged across ranks during backward, bucket by bucket as they become
// ready, so communication overlaps the rest of the backward pass.
import { isGradEnabled } from '../autograd.js';
import { Module, type AnyModule } from '../nn/module.js';
import { tensor } from '../ops/creation.js';
import { Tensor } from '../tensor.js';
import { broadcastCoalesced, allGather } from './collectives.js';
import { distNative } from './native.js';
import { getRank, getWorldSize, requireInitialized } from './process-group.js';

export interface DdpOptions {
  /** Gradient bucket size in MiB (default 25, as PyTorch). */
  bucketCapMb?: number;
  /** Copy rank 0's buffers (BatchNorm running statistics) to every rank before each forward (default true). */
  broadcastBuffers?: boolean;
  /** Search the forward's outputs for parameters that got no gradient (default false). */
  findUnusedParameters?: boolean;
}

// PyTorch's values: the first bucket is small so that communication starts early, and module
// state is broadcast in 250 MiB pieces.
const FIRST_BUCKET_BYTES = 1024 * 1024;
const BROADCAST_BUFFER_BYTES = 250 * 1024 * 1024;

type InputsOf<M> = M extends Module<infer I, unknown> ? I : never;
type OutputOf<M> = M extends Module<never, infer O> ? O : never;

/** Every tensor inside a forward's output (a tensor, or arrays and objects of them). */
function tensorsIn(value: unknown, out: Tensor[] = []): Tensor[] {
  if (value instanceof Tensor) out.push(value);
  else if (Array.isArray(value)) for (const v of value) tensorsIn(v, out);
  else if (value !== null && typeof value === 'object') for (const v of Object.values(value)) tensorsIn(v, out);
  return out;
}

/**
 * Wraps `module` for data-parallel training: at construction every rank checks it holds the same
 * parameter shapes and takes rank 0's parameters and buffers; each `call` prepares the reducer
 * (and, with broadcastBuffers, takes rank 0's buffers); the following backward leaves the
 * average gradient of all ranks in every parameter's `.grad`. Build it after moving the module
 * to its device, and give the optimizer its parameters (ddp.parameters() or ddp.module's).
 */
export class DistributedDataParallel<M extends AnyModule> extends Module<InputsOf<M>, OutputOf<M>> {
  readonly module: M;
  readonly broadcastBuffers: boolean;
  readonly findUnusedParameters: boolean;
  #reducer: number | null;
  #syncGradients = true;
  // PyTorch syncs buffers before a forward only if the previous forward synchronized gradients.
  #syncBuffersNext = true;

  constructor(module: M, options: DdpOptions = {}) {
    super();
    requireInitialized('DistributedDataParallel');
    const { bucketCapMb = 25, broadcastBuffers = true, findUnusedParameters = false } = options;
    if (!(bucketCapMb > 0))
      throw new RangeError(`DistributedDataParallel: bucketCapMb must be positive (got ${bucketCapMb})`);
    this.module = this.registerModule('module', module);
    this.broadcastBuffers = broadcastBuffers;
    this.findUnusedParameters = findUnusedParameters;
    const params = module.parameters().filter((p) => p.requiresGrad);
    this.#checkSameModelEverywhere(params);
    broadcastCoalesced([...params, ...module.buffers()], 0, BROADCAST_BUFFER_BYTES);
    this.#reducer = distNative.ddpCreate(
      params.map((p) => p.handle),
      Math.round(bucketCapMb * 1024 * 1024),
      FIRST_BUCKET_BYTES,
      findUnusedParameters,
    );
  }

  // The Reducer assumes identical parameter lists; a mismatch would otherwise show up as garbage
  // gradients or a hang, so compare counts and sizes first.
  #checkSameModelEverywhere(params: Tensor[]): void {
    const sizes = params.map((p) => p.numel);
    let hash = 0;
    for (const n of sizes) hash = (hash * 31 + n) % 1_000_003;
    using mine = tensor([params.length, sizes.reduce((a, b) => a + b, 0), hash], { dtype: 'float64' });
    const all = allGather(mine);
    const rows = all.map((t) => t.toArray());
    for (const t of all) t.dispose();
    const differs = rows.findIndex((row) => row.some((v, i) => v !== rows[getRank()]![i]));
    if (differs >= 0) {
      const [count, numel] = rows[differs]!;
      throw new Error(
        `DistributedDataParallel: rank ${getRank()} has ${params.length} parameters (${rows[getRank()]![1]} values) ` +
          `but rank ${differs} has ${count} (${numel} values) or other shapes: every rank must build the same model`,
      );
    }
  }

  override forward(...inputs: InputsOf<M>): OutputOf<M> {
    const reducer = this.#reducerId();
    const gradEnabled = isGradEnabled();
    const sync = gradEnabled && this.#syncGradients;
    if (gradEnabled) distNative.ddpPrepareForward(reducer, sync);
    if (this.broadcastBuffers && this.#syncBuffersNext && getWorldSize() > 1) {
      const buffers = this.module.buffers();
      if (buffers.length > 0) broadcastCoalesced(buffers, 0, BROADCAST_BUFFER_BYTES);
    }
    const output = (this.module.call as (...args: InputsOf<M>) => OutputOf<M>)(...inputs);
    if (sync) {
      const outputs = this.findUnusedParameters ? tensorsIn(output).map((t) => t.handle) : [];
      distNative.ddpPrepareBackward(reducer, outputs);
      this.#syncBuffersNext = true;
    } else {
      this.#syncBuffersNext = false;
    }
    return output;
  }

  /**
   * Runs `fn` (forwards and backwards) without averaging gradients: they accumulate locally until
   * the next synchronized backward, as torch's no_sync().
   */
  noSync<T>(fn: () => T): T {
    const previous = this.#syncGradients;
    this.#syncGradients = false;
    try {
      return fn();
    } finally {
      this.#syncGradients = previous;
    }
  }

  #reducerId(): number {
    if (this.#reducer === null) throw new Error('DistributedDataParallel: used after dispose()');
    return this.#reducer;
  }

  /** Releases the reducer (its autograd hooks) and the wrapped module's tensors. */
  override dispose(): void {
    if (this.#reducer !== null) distNative.ddpDestroy(this.#reducer);
    this.#reducer = null;
    super.dispose();
  }
}
