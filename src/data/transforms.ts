// Transforms configured by VISSL's names and parameters ({name: 'RandomResizedCrop', size: 224}),
// split into the geometric part that runs per image on the workers (with sharp) and the
// photometric part that runs batched on tensors on the training device.
import { centerCropBox, randomResizedCropBox, resizedSize, type Box } from './crop-params.js';
import type { Rng } from './rng.js';

export interface TransformConfig {
  name: string;
  [param: string]: unknown;
}

export type GeometricStep =
  | { kind: 'Resize'; size: number | [number, number] }
  | { kind: 'CenterCrop'; size: [number, number] }
  | { kind: 'RandomResizedCrop'; size: [number, number]; scale: [number, number]; ratio: [number, number] }
  /** torchvision's RandomCrop: zero padding (left, top, right, bottom), then a random window. */
  | { kind: 'RandomCrop'; size: [number, number]; padding: [number, number, number, number]; padIfNeeded: boolean }
  | { kind: 'RandomHorizontalFlip'; p: number }
  /** VISSL's ImgRotatePil; `allRotations` is the Gidaris et al. RotNet variant (all four per image). */
  | { kind: 'ImgRotatePil'; numAngles: number; allRotations: boolean }
  /**
   * VISSL's MNISTImgPil2RGB: the image pasted with its top-left corner at `at` ([left, top]) onto a
   * black RGB canvas of `size` ([height, width]; null: the image's own size, pasted at [0, 0]).
   */
  | { kind: 'MNISTImgPil2RGB'; size: [number, number] | null; at: [number, number] };

export type PhotometricStep =
  | { kind: 'ColorJitter'; factors: JitterRanges }
  | { kind: 'RandomGrayscale'; p: number }
  | { kind: 'ToTensor' }
  | { kind: 'Normalize'; mean: number[]; std: number[] }
  /** VISSL's ImgPil2LabTensor: uint8 RGB to float LAB (src/data/lab.ts); the last step, instead of ToTensor. */
  | { kind: 'ImgPil2LabTensor' };

/** The range of each ColorJitter factor, or null when that adjustment is off (torchvision's None). */
export interface JitterRanges {
  brightness: [number, number] | null;
  contrast: [number, number] | null;
  saturation: [number, number] | null;
  hue: [number, number] | null;
}

/** A concrete geometric operation on one image; angles are counter-clockwise, the canvas is kept. */
export type GeometricOp =
  | { op: 'rotate'; angle: 0 | 90 | 180 | 270 }
  | { op: 'resize'; height: number; width: number }
  | { op: 'pad'; left: number; top: number; right: number; bottom: number }
  | { op: 'crop'; box: Box }
  | { op: 'flip' };

export interface Pipeline {
  geometric: GeometricStep[];
  photometric: PhotometricStep[];
  /** [height, width] of every output image; null when it follows the input's size (Resize to a
   * shorter side without a crop after it: the images must then all give one size). */
  outputSize: [number, number] | null;
  /** Outputs per input image: 4 for the all-rotations RotNet variant, else 1. */
  copies: number;
}

const PARAMS: Record<string, string[]> = {
  Resize: ['size', 'interpolation'],
  CenterCrop: ['size'],
  RandomCrop: ['size', 'padding', 'pad_if_needed', 'fill', 'padding_mode'],
  RandomResizedCrop: ['size', 'scale', 'ratio', 'interpolation'],
  RandomHorizontalFlip: ['p'],
  ImgRotatePil: ['num_angles', 'num_rotations_per_img'],
  MNISTImgPil2RGB: ['size', 'box'],
  ColorJitter: ['brightness', 'contrast', 'saturation', 'hue'],
  RandomGrayscale: ['p'],
  ToTensor: [],
  Normalize: ['mean', 'std'],
  // VISSL reads `indices` and never uses it.
  ImgPil2LabTensor: ['indices'],
};

function fail(config: TransformConfig, message: string): never {
  throw new Error(`transform ${JSON.stringify(config)}: ${message}`);
}

