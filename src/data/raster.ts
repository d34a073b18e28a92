// Geometric operations on decoded 8-bit RGB images (HWC) in plain JS: crop, zero padding, quarter
// turns, horizontal flip and resize. The resize is PIL's antialiased bilinear resampling (what
// torchvision applies to PIL images) with PIL's arithmetic: a triangle filter stretched by the
// reduction factor, weights normalised and rounded to 22-bit fixed point, a horizontal pass rounded
// to 8 bits, then a vertical one. Doing this here rather than in libvips avoids a second sharp
// pipeline per image (each costs far more than the pixels) and gives torchvision's pixels.
import { quarterTurnOffset } from './crop-params.js';
import type { GeometricOp } from './transforms.js';

/** A view of HWC RGB pixels: `stride` bytes per row, the first pixel at `offset`. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  stride: number;
  offset: number;
}

export function rawImage(data: Uint8Array, width: number, height: number): RawImage {
  return { data, width, height, stride: width * 3, offset: 0 };
}

const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);
const ONE = 1 << PRECISION_BITS;

/** The input range and fixed-point weights of each output pixel along one axis (PIL's precompute_coeffs). */
interface Taps {
  first: Int32Array;
  count: Int32Array;
  weights: Int32Array;
  /** Weights per output (the longest range). */
  size: number;
}

function taps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the triangle reaches 1 pixel, widened when reducing (antialiasing)
  const inverse = 1 / filterScale;
  const size = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * size);
  const k = new Float64Array(size);
  for (let out = 0; out < outSize; out++) {
    const center = (out + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const n = Math.min(Math.trunc(center + support + 0.5), inSize) - lo;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const x = Math.abs((i + lo - center + 0.5) * inverse);
      k[i] = x < 1 ? 1 - x : 0;
      sum += k[i] as number;
    }
    for (let i = 0; i < n; i++) {
      const w = sum !== 0 ? (k[i] as number) / sum : (k[i] as number);
      weights[out * size + i] = Math.trunc(w < 0 ? -0.5 + w * ONE : 0.5 + w * ONE);
    }
    first[out] = lo;
    count[out] = n;
  }
  return { first, count, weights, size };
}

/**
 * Where a pass writes: channel c of pixel (x, y) goes to data[origin + y * rowStride + x * xStride +
 * c * cStride]. Packed HWC and the batch's CHW planes (mirrored or not) are both such layouts, so the
 * last pass writes the batch directly.
 */
interface Target {
  data: Uint8Array;
  origin: number;
  rowStride: number;
  xStride: number;
  cStride: number;
}

function packedTarget(image: RawImage): Target {
  return { data: image.data, origin: image.offset, rowStride: image.stride, xStride: 3, cStride: 1 };
}

function planarTarget(data: Uint8Array, width: number, height: number, mirror: boolean): Target {
  return { data, origin: mirror ? width - 1 : 0, rowStride: width, xStride: mirror ? -1 : 1, cStride: width * height };
}

/** Copies `src` to `target`. */
function emit(src: RawImage, target: Target): void {
  const { data, offset, stride, width, height } = src;
  const { origin, rowStride, xStride, cStride } = target;
  const out = target.data;
  for (let y = 0; y < height; y++) {
    for (let x = 0, p = offset + y * stride, o = origin + y * rowStride; x < width; x++, p += 3, o += xStride) {
      out[o] = data[p] as number;
      out[o + cStride] = data[p + 1] as number;
      out[o + 2 * cStride] = data[p + 2] as number;
    }
  }
}

// The passes below need no clamping: the weights are non-negative and sum to ONE give or take
// half a unit each, so every sum shifted down lies in [0, 255]. Two- and three-tap outputs (all of
// them when enlarging) are written out, the common case; wider ranges (reducing) loop.

