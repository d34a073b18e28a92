// VISSL's ImgPil2LabTensor (vissl/data/ssl_transforms/img_pil_to_lab_tensor.py), batched on tensors:
// OpenCV's 8-bit COLOR_BGR2LAB (sRGB D65; L scaled to [0, 255], a and b offset by 128, rounded),
// then VISSL's rescaling L * 100 / 255 - 50, a - 128, b - 128. The CIE formulas are OpenCV's
// documented ones in float64 arithmetic; OpenCV's 8-bit path itself interpolates a fixed-point
// lookup table, so its 8-bit values differ from these by up to 3 levels on some colours
// (test/data/lab.test.ts measures it).
import { cat, clamp, round, select, where, type Tensor } from '../torch/index.js';

// OpenCV's sRGB -> XYZ (D65) matrix, rows X, Y, Z, and the D65 white point it divides by.
const RGB_TO_XYZ = [
  [0.412453, 0.35758, 0.180423],
  [0.212671, 0.71516, 0.072169],
  [0.019334, 0.119193, 0.950227],
];
const WHITE = [0.950456, 1, 1.088754];
const EPSILON = 0.008856;

/** f(t) of CIE Lab: cube root above the threshold, the linear segment below. */
function labF(t: Tensor): Tensor {
  return where(t.gt(EPSILON), t.pow(1 / 3), t.mul(7.787).add(16 / 116));
}

/** N x 3 x H x W uint8 RGB to N x 3 x H x W float32 LAB as VISSL's ImgPil2LabTensor returns it. */
export function rgbToVisslLab(rgb: Tensor): Tensor {
  const x = rgb.double().div(255);
  const linear = where(x.le(0.04045), x.div(12.92), x.add(0.055).div(1.055).pow(2.4));
  const [r, g, b] = [0, 1, 2].map((c) => select(linear, 1, c));
  const xyz = RGB_TO_XYZ.map(([cr, cg, cb], i) => r!.mul(cr!).add(g!.mul(cg!)).add(b!.mul(cb!)).div(WHITE[i]!));
  const [fx, fy, fz] = xyz.map(labF) as [Tensor, Tensor, Tensor];
  const y = xyz[1]!;
  const l = where(y.gt(EPSILON), fy.mul(116).sub(16), y.mul(903.3));
  // OpenCV's 8-bit encoding (saturated), then VISSL's scaling of it in float32, as numpy does it.
  const l8 = clamp(round(l.mul(255 / 100)), 0, 255).float();
  const a8 = clamp(round(fx.sub(fy).mul(500).add(128)), 0, 255).float();
  const b8 = clamp(round(fy.sub(fz).mul(200).add(128)), 0, 255).float();
  return cat(
    [l8.mul(100 / 255).sub(50), a8.sub(128), b8.sub(128)].map((c) => c.unsqueeze(1)),
    1,
  );
}
