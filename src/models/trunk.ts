// What every trunk shares: an ordered chain of named blocks, a mapping from VISSL's feature names
// (conv1, res1..res5, res5avg, flatten) to those blocks, and feature extraction by name that runs
// the chain only as far as the deepest requested block (VISSL's get_trunk_forward_outputs), with an
// optional pooling op per layer (LINEAR_EVAL_FEAT_POOL_OPS_MAP) and flattening.
import { tidy, type Tensor } from '../torch/index.js';
import { AdaptiveAvgPool2d, AvgPool2d, Identity, MaxPool2d, Module } from '../torch/nn/index.js';

type Pair = number | [number, number];

/**
 * A pooling op as VISSL's config writes it: the torch.nn class name and its positional arguments,
 * e.g. ['AvgPool2d', [[7, 7], 1, 0]], ['AdaptiveAvgPool2d', [[1, 1]]] or ['Identity', []].
 */
export type PoolOpSpec = [name: string, args: unknown[]];

/** One LINEAR_EVAL_FEAT_POOL_OPS_MAP entry: a feature name and the pool op applied to it. */
export type PoolOpsEntry = [layer: string, op: PoolOpSpec];

export interface FeatureOptions {
  /** A pool op per feature name; names without one are returned as the block produced them. */
  poolOps?: Readonly<Record<string, PoolOpSpec>>;
  /** Flatten each feature to N x D after pooling (FEATURE_EVAL_SETTINGS.SHOULD_FLATTEN_FEATS). */
  flatten?: boolean;
}

const POOL_OPS: Record<string, (args: unknown[]) => Module> = {
  // Positional arguments as torch.nn: (kernel_size, stride=None, padding=0, ceil_mode, count_include_pad).
  AvgPool2d: (args) => {
    const [kernel, stride, padding, ceilMode, countIncludePad] = args as [Pair, Pair?, Pair?, boolean?, boolean?];
    return new AvgPool2d(kernel, { stride: stride ?? undefined, padding, ceilMode, countIncludePad });
  },
  // (kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False)
  MaxPool2d: (args) => {
    const [kernel, stride, padding, dilation, , ceilMode] = args as [Pair, Pair?, Pair?, Pair?, boolean?, boolean?];
    return new MaxPool2d(kernel, { stride: stride ?? undefined, padding, dilation, ceilMode });
  },
  AdaptiveAvgPool2d: (args) => new AdaptiveAvgPool2d(args[0] as Pair),
  Identity: () => new Identity(),
};

/** Builds the module for a VISSL pool-op spec; unknown names list the supported ones. */
export function buildPoolOp(spec: PoolOpSpec): Module {
  const [name, args] = spec;
  const build = POOL_OPS[name];
  if (build === undefined) {
    throw new Error(
      `unknown pool op '${name}' in LINEAR_EVAL_FEAT_POOL_OPS_MAP: use one of ${Object.keys(POOL_OPS).join(', ')}`,
    );
  }
  if (!Array.isArray(args)) throw new Error(`pool op '${name}': its arguments must be a list, e.g. ['${name}', []]`);
  return build(args);
}

export abstract class Trunk extends Module {
  /** VISSL feature name -> block name (feat_eval_mapping), in the order of the blocks. */
  abstract readonly featureMapping: Readonly<Record<string, string>>;

  /** The blocks in the order they run. */
  protected abstract blocks(): Iterable<[string, Module]>;

  /** What the first block sees of a batch (VISSL's MODEL.INPUT_TYPE); the batch itself by default. */
  protected modelInput(input: Tensor): Tensor {
    return input;
  }

  /** The feature names this trunk accepts, shallowest first. */
  get featureNames(): string[] {
    return Object.keys(this.featureMapping);
  }

  /** The last block's output (VISSL's default trunk output: `flatten`, N x C). */
  override forward(input: Tensor): Tensor {
    const x = this.modelInput(input);
    let feature = x;
    for (const [, block] of this.blocks()) feature = this.#advance(block, feature, x, null);
    if (x !== input) x.dispose();
    return feature;
  }

  /**
   * The features named in `names` (VISSL names such as 'res5' or 'res5avg'), keyed by name in the
   * order asked. Blocks after the deepest requested one are not run. Block outputs that are not
   * returned are freed as soon as the next block has run.
   */
  features(input: Tensor, names: readonly string[], options: FeatureOptions = {}): Map<string, Tensor> {
    if (names.length === 0) throw new Error(`features: name at least one layer (${this.featureNames.join(', ')})`);
    const poolOps = this.#poolOps(names, options.poolOps ?? {});
    const unique = new Set(names);
    const wanted = new Map<string, string[]>();
    for (const name of unique) {
      const block = this.featureMapping[name];
      if (block === undefined) {
        throw new Error(
          `${this.constructor.name} has no feature '${name}': valid names are ${this.featureNames.join(', ')}`,
        );
      }
      wanted.set(block, [...(wanted.get(block) ?? []), name]);
    }
    const raw = new Map<string, Tensor>();
    const x = this.modelInput(input);
    let feature = x;
    for (const [blockName, block] of this.blocks()) {
      if (raw.size === unique.size) break;
      feature = this.#advance(block, feature, x, raw);
      for (const name of wanted.get(blockName) ?? []) raw.set(name, feature);
    }
    if (x !== input) x.dispose();
    return tidy(() => {
      const out = new Map<string, Tensor>();
      for (const name of names) {
        if (out.has(name)) continue;
        let value = raw.get(name)!;
        const pool = poolOps.get(name);
        if (pool !== undefined) value = pool.call(value);
        if (options.flatten) value = value.flatten(1);
        out.set(name, value);
      }
      // The raw block outputs were made outside this scope: free those the result does not hold.
      const kept = new Set(out.values());
      for (const value of new Set(raw.values())) if (!kept.has(value)) value.dispose();
      return out;
    });
  }

  /**
   * Runs one block and frees the previous output unless it is the input or a requested feature.
   * The block runs in its own tidy so that what it makes inside (the outputs between a stage's
   * residual blocks) is freed when it returns: a no-grad feature pass then holds about one stage's
   * activations at a time, not the whole network's until the caller's scope ends.
   */
  #advance(block: Module, feature: Tensor, input: Tensor, held: Map<string, Tensor> | null): Tensor {
    const next = tidy(() => block.call(feature));
    const isHeld = held !== null && [...held.values()].includes(feature);
    if (next !== feature && feature !== input && !isHeld) feature.dispose();
    return next;
  }

  #poolOps(names: readonly string[], specs: Readonly<Record<string, PoolOpSpec>>): Map<string, Module> {
    const ops = new Map<string, Module>();
    for (const [name, spec] of Object.entries(specs)) {
      if (!names.includes(name)) {
        throw new Error(`a pool op is given for '${name}', which is not among the requested features`);
      }
      ops.set(name, buildPoolOp(spec));
    }
    return ops;
  }
}