function horizontal(src: RawImage, rowStart: number, rows: number, outWidth: number, target: Target): void {
  const { first, count, weights, size } = taps(src.width, outWidth);
  const { origin, rowStride, xStride, cStride } = target;
  const out = target.data;
  const data = src.data;
  if (count.every((n) => n <= 2)) {
    // Enlarging: two taps per output, laid out flat so the loop does nothing else.
    const at0 = first.map((f) => f * 3);
    const at1 = first.map((f, x) => ((count[x] as number) > 1 ? f + 1 : f) * 3); // one tap: a zero weight
    const w0 = Int32Array.from({ length: outWidth }, (_, x) => weights[x * size] as number);
    const w1 = Int32Array.from({ length: outWidth }, (_, x) => weights[x * size + 1] as number);
    for (let y = 0; y < rows; y++) {
      const row = src.offset + (rowStart + y) * src.stride;
      for (let x = 0, o = origin + y * rowStride; x < outWidth; x++, o += xStride) {
        const p = row + (at0[x] as number);
        const q = row + (at1[x] as number);
        const a = w0[x] as number;
        const b = w1[x] as number;
        out[o] = (HALF + (data[p] as number) * a + (data[q] as number) * b) >> PRECISION_BITS;
        out[o + cStride] = (HALF + (data[p + 1] as number) * a + (data[q + 1] as number) * b) >> PRECISION_BITS;
        out[o + 2 * cStride] = (HALF + (data[p + 2] as number) * a + (data[q + 2] as number) * b) >> PRECISION_BITS;
      }
    }
    return;
  }
  for (let y = 0; y < rows; y++) {
    const row = src.offset + (rowStart + y) * src.stride;
    for (let x = 0, o = origin + y * rowStride; x < outWidth; x++, o += xStride) {
      const n = count[x] as number;
      const k = x * size;
      let r = HALF;
      let g = HALF;
      let b = HALF;
      for (let i = 0, p = row + (first[x] as number) * 3; i < n; i++, p += 3) {
        const w = weights[k + i] as number;
        r += (data[p] as number) * w;
        g += (data[p + 1] as number) * w;
        b += (data[p + 2] as number) * w;
      }
      out[o] = r >> PRECISION_BITS;
      out[o + cStride] = g >> PRECISION_BITS;
      out[o + 2 * cStride] = b >> PRECISION_BITS;
    }
  }
}

/** The vertical pass; `t` indexes rows of `src` from `rowShift` on. */
function vertical(src: RawImage, t: Taps, rowShift: number, outHeight: number, target: Target): void {
  const width = src.width;
  const { origin, rowStride, xStride, cStride } = target;
  const out = target.data;
  const data = src.data;
  const sum = new Int32Array(width * 3);
  for (let y = 0; y < outHeight; y++) {
    const n = t.count[y] as number;
    const k = y * t.size;
    const r0 = src.offset + ((t.first[y] as number) - rowShift) * src.stride;
    const r1 = r0 + src.stride;
    const r2 = r1 + src.stride;
    const w0 = t.weights[k] as number;
    const w1 = t.weights[k + 1] as number;
    const w2 = t.weights[k + 2] as number;
    const base = origin + y * rowStride;
    if (n === 2) {
      for (let x = 0, p = 0, o = base; x < width; x++, p += 3, o += xStride) {
        out[o] = (HALF + (data[r0 + p] as number) * w0 + (data[r1 + p] as number) * w1) >> PRECISION_BITS;
        out[o + cStride] =
          (HALF + (data[r0 + p + 1] as number) * w0 + (data[r1 + p + 1] as number) * w1) >> PRECISION_BITS;
        out[o + 2 * cStride] =
          (HALF + (data[r0 + p + 2] as number) * w0 + (data[r1 + p + 2] as number) * w1) >> PRECISION_BITS;
      }
      continue;
    }
    if (n === 3) {
      for (let x = 0, p = 0, o = base; x < width; x++, p += 3, o += xStride) {
        for (let c = 0; c < 3; c++)
          out[o + c * cStride] =
            (HALF +
              (data[r0 + p + c] as number) * w0 +
              (data[r1 + p + c] as number) * w1 +
              (data[r2 + p + c] as number) * w2) >>
            PRECISION_BITS;
      }
      continue;
    }
    sum.fill(HALF);
    for (let i = 0, row = r0; i < n; i++, row += src.stride) {
      const w = t.weights[k + i] as number;
      for (let j = 0; j < width * 3; j++) sum[j] = (sum[j] as number) + (data[row + j] as number) * w;
    }
    for (let x = 0, p = 0, o = base; x < width; x++, p += 3, o += xStride) {
      out[o] = (sum[p] as number) >> PRECISION_BITS;
      out[o + cStride] = (sum[p + 1] as number) >> PRECISION_BITS;
      out[o + 2 * cStride] = (sum[p + 2] as number) >> PRECISION_BITS;
    }
  }
}

/** PIL's Image.resize(size, BILINEAR) written to `target`: each pass only when its axis changes size. */
function resizeTo(src: RawImage, width: number, height: number, target: Target): void {
  if (width === src.width && height === src.height) return emit(src, target);
  if (height === src.height) return horizontal(src, 0, src.height, width, target);
  const t = taps(src.height, height);
  if (width === src.width) return vertical(src, t, 0, height, target);
  // Only the rows the vertical pass reads go through the horizontal one.
  const firstRow = t.first[0] as number;
  const lastRow = (t.first[height - 1] as number) + (t.count[height - 1] as number);
  const between = rawImage(new Uint8Array((lastRow - firstRow) * width * 3), width, lastRow - firstRow);
  horizontal(src, firstRow, lastRow - firstRow, width, packedTarget(between));
  vertical(between, t, firstRow, height, target);
}