function pair(config: TransformConfig, key: string, fallback?: [number, number]): [number, number] {
  const value = config[key] ?? fallback;
  if (typeof value === 'number') return [value, value];
  if (typeof value === 'number' && Number.isFinite(value)) return [value, value];
  if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number' && Number.isFinite(v)))
    return value as [number, number];
  return fail(config, `'${key}' must be a finite number or a list of two finite numbers`);
}

/** An output size: positive integers, as torchvision requires. */
function sizePair(config: TransformConfig): [number, number] {
  const size = pair(config, 'size');
  if (!size.every((n) => Number.isInteger(n) && n >= 1)) fail(config, `'size' must be positive integers`);
  return size;
}

/** A range [a, b] with 0 < a <= b (RandomResizedCrop's scale and ratio). */
function rangePair(config: TransformConfig, key: string, fallback: [number, number]): [number, number] {
  const range = pair(config, key, fallback);
  if (!(range[0] > 0 && range[0] <= range[1])) fail(config, `'${key}' must be [min, max] with 0 < min <= max`);
  return range;
}

function numberParam(config: TransformConfig, key: string, fallback: number): number {
  const value = config[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(config, `'${key}' must be a finite number`);
  return value;
}

function probability(config: TransformConfig, key: string, fallback: number): number {
  const p = numberParam(config, key, fallback);
  if (!(p >= 0 && p <= 1)) fail(config, `'${key}' must lie in [0, 1]`);
  return p;
}

/** torchvision ColorJitter._check_input: v means [1 - v, 1 + v] (hue: [-v, v]); [c, c] means off. */
function jitterRange(config: TransformConfig, key: string, center: number): [number, number] | null {
  const value = config[key];
  if (value === undefined || value === 0) return null;
  if (typeof value === 'number' && !(value >= 0 && Number.isFinite(value)))
    fail(config, `'${key}' must be a finite number >= 0`);
  const range: [number, number] =
    typeof value === 'number'
      ? [Math.max(center - value, center === 1 ? 0 : -value), center + value]
      : pair(config, key);
  if (center === 0 && (range[0] < -0.5 || range[1] > 0.5)) fail(config, `hue must lie in [-0.5, 0.5]`);
  return range[0] === center && range[1] === center ? null : range;
}

function parseGeometric(config: TransformConfig): GeometricStep | null {
  if ('interpolation' in config && config.interpolation !== 'bilinear' && config.interpolation !== 2) {
    fail(config, 'only bilinear interpolation (the default) is supported');
  }
  switch (config.name) {
    case 'Resize':
      return { kind: 'Resize', size: typeof config.size === 'number' ? sizePair(config)[0] : sizePair(config) };
    case 'CenterCrop':
      return { kind: 'CenterCrop', size: sizePair(config) };
    case 'RandomResizedCrop':
      return {
        kind: 'RandomResizedCrop',
        size: sizePair(config),
        scale: rangePair(config, 'scale', [0.08, 1]),
        ratio: rangePair(config, 'ratio', [3 / 4, 4 / 3]),
      };
    case 'RandomCrop':
      return parseRandomCrop(config);
    case 'RandomHorizontalFlip':
      return { kind: 'RandomHorizontalFlip', p: probability(config, 'p', 0.5) };
    case 'ImgRotatePil': {
      const perImage = numberParam(config, 'num_rotations_per_img', 1);
      const numAngles = numberParam(config, 'num_angles', 4);
      if (numAngles !== 4) fail(config, 'only num_angles 4 (multiples of 90 degrees) is supported');
      if (perImage !== 1 && perImage !== 4)
        fail(config, 'num_rotations_per_img must be 1 (VISSL) or 4 (all rotations in the batch)');
      return { kind: 'ImgRotatePil', numAngles, allRotations: perImage === 4 };
    }
    case 'MNISTImgPil2RGB':
      return parsePaste(config);
    default:
      return null;
  }
}

/**
 * VISSL's MNISTImgPil2RGB(size, box): PIL's Image.new('RGB', size) and paste(image, box). PIL sizes
 * are (width, height); an empty size (the default) keeps the image's size and ignores the box. The
 * grey-to-RGB conversion it exists for is done when torchvision's files are read.
 */
function parsePaste(config: TransformConfig): GeometricStep {
  const size = config.size ?? [];
  const integers = (value: unknown, min: number) =>
    Array.isArray(value) && value.length === 2 && value.every((v) => Number.isInteger(v) && v >= min);
  const box = config.box ?? [0, 0];
  if (!integers(box, -Infinity)) fail(config, "'box' must be a list of two integers [left, top]");
  if (Array.isArray(size) && size.length === 0) return { kind: 'MNISTImgPil2RGB', size: null, at: [0, 0] };
  const wh = typeof size === 'number' ? [size, size] : size;
  if (!integers(wh, 1)) fail(config, "'size' must be a positive integer or a list of two, [width, height] as PIL's");
  const [width, height] = wh as [number, number];
  return { kind: 'MNISTImgPil2RGB', size: [height, width], at: box as [number, number] };
}

/** torchvision's RandomCrop(size, padding=None, pad_if_needed=False, fill=0, padding_mode='constant'). */
function parseRandomCrop(config: TransformConfig): GeometricStep {
  if ((config.fill ?? 0) !== 0) fail(config, 'only fill 0 (the default) is supported');
  if ((config.padding_mode ?? 'constant') !== 'constant') fail(config, "only padding_mode 'constant' is supported");
  const padding = config.padding ?? 0;
  let pad: [number, number, number, number];
  if (typeof padding === 'number') pad = [padding, padding, padding, padding];
  else if (Array.isArray(padding) && padding.length === 2) pad = [padding[0], padding[1], padding[0], padding[1]];
  else if (Array.isArray(padding) && padding.length === 4) pad = padding as [number, number, number, number];
  else return fail(config, "'padding' must be a number or a list of 2 or 4 numbers");
  if (!pad.every((p) => Number.isInteger(p) && p >= 0)) fail(config, "'padding' must be non-negative integers");
  const padIfNeeded = config.pad_if_needed ?? false;
  if (typeof padIfNeeded !== 'boolean') fail(config, "'pad_if_needed' must be true or false");
  return { kind: 'RandomCrop', size: pair(config, 'size'), padding: pad, padIfNeeded };
}

function parsePhotometric(config: TransformConfig): PhotometricStep {
  switch (config.name) {
    case 'ColorJitter':
      return {
        kind: 'ColorJitter',
        factors: {
          brightness: jitterRange(config, 'brightness', 1),
          contrast: jitterRange(config, 'contrast', 1),
          saturation: jitterRange(config, 'saturation', 1),
          hue: jitterRange(config, 'hue', 0),
        },
      };
    case 'RandomGrayscale':
      return { kind: 'RandomGrayscale', p: probability(config, 'p', 0.1) };
    case 'ToTensor':
      return { kind: 'ToTensor' };
    case 'ImgPil2LabTensor':
      return { kind: 'ImgPil2LabTensor' };
    case 'Normalize': {
      const [mean, std] = [config.mean, config.std];
      const finite = (list: unknown) =>
        Array.isArray(list) && list.length === 3 && list.every((v) => typeof v === 'number' && Number.isFinite(v));
      if (!finite(mean) || !finite(std)) fail(config, "'mean' and 'std' must be lists of 3 finite numbers");
      // torchvision refuses it too: dividing by zero would make every pixel inf or NaN.
      if (!(std as number[]).every((s) => s > 0)) fail(config, "'std' must be positive (a zero std divides by zero)");
      return { kind: 'Normalize', mean: mean as number[], std: std as number[] };
    }
    default:
      return fail(config, `unknown transform; supported: ${Object.keys(PARAMS).join(', ')}`);
  }
}

/** The output size after the steps, when it does not depend on the input size. */
function fixedOutputSize(steps: GeometricStep[]): [number, number] | null {
  let size: [number, number] | null = null;
  for (const step of steps) {
    if (step.kind === 'CenterCrop' || step.kind === 'RandomResizedCrop' || step.kind === 'RandomCrop') size = step.size;
    if (step.kind === 'MNISTImgPil2RGB' && step.size !== null) size = step.size;
    if (step.kind === 'Resize') size = Array.isArray(step.size) ? step.size : null;
  }
  return size;
}

/** The [height, width] the steps turn an image of the given size into. */
export function outputSizeFor(steps: GeometricStep[], height: number, width: number): [number, number] {
  let size: [number, number] = [height, width];
  for (const step of steps) {
    if (step.kind === 'CenterCrop' || step.kind === 'RandomResizedCrop' || step.kind === 'RandomCrop') size = step.size;
    if (step.kind === 'MNISTImgPil2RGB' && step.size !== null) size = step.size;
    if (step.kind === 'Resize') size = resizedSize(size[0], size[1], step.size);
  }
  return size;
}

/** Parses a VISSL transform list (DATA.TRAIN.TRANSFORMS). */
export function parseTransforms(configs: TransformConfig[]): Pipeline {
  const geometric: GeometricStep[] = [];
  const photometric: PhotometricStep[] = [];
  for (const config of configs) {
    const unknown = Object.keys(config).filter((k) => k !== 'name' && !(PARAMS[config.name] ?? []).includes(k));
    if (PARAMS[config.name] && unknown.length > 0)
      fail(config, `unknown parameter(s) ${unknown.join(', ')}; known: ${PARAMS[config.name]?.join(', ')}`);
    const step = parseGeometric(config);
    if (step === null) {
      photometric.push(parsePhotometric(config));
      continue;
    }
    // Flips commute with per-pixel colour changes; crops, resizes and rotations (black bars) change
    // the image statistics ColorJitter's contrast uses, so those must come before it.
    if (step.kind !== 'RandomHorizontalFlip' && photometric.length > 0) {
      fail(
        config,
        'geometric transforms (crops, resizes, rotations) must come before ColorJitter, RandomGrayscale, ToTensor and Normalize',
      );
    }
    geometric.push(step);
  }
  const lab = photometric.findIndex((s) => s.kind === 'ImgPil2LabTensor');
  // VISSL's ImgPil2LabTensor takes a PIL image and returns a tensor: nothing tensor-valued may come
  // before it, and the PIL-only transforms all run before it here.
  if (lab >= 0 && photometric.length > 1) {
    throw new Error(
      'transforms: ImgPil2LabTensor must be the only photometric transform and come last (it replaces ToTensor; ColorJitter, RandomGrayscale and Normalize are not supported with it)',
    );
  }
  const normalize = photometric.findIndex((s) => s.kind === 'Normalize');
  if (normalize >= 0 && !photometric.slice(0, normalize).some((s) => s.kind === 'ToTensor')) {
    throw new Error('transforms: Normalize needs ToTensor before it (it works on [0, 1] floats)');
  }
  const needsFloat = photometric.some((s) => s.kind === 'ColorJitter' || s.kind === 'RandomGrayscale');
  if (needsFloat && !photometric.some((s) => s.kind === 'ToTensor')) {
    throw new Error(
      'transforms: ColorJitter and RandomGrayscale run batched on [0, 1] float tensors here; add ToTensor to the list',
    );
  }
  // Without a fixed size (VISSL's `Resize: 224` alone, for square images), the loader takes the
  // first image's output size and names any image that comes out different.
  const outputSize = fixedOutputSize(geometric);
  const copies = geometric.some((s) => s.kind === 'ImgRotatePil' && s.allRotations) ? 4 : 1;
  return { geometric, photometric, outputSize, copies };
}

/** The random draws of RandomResizedCrop, from our per-sample generator. */
function drawsFrom(rng: Rng): {
  uniform(low: number, high: number): number;
  randint(low: number, high: number): number;
} {
  return { uniform: (low, high) => rng.uniformRange(low, high), randint: (low, high) => rng.randint(low, high) };
}

/**
 * Turns the steps into concrete operations for one image of the given size: draws the random
 * parameters from `rng` and tracks the size through the steps. `copy` picks the rotation of the
 * all-rotations variant. Returns the operations and the label a rotation sets (else null).
 */
export function planGeometry(
  steps: GeometricStep[],
  height: number,
  width: number,
  rng: Rng,
  copy: number,
): { ops: GeometricOp[]; label: number | null } {
  const ops: GeometricOp[] = [];
  let [h, w] = [height, width];
  let label: number | null = null;
  for (const step of steps) {
    switch (step.kind) {
      case 'ImgRotatePil': {
        label = step.allRotations ? copy : rng.randint(0, step.numAngles);
        ops.push({ op: 'rotate', angle: ((label * 360) / step.numAngles) as 0 | 90 | 180 | 270 });
        break;
      }
      case 'Resize':
        [h, w] = resizedSize(h, w, step.size);
        ops.push({ op: 'resize', height: h, width: w });
        break;
      case 'CenterCrop': {
        const { pad, box } = centerCropBox(h, w, step.size);
        if (pad.some((p) => p > 0)) ops.push({ op: 'pad', left: pad[0], top: pad[1], right: pad[2], bottom: pad[3] });
        ops.push({ op: 'crop', box });
        [h, w] = step.size;
        break;
      }
      case 'RandomResizedCrop': {
        const box = randomResizedCropBox(h, w, step.scale, step.ratio, drawsFrom(rng));
        ops.push({ op: 'crop', box }, { op: 'resize', height: step.size[0], width: step.size[1] });
        [h, w] = step.size;
        break;
      }
      case 'RandomCrop': {
        let [left, top, right, bottom] = step.padding;
        const [cropH, cropW] = step.size;
        if (step.padIfNeeded && w + left + right < cropW) {
          const extra = cropW - (w + left + right);
          [left, right] = [left + extra, right + extra];
        }
        if (step.padIfNeeded && h + top + bottom < cropH) {
          const extra = cropH - (h + top + bottom);
          [top, bottom] = [top + extra, bottom + extra];
        }
        if (left + top + right + bottom > 0) ops.push({ op: 'pad', left, top, right, bottom });
        [h, w] = [h + top + bottom, w + left + right];
        if (h < cropH || w < cropW)
          throw new Error(`RandomCrop ${cropH}x${cropW} is larger than the ${h}x${w} image (set pad_if_needed: True)`);
        const box = {
          top: rng.randint(0, h - cropH + 1),
          left: rng.randint(0, w - cropW + 1),
          height: cropH,
          width: cropW,
        };
        ops.push({ op: 'crop', box });
        [h, w] = [cropH, cropW];
        break;
      }
      case 'RandomHorizontalFlip':
        if (rng.uniform() < step.p) ops.push({ op: 'flip' });
        break;
      case 'MNISTImgPil2RGB': {
        if (step.size === null) break;
        // The canvas shows the image from -left, -top on: pad where the canvas reaches past the
        // image, crop where the image reaches past the canvas.
        const [canvasH, canvasW] = step.size;
        const [x, y] = step.at;
        const pad = {
          left: Math.max(x, 0),
          top: Math.max(y, 0),
          right: Math.max(canvasW - x - w, 0),
          bottom: Math.max(canvasH - y - h, 0),
        };
        if (pad.left + pad.top + pad.right + pad.bottom > 0) ops.push({ op: 'pad', ...pad });
        const box = { left: Math.max(-x, 0), top: Math.max(-y, 0), width: canvasW, height: canvasH };
        if (box.left > 0 || box.top > 0 || w + pad.left + pad.right > canvasW || h + pad.top + pad.bottom > canvasH)
          ops.push({ op: 'crop', box });
        [h, w] = step.size;
        break;
      }
    }
  }
  return { ops, label };
}
