// The SSL model as VISSL builds it (BaseSSLMultiInputOutputModel): a `trunk` and a ModuleList of
// `heads`, so state-dict names are 'trunk._feature_blocks.conv1.weight' and 'heads.0.clf.0.weight'.
//
// In feature-evaluation mode (EVAL_MODE_ON, FREEZE_TRUNK_ONLY and a non-empty
// LINEAR_EVAL_FEAT_POOL_OPS_MAP) the trunk is VISSL's FeatureExtractorModel: the real trunk under
// `base_model` (names 'trunk.base_model._feature_blocks...', as VISSL's linear-eval checkpoints),
// frozen and always in eval mode, returning one pooled feature per map entry.
import type { Tensor } from '../torch/index.js';
import { Module, ModuleList, Sequential, type AnyModule, type FactoryOptions } from '../torch/nn/index.js';
import { CifarResNetTrunk } from './cifar-resnet.js';
import { buildHead, type HeadModuleSpec, type HeadSettings } from './heads.js';
import type { InputType } from './input-type.js';
import { ResNeXt } from './resnet.js';
import { buildPoolOp, type FeatureOptions, type PoolOpSpec, type PoolOpsEntry, type Trunk } from './trunk.js';

/** MODEL.TRUNK.RESNETS, VISSL's keys (CIFAR trunks read DEPTH only). */
export interface ResNetsConfig {
  DEPTH: number;
  WIDTH_MULTIPLIER: number;
  NORM: string;
  GROUPS: number;
  WIDTH_PER_GROUP: number;
  ZERO_INIT_RESIDUAL: boolean;
  LAYER4_STRIDE: number;
}

/** The part of VISSL's MODEL config that builds the model. */
export interface ModelConfig {
  /** VISSL's MODEL.INPUT_TYPE: what the trunk sees of the batch (rgb when absent). */
  INPUT_TYPE?: InputType;
  TRUNK: {
    /** 'resnet' (VISSL's ResNeXt) or 'cifar_resnet' (akamaster's CIFAR ResNet). */
    NAME: string;
    RESNETS: ResNetsConfig;
  };
  HEAD: {
    /** Heads, each one module ['mlp', {...}] or a chain of modules [['mlp', {...}], ...]. */
    PARAMS: (HeadModuleSpec | HeadModuleSpec[])[];
    BATCHNORM_EPS: number;
    BATCHNORM_MOMENTUM: number;
    PARAMS_MULTIPLIER?: number;
  };
  FEATURE_EVAL_SETTINGS: {
    EVAL_MODE_ON: boolean;
    FREEZE_TRUNK_ONLY: boolean;
    EXTRACT_TRUNK_FEATURES_ONLY: boolean;
    SHOULD_FLATTEN_FEATS: boolean;
    LINEAR_EVAL_FEAT_POOL_OPS_MAP: PoolOpsEntry[];
  };
}

export const TRUNK_NAMES = ['resnet', 'cifar_resnet'] as const;

export interface ModelConfigOptions {
  trunk?: 'resnet' | 'cifar_resnet';
  depth?: number;
  heads?: ModelConfig['HEAD']['PARAMS'];
  evalSettings?: Partial<ModelConfig['FEATURE_EVAL_SETTINGS']>;
}

/**
 * A MODEL config with VISSL's defaults (vissl/config/defaults.yaml) where not given: what the
 * config system produces, for building models from TypeScript without a YAML file.
 */
export function modelConfig(options: ModelConfigOptions = {}): ModelConfig {
  return {
    TRUNK: {
      NAME: options.trunk ?? 'resnet',
      RESNETS: {
        DEPTH: options.depth ?? 50,
        WIDTH_MULTIPLIER: 1,
        NORM: 'BatchNorm',
        GROUPS: 1,
        WIDTH_PER_GROUP: 64,
        ZERO_INIT_RESIDUAL: false,
        LAYER4_STRIDE: 2,
      },
    },
    HEAD: { PARAMS: options.heads ?? [], BATCHNORM_EPS: 1e-5, BATCHNORM_MOMENTUM: 0.1 },
    FEATURE_EVAL_SETTINGS: {
      EVAL_MODE_ON: false,
      FREEZE_TRUNK_ONLY: false,
      EXTRACT_TRUNK_FEATURES_ONLY: false,
      SHOULD_FLATTEN_FEATS: true,
      LINEAR_EVAL_FEAT_POOL_OPS_MAP: [],
      ...options.evalSettings,
    },
  };
}

