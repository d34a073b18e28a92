// VISSL's ResNeXt trunk (vissl/models/trunks/resnext.py, registered as "resnet"): torchvision's
// ResNet blocks laid out as a ModuleDict `_feature_blocks` (conv1, bn1, conv1_relu, maxpool,
// layer1..layer4, avgpool, flatten), so state-dict names are VISSL's ('_feature_blocks.layer1.0.
// conv1.weight') and torchvision's without the '_feature_blocks.' prefix.
//
// Widths follow VISSL: WIDTH_MULTIPLIER scales the stem and every stage's `planes` (64 * w); a
// Bottleneck's inner width is int(planes * WIDTH_PER_GROUP / 64) * GROUPS, as torchvision's ResNeXt.
// So WIDTH_PER_GROUP=128 is torchvision's wide_resnet50_2, GROUPS=32/WIDTH_PER_GROUP=4 its
// resnext50_32x4d, and WIDTH_MULTIPLIER=2 doubles every width (not the same as wide_resnet50_2).
//
// Depths 18 and 34 (BasicBlock) are an extension: VISSL's trunk only builds Bottleneck depths.
//
// Initialisation is torchvision's (kaiming_normal fan_out/relu convs, BN weight 1 and bias 0,
// ZERO_INIT_RESIDUAL zeroes each block's last BN weight). Note that VISSL itself re-creates conv1,
// bn1 and the four stages after torchvision's initialisation ran, so a VISSL model actually starts
// from PyTorch's default conv init and its ZERO_INIT_RESIDUAL has no effect; we follow torchvision.
import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  Flatten,
  MaxPool2d,
  ModuleDict,
  ReLU,
  Sequential,
  init,
  Module,
  type FactoryOptions,
  type StateDict,
} from '../torch/nn/index.js';
import {
  BasicBlock,
  Bottleneck,
  EXPANSION,
  ResidualBlock,
  bn,
  downsample,
  type BlockKind,
  type BlockSettings,
} from './blocks.js';
import { INPUT_TYPES, inputChannels, modelInput, type InputType } from './input-type.js';
import type { Tensor } from '../torch/index.js';
import { Trunk } from './trunk.js';

export interface ResNetOptions extends FactoryOptions {
  /** 18, 34 (BasicBlock) or 50, 101, 152, 200 (Bottleneck). */
  depth: number;
  widthMultiplier?: number;
  groups?: number;
  widthPerGroup?: number;
  zeroInitResidual?: boolean;
  /** Stride of layer4's first block: 2 (default) or 1 (a 2x larger res5 map). */
  layer4Stride?: number;
  /** VISSL's MODEL.INPUT_TYPE: rgb (default), bgr (channels reversed) or lab (conv1 sees L only). */
  inputType?: InputType;
  /** Batch-norm epsilon and momentum of every BN in the trunk. */
  bnEps?: number;
  bnMomentum?: number;
}

const LAYOUTS: Record<number, { kind: BlockKind; blocks: [number, number, number, number] }> = {
  18: { kind: 'basic', blocks: [2, 2, 2, 2] },
  34: { kind: 'basic', blocks: [3, 4, 6, 3] },
  50: { kind: 'bottleneck', blocks: [3, 4, 6, 3] },
  101: { kind: 'bottleneck', blocks: [3, 4, 23, 3] },
  152: { kind: 'bottleneck', blocks: [3, 8, 36, 3] },
  200: { kind: 'bottleneck', blocks: [3, 24, 36, 3] },
};

/** VISSL's "resnet" trunk. */
export class ResNeXt extends Trunk {
  readonly featureMapping = {
    conv1: 'conv1_relu',
    res1: 'maxpool',
    res2: 'layer1',
    res3: 'layer2',
    res4: 'layer3',
    res5: 'layer4',
    res5avg: 'avgpool',
    flatten: 'flatten',
  };
  readonly depth: number;
  /** Channels of the res5 output (2048 for ResNet-50, 512 for ResNet-18, times the width multiplier). */
  readonly outChannels: number;
  readonly #blocks: ModuleDict<Module>;
  readonly inputType: InputType;

