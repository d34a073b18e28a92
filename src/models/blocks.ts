// Residual blocks shared by the ImageNet ResNets (torchvision's BasicBlock and Bottleneck, with a
// conv+BN `downsample` shortcut) and the CIFAR ResNets (BasicBlock with akamaster's parameter-free
// `shortcut`). Parameter names and registration order are torchvision's, so state dicts line up.
import { tidy, type Tensor } from '../torch/index.js';
import { BatchNorm2d, Conv2d, Module, Sequential, type FactoryOptions } from '../torch/nn/index.js';

export type BlockKind = 'basic' | 'bottleneck';

/** Output channels per `planes` of each block kind. */
export const EXPANSION: Record<BlockKind, number> = { basic: 1, bottleneck: 4 };

export interface BlockSettings extends FactoryOptions {
  groups: number;
  widthPerGroup: number;
  bnEps: number;
  bnMomentum: number;
}

/** A bias-free square conv with 'same' padding for odd kernels, as torchvision's conv1x1/conv3x3. */
export function conv(inC: number, outC: number, kernel: number, stride: number, s: BlockSettings, groups = 1): Conv2d {
  const { device, dtype } = s;
  return new Conv2d(inC, outC, kernel, { stride, padding: (kernel - 1) >> 1, groups, bias: false, device, dtype });
}

export function bn(channels: number, s: BlockSettings): BatchNorm2d {
  return new BatchNorm2d(channels, { eps: s.bnEps, momentum: s.bnMomentum, device: s.device, dtype: s.dtype });
}

/** torchvision's downsample shortcut: 1x1 conv (with the block's stride) and BN. */
export function downsample(inC: number, outC: number, stride: number, s: BlockSettings): Sequential {
  return new Sequential(conv(inC, outC, 1, stride, s), bn(outC, s));
}

/** A shortcut module and the name it is registered under ('downsample' or akamaster's 'shortcut'). */
export interface Shortcut {
  name: string;
  module: Module;
}

/** relu(residual(x) + shortcut(x)); the last BN of the residual is what zero_init_residual zeroes. */
export abstract class ResidualBlock extends Module {
  abstract readonly lastBn: BatchNorm2d;
  #shortcut: Module | null = null;

  protected abstract residual(input: Tensor): Tensor;

  /** Subclasses call this after their own layers, so the shortcut comes last as in torchvision. */
  protected registerShortcut(shortcut: Shortcut | null): void {
    if (shortcut === null) return;
    this.#shortcut = this.registerModule(shortcut.name, shortcut.module);
  }

  // Inside a tidy so the block's intermediates are freed when it returns, not when the caller's
  // scope ends: that bounds the memory of a no-grad feature pass.
  override forward(input: Tensor): Tensor {
    return tidy(() => {
      const out = this.residual(input);
      const identity = this.#shortcut === null ? input : this.#shortcut.call(input);
      return out.add_(identity).relu_();
    });
  }
}

/** 3x3 conv, BN, ReLU, 3x3 conv, BN, plus the shortcut. */
export class BasicBlock extends ResidualBlock {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;

  constructor(inplanes: number, planes: number, stride: number, shortcut: Shortcut | null, s: BlockSettings) {
    super();
    if (s.groups !== 1 || s.widthPerGroup !== 64) {
      throw new Error('BasicBlock (depth 18/34) only supports GROUPS=1 and WIDTH_PER_GROUP=64, as torchvision');
    }
    this.conv1 = this.registerModule('conv1', conv(inplanes, planes, 3, stride, s));
    this.bn1 = this.registerModule('bn1', bn(planes, s));
    this.conv2 = this.registerModule('conv2', conv(planes, planes, 3, 1, s));
    this.bn2 = this.registerModule('bn2', bn(planes, s));
    this.registerShortcut(shortcut);
  }

  get lastBn(): BatchNorm2d {
    return this.bn2;
  }

  protected residual(input: Tensor): Tensor {
    const out = this.bn1.call(this.conv1.call(input)).relu_();
    return this.bn2.call(this.conv2.call(out));
  }
}

/** torchvision's Bottleneck (ResNet v1.5: the stride is on the 3x3 conv), grouped for ResNeXt. */
export class Bottleneck extends ResidualBlock {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;

  constructor(inplanes: number, planes: number, stride: number, shortcut: Shortcut | null, s: BlockSettings) {
    super();
    const width = Math.floor(planes * (s.widthPerGroup / 64)) * s.groups;
    const out = planes * EXPANSION.bottleneck;
    this.conv1 = this.registerModule('conv1', conv(inplanes, width, 1, 1, s));
    this.bn1 = this.registerModule('bn1', bn(width, s));
    this.conv2 = this.registerModule('conv2', conv(width, width, 3, stride, s, s.groups));
    this.bn2 = this.registerModule('bn2', bn(width, s));
    this.conv3 = this.registerModule('conv3', conv(width, out, 1, 1, s));
    this.bn3 = this.registerModule('bn3', bn(out, s));
    this.registerShortcut(shortcut);
  }

  get lastBn(): BatchNorm2d {
    return this.bn3;
  }

  protected residual(input: Tensor): Tensor {
    let out = this.bn1.call(this.conv1.call(input)).relu_();
    out = this.bn2.call(this.conv2.call(out)).relu_();
    return this.bn3.call(this.conv3.call(out));
  }
}