/** Builds the trunk MODEL.TRUNK names. */
export function buildTrunk(config: Pick<ModelConfig, 'TRUNK' | 'INPUT_TYPE'>, options: FactoryOptions = {}): Trunk {
  const { NAME, RESNETS } = config.TRUNK;
  const inputType = config.INPUT_TYPE ?? 'rgb';
  if (RESNETS.NORM !== 'BatchNorm') {
    throw new Error(`TRUNK.RESNETS.NORM '${RESNETS.NORM}' is not supported: use BatchNorm`);
  }
  switch (NAME) {
    case 'resnet':
      return new ResNeXt({
        depth: RESNETS.DEPTH,
        widthMultiplier: RESNETS.WIDTH_MULTIPLIER,
        groups: RESNETS.GROUPS,
        widthPerGroup: RESNETS.WIDTH_PER_GROUP,
        zeroInitResidual: RESNETS.ZERO_INIT_RESIDUAL,
        layer4Stride: RESNETS.LAYER4_STRIDE,
        inputType,
        ...options,
      });
    case 'cifar_resnet':
      // VISSL's INPUT_TYPE is read by its resnet trunk; the CIFAR trunk (ours) takes RGB only.
      if (inputType !== 'rgb')
        throw new Error(`MODEL.INPUT_TYPE '${inputType}' needs MODEL.TRUNK.NAME resnet (cifar_resnet takes rgb only)`);
      return new CifarResNetTrunk({ depth: RESNETS.DEPTH, ...options });
    default:
      throw new Error(`unknown MODEL.TRUNK.NAME '${NAME}': use one of ${TRUNK_NAMES.join(', ')}`);
  }
}

/** VISSL's FeatureExtractorModel: a frozen trunk returning one pooled feature per requested layer. */
export class FeatureExtractor extends Module<[Tensor], Tensor[]> {
  readonly base_model: Trunk;
  /** The map's layer names, in its order; a layer may appear twice (VISSL's ImageNet linear config
   * puts an eval_mlp and an mlp head on res5avg), each entry then one output and one meter. */
  readonly layerNames: string[];
  readonly #entries: { name: string; spec: PoolOpSpec }[];
  readonly #flatten: boolean;

  constructor(trunk: Trunk, poolOps: PoolOpsEntry[], flatten: boolean) {
    super();
    this.base_model = this.registerModule('base_model', trunk);
    this.layerNames = poolOps.map(([name]) => name);
    this.#entries = poolOps.map(([name, spec]) => {
      buildPoolOp(spec); // fails now, at build time, on a bad spec
      return { name, spec };
    });
    this.#flatten = flatten;
    freeze(trunk);
  }

  /** The pooled (and, with SHOULD_FLATTEN_FEATS, flattened) features, one per map entry, in its order. */
  override forward(input: Tensor): Tensor[] {
    // One pass through the trunk for each distinct (layer, pool op); a repeated entry gets a copy.
    const firstSpec = new Map<string, PoolOpSpec>();
    for (const { name, spec } of this.#entries) if (!firstSpec.has(name)) firstSpec.set(name, spec);
    const features = this.base_model.features(input, [...firstSpec.keys()], {
      poolOps: Object.fromEntries(firstSpec),
      flatten: this.#flatten,
    });
    const used = new Set<string>();
    return this.#entries.map(({ name, spec }) => {
      if (JSON.stringify(spec) !== JSON.stringify(firstSpec.get(name))) {
        return this.base_model
          .features(input, [name], { poolOps: { [name]: spec }, flatten: this.#flatten })
          .get(name) as Tensor;
      }
      const feature = features.get(name) as Tensor;
      if (used.has(name)) return feature.clone();
      used.add(name);
      return feature;
    });
  }

  /** Features by name from the underlying trunk (see Trunk.features). */
  features(input: Tensor, names: readonly string[], options?: FeatureOptions): Map<string, Tensor> {
    return this.base_model.features(input, names, options);
  }

  // As VISSL's FeatureExtractorModel.train: the frozen trunk stays in eval mode (Module.train
  // reaches children through their own train(), so this holds when an ancestor switches modes).
  override train(mode = true): this {
    super.train(mode);
    this.base_model.eval();
    return this;
  }
}

function freeze(module: AnyModule): void {
  for (const p of module.parameters()) p.requiresGrad_(false);
}