  constructor(options: ResNetOptions) {
    super();
    const {
      depth,
      widthMultiplier = 1,
      groups = 1,
      widthPerGroup = 64,
      zeroInitResidual = false,
      layer4Stride = 2,
      inputType = 'rgb',
      bnEps = 1e-5,
      bnMomentum = 0.1,
      device,
      dtype,
    } = options;
    const layout = LAYOUTS[depth];
    if (layout === undefined) {
      throw new Error(`unsupported ResNet depth ${depth}: use one of ${Object.keys(LAYOUTS).join(', ')}`);
    }
    if (layer4Stride !== 1 && layer4Stride !== 2) throw new Error(`LAYER4_STRIDE must be 1 or 2 (got ${layer4Stride})`);
    for (const [name, value] of Object.entries({ widthMultiplier, groups, widthPerGroup })) {
      if (!Number.isInteger(value) || value < 1)
        throw new Error(`ResNet ${name} must be a positive integer (got ${value})`);
    }
    this.depth = depth;
    if (!(INPUT_TYPES as readonly string[]).includes(inputType))
      throw new Error(`MODEL.INPUT_TYPE must be one of ${INPUT_TYPES.join(', ')} (got '${inputType}')`);
    this.inputType = inputType;
    const s: BlockSettings = { groups, widthPerGroup, bnEps, bnMomentum, device, dtype };
    const stem = 64 * widthMultiplier;
    let inplanes = stem;
    const makeLayer = (planes: number, count: number, stride: number): Sequential => {
      const expanded = planes * EXPANSION[layout.kind];
      const layer = new Sequential();
      for (let i = 0; i < count; i++) {
        const blockStride = i === 0 ? stride : 1;
        const shortcut =
          i === 0 && (stride !== 1 || inplanes !== expanded)
            ? { name: 'downsample', module: downsample(inplanes, expanded, stride, s) }
            : null;
        const Block = layout.kind === 'basic' ? BasicBlock : Bottleneck;
        layer.append(new Block(inplanes, planes, blockStride, shortcut, s));
        inplanes = expanded;
      }
      return layer;
    };
    const [n1, n2, n3, n4] = layout.blocks;
    this.#blocks = this.registerModule(
      '_feature_blocks',
      new ModuleDict<Module>([
        ['conv1', new Conv2d(inputChannels(inputType), stem, 7, { stride: 2, padding: 3, bias: false, device, dtype })],
        ['bn1', bn(stem, s)],
        ['conv1_relu', new ReLU(true)],
        ['maxpool', new MaxPool2d(3, { stride: 2, padding: 1 })],
        ['layer1', makeLayer(stem, n1, 1)],
        ['layer2', makeLayer(stem * 2, n2, 2)],
        ['layer3', makeLayer(stem * 4, n3, 2)],
        ['layer4', makeLayer(stem * 8, n4, layer4Stride)],
        ['avgpool', new AdaptiveAvgPool2d(1)],
        ['flatten', new Flatten(1)],
      ]),
    );
    this.outChannels = inplanes;
    torchvisionInit(this, zeroInitResidual);
  }

  protected blocks(): Iterable<[string, Module]> {
    return this.#blocks.entries();
  }

  protected override modelInput(input: Tensor): Tensor {
    return modelInput(input, this.inputType);
  }
}

/** torchvision ResNet's initialisation loop. */
function torchvisionInit(model: Module, zeroInitResidual: boolean): void {
  for (const module of model.modules()) {
    if (module instanceof Conv2d) init.kaimingNormal_(module.weight, { mode: 'fan_out', nonlinearity: 'relu' });
    else if (module instanceof BatchNorm2d) {
      init.ones_(module.weight!);
      init.zeros_(module.bias!);
    }
  }
  if (!zeroInitResidual) return;
  for (const module of model.modules()) if (module instanceof ResidualBlock) init.zeros_(module.lastBn.weight!);
}

const VISSL_PREFIX = '_feature_blocks.';

/**
 * torchvision ResNet names ('layer1.0.conv1.weight') to the VISSL trunk's ('_feature_blocks.layer1.
 * 0.conv1.weight'). torchvision's classifier `fc.*` is not part of the trunk: it is left out and
 * listed in `dropped`. The result holds the same tensors as the input (no copies).
 */
export function torchvisionToVissl(state: StateDict): { stateDict: StateDict; dropped: string[] } {
  const stateDict: StateDict = {};
  const dropped: string[] = [];
  for (const [key, value] of Object.entries(state)) {
    if (key.startsWith('fc.')) dropped.push(key);
    else if (key.startsWith(VISSL_PREFIX)) {
      throw new Error(`torchvisionToVissl: '${key}' already has VISSL's '${VISSL_PREFIX}' prefix`);
    } else stateDict[VISSL_PREFIX + key] = value;
  }
  return { stateDict, dropped };
}

/**
 * VISSL trunk names to torchvision's (without '_feature_blocks.'). Every key must be a trunk key:
 * strip a model prefix such as 'trunk.' first. The result holds the same tensors as the input.
 */
export function visslToTorchvision(state: StateDict): StateDict {
  const out: StateDict = {};
  for (const [key, value] of Object.entries(state)) {
    if (!key.startsWith(VISSL_PREFIX)) {
      throw new Error(
        `visslToTorchvision: '${key}' is not a VISSL trunk key (they start with '${VISSL_PREFIX}'); remove prefixes such as 'trunk.' first and leave out head keys`,
      );
    }
    out[key.slice(VISSL_PREFIX.length)] = value;
  }
  return out;
}