/** PIL's Image.resize(size, BILINEAR). */
export function resize(src: RawImage, width: number, height: number): RawImage {
  const out = rawImage(new Uint8Array(width * height * 3), width, height);
  resizeTo(src, width, height, packedTarget(out));
  return out;
}

export function crop(src: RawImage, box: { left: number; top: number; width: number; height: number }): RawImage {
  if (box.left < 0 || box.top < 0 || box.left + box.width > src.width || box.top + box.height > src.height)
    throw new Error(
      `crop ${box.width}x${box.height}+${box.left}+${box.top} lies outside the ${src.width}x${src.height} image`,
    );
  return { ...src, width: box.width, height: box.height, offset: src.offset + box.top * src.stride + box.left * 3 };
}

/** Zero padding on each side. */
export function pad(src: RawImage, left: number, top: number, right: number, bottom: number): RawImage {
  const [width, height] = [src.width + left + right, src.height + top + bottom];
  const out = rawImage(new Uint8Array(width * height * 3), width, height);
  emit(src, packedTarget({ ...out, offset: (top * width + left) * 3 }));
  return out;
}

/** The whole picture turned counter-clockwise (a quarter turn swaps width and height). */
function turn(src: RawImage, angle: 90 | 180 | 270): RawImage {
  const [width, height] = angle === 180 ? [src.width, src.height] : [src.height, src.width];
  const out = new Uint8Array(width * height * 3);
  // Where the source pixel for output (0, 0) is, and how it moves with output x and y.
  const { offset, stride } = src;
  const [start, dx, dy] =
    angle === 90
      ? [offset + (src.width - 1) * 3, stride, -3]
      : angle === 180
        ? [offset + (src.height - 1) * stride + (src.width - 1) * 3, -3, -stride]
        : [offset + (src.height - 1) * stride, -stride, 3];
  const data = src.data;
  let o = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0, p = start + y * dy; x < width; x++, o += 3, p += dx) {
      out[o] = data[p] as number;
      out[o + 1] = data[p + 1] as number;
      out[o + 2] = data[p + 2] as number;
    }
  }
  return rawImage(out, width, height);
}

/**
 * Counter-clockwise by `angle`, keeping the canvas as torchvision's rotate (expand=False) does: the
 * turned picture centred, its long side cut to the canvas, black bars along the short side.
 */
export function rotate(src: RawImage, angle: 0 | 90 | 180 | 270): RawImage {
  if (angle === 0) return src;
  const turned = turn(src, angle);
  const { width, height } = src;
  if (angle === 180 || width === height) return turned;
  const offset = quarterTurnOffset(height, width, angle);
  const diff = Math.abs(width - height);
  return width > height
    ? pad(crop(turned, { left: 0, top: offset, width: height, height }), offset, 0, diff - offset, 0)
    : pad(crop(turned, { left: offset, top: 0, width, height: width }), 0, offset, 0, diff - offset);
}

/** Checks that a width x height result fits the output. */
function fits(width: number, height: number, dst: Uint8Array): void {
  if (width * height * 3 > dst.length)
    throw new Error(`transformed to ${width}x${height}, which does not fit the output`);
}

/**
 * Applies `ops` and writes the result to the start of `dst` as CHW planes; returns its size. Flips
 * are deferred to the next operation that needs them, and a final resize writes the planes itself,
 * mirrored by the flips after it, so the common crop-resize-flip costs no copy beyond the passes.
 */
export function transformInto(src: RawImage, ops: GeometricOp[], dst: Uint8Array): { width: number; height: number } {
  let last = ops.length;
  while (last > 0 && ops[last - 1]?.op === 'flip') last--;
  const finalResize = ops[last - 1]?.op === 'resize' ? last - 1 : -1;
  let image = src;
  let mirrored = false;
  for (const [i, op] of ops.entries()) {
    if (op.op === 'flip') {
      mirrored = !mirrored;
      continue;
    }
    if (mirrored) {
      const flat = rawImage(new Uint8Array(image.width * image.height * 3), image.width, image.height);
      emit(image, { ...packedTarget(flat), origin: (image.width - 1) * 3, xStride: -3 });
      image = flat;
      mirrored = false;
    }
    if (i === finalResize && op.op === 'resize') {
      fits(op.width, op.height, dst);
      const flipsAfter = ops.slice(i + 1).length % 2 === 1;
      resizeTo(image, op.width, op.height, planarTarget(dst, op.width, op.height, flipsAfter));
      return { width: op.width, height: op.height };
    }
    if (op.op === 'rotate') image = rotate(image, op.angle);
    else if (op.op === 'crop') image = crop(image, op.box);
    else if (op.op === 'resize') image = resize(image, op.width, op.height);
    else image = pad(image, op.left, op.top, op.right, op.bottom);
  }
  fits(image.width, image.height, dst);
  emit(image, planarTarget(dst, image.width, image.height, mirrored));
  return { width: image.width, height: image.height };
}