/** VISSL's is_feature_extractor_model. */
function isFeatureExtractor(settings: ModelConfig['FEATURE_EVAL_SETTINGS']): boolean {
  return settings.EVAL_MODE_ON && settings.FREEZE_TRUNK_ONLY && settings.LINEAR_EVAL_FEAT_POOL_OPS_MAP.length > 0;
}

export class SSLModel extends Module<[Tensor], Tensor[]> {
  readonly trunk: Trunk | FeatureExtractor;
  readonly heads: ModuleList;
  #trunkFrozen = false;

  constructor(
    trunk: Trunk | FeatureExtractor,
    heads: Module[],
    readonly extractTrunkFeaturesOnly = false,
  ) {
    super();
    this.trunk = this.registerModule('trunk', trunk);
    this.heads = this.registerModule('heads', new ModuleList(heads));
    if (trunk instanceof FeatureExtractor) this.#trunkFrozen = true;
  }

  /**
   * VISSL's forward: the trunk's outputs (its last block, or one pooled feature per layer for a
   * feature extractor), then the heads: one head per feature, or all heads in sequence on a
   * single feature. With EXTRACT_TRUNK_FEATURES_ONLY, or without heads, the trunk's outputs are
   * returned as they are.
   */
  override forward(input: Tensor): Tensor[] {
    const feats = this.trunk instanceof FeatureExtractor ? this.trunk.call(input) : [this.trunk.call(input)];
    const heads = [...this.heads];
    // No heads (VISSL's extraction configs): the trunk's outputs are the model's.
    if (this.extractTrunkFeaturesOnly || heads.length === 0) return feats;
    if (feats.length === heads.length) {
      const outputs = feats.map((feat, i) => heads[i]!.call(feat) as Tensor);
      for (const feat of feats) feat.dispose();
      return outputs;
    }
    if (feats.length === 1 && heads.length > 1) {
      let output = feats[0]!;
      for (const head of heads) {
        const next = head.call(output) as Tensor;
        output.dispose();
        output = next;
      }
      return [output];
    }
    throw new Error(
      `the model has ${heads.length} head(s) for ${feats.length} trunk output(s): give one head per LINEAR_EVAL_FEAT_POOL_OPS_MAP layer, or one or more heads for a single trunk output`,
    );
  }

  /** Stops training the trunk: no gradients, and its BatchNorms stay in eval mode from now on. */
  freezeTrunk(): void {
    freeze(this.trunk);
    this.#trunkFrozen = true;
    this.trunk.eval();
  }

  get trunkFrozen(): boolean {
    return this.#trunkFrozen;
  }

  override train(mode = true): this {
    super.train(mode);
    if (this.#trunkFrozen) this.trunk.eval();
    return this;
  }
}

/** Builds VISSL's SSL model from a MODEL config. */
export function buildModel(config: ModelConfig, options: FactoryOptions = {}): SSLModel {
  const settings = config.FEATURE_EVAL_SETTINGS;
  let trunk: Trunk | FeatureExtractor = buildTrunk(config, options);
  if (isFeatureExtractor(settings)) {
    trunk = new FeatureExtractor(trunk, settings.LINEAR_EVAL_FEAT_POOL_OPS_MAP, settings.SHOULD_FLATTEN_FEATS);
  }
  const headSettings: HeadSettings = {
    bnEps: config.HEAD.BATCHNORM_EPS,
    bnMomentum: config.HEAD.BATCHNORM_MOMENTUM,
    paramsMultiplier: config.HEAD.PARAMS_MULTIPLIER ?? 1,
    ...options,
  };
  const heads = config.HEAD.PARAMS.map((spec) =>
    isChain(spec)
      ? new Sequential(...spec.map((part) => buildHead(part, headSettings)))
      : buildHead(spec, headSettings),
  );
  // VISSL builds the heads even when only trunk features are extracted (they are in its state
  // dicts; configs skip them with SKIP_LAYERS), but its forward then stops at the trunk.
  const extractOnly = settings.EVAL_MODE_ON && settings.EXTRACT_TRUNK_FEATURES_ONLY;
  const model = new SSLModel(trunk, heads, extractOnly);
  if (settings.EVAL_MODE_ON && settings.FREEZE_TRUNK_ONLY) model.freezeTrunk();
  return model;
}

function isChain(spec: HeadModuleSpec | HeadModuleSpec[]): spec is HeadModuleSpec[] {
  return Array.isArray(spec[0]);
}
