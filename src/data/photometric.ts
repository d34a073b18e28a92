// Photometric transforms, batched on tensors on the training device: ToTensor, ColorJitter,
// RandomGrayscale and Normalize with the formulas of torchvision's tensor implementation
// (transforms.functional_tensor, 0.14). Each output image draws its own factors from its own RNG.
import {
  cat,
  floor,
  gather,
  indexAdd,
  indexSelect,
  logicalAnd,
  maxDim,
  minDim,
  onesLike,
  remainder,
  select,
  stack,
  tensor,
  tidy,
  where,
  type Device,
  type Tensor,
} from '../torch/index.js';
import { rgbToVisslLab } from './lab.js';
import { Rng, Stream } from './rng.js';
import type { JitterRanges, PhotometricStep } from './transforms.js';

/** One output image's identity, which keys its random draws. */
export interface OutputKey {
  index: number;
  copy: number;
}

const JITTERS = ['brightness', 'contrast', 'saturation', 'hue'] as const;
type Jitter = (typeof JITTERS)[number];

/** torchvision ColorJitter.get_params: a random order of the four, then each enabled factor. */
export function drawJitter(ranges: JitterRanges, rng: Rng): { order: number[]; factors: number[] } {
  const order = rng.permutation(4);
  const factors = JITTERS.map((name) => {
    const range = ranges[name];
    return range === null ? NaN : rng.uniformRange(range[0], range[1]);
  });
  return { order, factors };
}

/** 0.2989 R + 0.587 G + 0.114 B, keeping a channel dimension of 1. */
function grayscale(x: Tensor): Tensor {
  return select(x, 1, 0)
    .mul(0.2989)
    .add(select(x, 1, 1).mul(0.587))
    .add(select(x, 1, 2).mul(0.114))
    .unsqueeze(1);
}

function blend(a: Tensor, b: Tensor, ratio: Tensor): Tensor {
  return a
    .mul(ratio)
    .add(b.mul(ratio.neg().add(1)))
    .clamp(0, 1);
}

function rgbToHsv(x: Tensor): Tensor {
  const [r, g, b] = [0, 1, 2].map((c) => select(x, 1, c)) as [Tensor, Tensor, Tensor];
  const maxc = maxDim(x, 1).values;
  const minc = minDim(x, 1).values;
  const eqc = maxc.eq(minc);
  const cr = maxc.sub(minc);
  const ones = onesLike(maxc);
  const s = cr.div(where(eqc, ones, maxc));
  const crDivisor = where(eqc, ones, cr);
  const [rc, gc, bc] = [r, g, b].map((c) => maxc.sub(c).div(crDivisor)) as [Tensor, Tensor, Tensor];
  const isR = maxc.eq(r);
  const isG = logicalAnd(maxc.eq(g), maxc.ne(r));
  const isB = logicalAnd(maxc.ne(g), maxc.ne(r));
  const h = isR
    .mul(bc.sub(gc))
    .add(isG.mul(rc.sub(bc).add(2)))
    .add(isB.mul(gc.sub(rc).add(4)));
  return stack([remainder(h.div(6).add(1), 1), s, maxc], 1);
}

function hsvToRgb(x: Tensor): Tensor {
  const [h, s, v] = [0, 1, 2].map((c) => select(x, 1, c)) as [Tensor, Tensor, Tensor];
  const i = floor(h.mul(6));
  const f = h.mul(6).sub(i);
  const sector = remainder(i, 6).long().unsqueeze(1);
  const p = v.mul(s.neg().add(1)).clamp(0, 1);
  const q = v.mul(s.mul(f).neg().add(1)).clamp(0, 1);
  const t = v.mul(s.mul(f.neg().add(1)).neg().add(1)).clamp(0, 1);
  const channel = (values: Tensor[]): Tensor => gather(stack(values, 1), 1, sector);
  return cat([channel([v, q, p, p, t, v]), channel([t, v, v, q, p, p]), channel([p, p, t, v, v, q])], 1);
}

/** One ColorJitter adjustment with per-image factors (shape [n, 1, 1, 1]). */
function adjust(name: Jitter, x: Tensor, factor: Tensor): Tensor {
  switch (name) {
    case 'brightness':
      return x.mul(factor).clamp(0, 1);
    case 'contrast':
      return blend(x, grayscale(x).mean([1, 2, 3], { keepdim: true }), factor);
    case 'saturation':
      return blend(x, grayscale(x), factor);
    case 'hue': {
      const hsv = rgbToHsv(x);
      const hue = remainder(select(hsv, 1, 0).add(factor.squeeze(1)), 1);
      return hsvToRgb(stack([hue, select(hsv, 1, 1), select(hsv, 1, 2)], 1));
    }
  }
}

/**
 * ColorJitter on a float batch: at each of the four positions of the random order, the images
 * whose order puts adjustment k there get adjustment k, with their own factor.
 */
function colorJitter(x: Tensor, ranges: JitterRanges, rngs: Rng[]): Tensor {
  const draws = rngs.map((rng) => drawJitter(ranges, rng));
  let out = x;
  for (let position = 0; position < 4; position++) {
    JITTERS.forEach((name, k) => {
      if (ranges[name] === null) return;
      const chosen = draws.flatMap((d, i) => (d.order[position] === k ? [i] : []));
      if (chosen.length === 0) return;
      const rows = tensor(Int32Array.from(chosen)).long().to(x.device);
      const factor = tensor(
        Float32Array.from(chosen, (i) => draws[i]?.factors[k] as number),
        { shape: [chosen.length, 1, 1, 1] },
      ).to(x.device);
      const before = indexSelect(out, 0, rows);
      out = indexAdd(out, 0, rows, adjust(name, before, factor).sub(before));
    });
  }
  return out;
}

function randomGrayscale(x: Tensor, p: number, rngs: Rng[]): Tensor {
  const flags = Uint8Array.from(rngs, (rng) => (rng.uniform() < p ? 1 : 0));
  const mask = tensor(flags, { shape: [flags.length, 1, 1, 1] })
    .bool()
    .to(x.device);
  return where(mask, grayscale(x).expand(...x.shape), x);
}

/**
 * Applies the photometric steps to a uint8 NCHW batch and returns it on `device`: float32 LAB
 * after ImgPil2LabTensor, float32 when ToTensor is among the steps (colour jitter and grayscale work on [0, 1] floats, so they require
 * it), uint8 otherwise.
 */
export function applyPhotometric(
  images: Tensor,
  steps: PhotometricStep[],
  keys: OutputKey[],
  seed: number,
  epoch: number,
  device: Device,
  copy: { nonBlocking?: boolean } = {},
): Tensor {
  return tidy(() => {
    // uint8 pixels cross to the device (a quarter of float32's bytes); the arithmetic runs there.
    const nchw = images.to(device, { nonBlocking: copy.nonBlocking ?? false }).contiguous();
    if (steps.some((s) => s.kind === 'ImgPil2LabTensor')) return rgbToVisslLab(nchw);
    if (!steps.some((s) => s.kind === 'ToTensor')) return nchw;
    const rngs = keys.map((k) => new Rng(seed, epoch, k.index, Stream.Photometric, k.copy));
    let x = nchw.float().div(255);
    for (const step of steps) {
      if (step.kind === 'ColorJitter') x = colorJitter(x, step.factors, rngs);
      else if (step.kind === 'RandomGrayscale') x = randomGrayscale(x, step.p, rngs);
      else if (step.kind === 'Normalize') {
        const mean = tensor(Float32Array.from(step.mean), { shape: [1, 3, 1, 1] }).to(device);
        const std = tensor(Float32Array.from(step.std), { shape: [1, 3, 1, 1] }).to(device);
        x = x.sub(mean).div(std);
      }
    }
    return x;
  });
}
