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

// The passes below need no clamping: the weights are non-negative and sum to ONE give or take
// half a unit each, so every sum shifted down lies in [0, 255]. Two- and three-tap outputs (all of
// them when enlarging) are written out, the common case; wider ranges (reducing) loop.

function horizontal(src: RawImage, rowStart: number, rows: number, outWidth: number): RawImage {
  const { first, count, weights, size } = taps(src.width, outWidth);
  const out = new Uint8Array(rows * outWidth * 3);
  const data = src.data;
  let o = 0;
  for (let y = 0; y < rows; y++) {
    const row = src.offset + (rowStart + y) * src.stride;
    for (let x = 0; x < outWidth; x++, o += 3) {
      const n = count[x] as number;
      const k = x * size;
      const p = row + (first[x] as number) * 3;
      const p1 = n > 1 ? p + 3 : p; // a one-pixel range has a zero second weight: stay inside the image
      const w0 = weights[k] as number;
      const w1 = weights[k + 1] as number;
      let r = HALF + (data[p] as number) * w0 + (data[p1] as number) * w1;
      let g = HALF + (data[p + 1] as number) * w0 + (data[p1 + 1] as number) * w1;
      let b = HALF + (data[p + 2] as number) * w0 + (data[p1 + 2] as number) * w1;
      for (let i = 2, q = p + 6; i < n; i++, q += 3) {
        const w = weights[k + i] as number;
        r += (data[q] as number) * w;
        g += (data[q + 1] as number) * w;
        b += (data[q + 2] as number) * w;
      }
      out[o] = r >> PRECISION_BITS;
      out[o + 1] = g >> PRECISION_BITS;
      out[o + 2] = b >> PRECISION_BITS;
    }
  }
  return rawImage(out, outWidth, rows);
}

/** The vertical pass; `t` indexes rows of `src` from `rowShift` on. */
function vertical(src: RawImage, t: Taps, rowShift: number, outHeight: number): RawImage {
  const rowBytes = src.width * 3;
  const out = new Uint8Array(outHeight * rowBytes);
  const data = src.data;
  const sum = new Int32Array(rowBytes);
  for (let y = 0, o = 0; y < outHeight; y++, o += rowBytes) {
    const n = t.count[y] as number;
    const k = y * t.size;
    const r0 = src.offset + ((t.first[y] as number) - rowShift) * src.stride;
    const r1 = r0 + src.stride;
    const w0 = t.weights[k] as number;
    const w1 = t.weights[k + 1] as number;
    if (n === 2) {
      for (let j = 0; j < rowBytes; j++)
        out[o + j] = (HALF + (data[r0 + j] as number) * w0 + (data[r1 + j] as number) * w1) >> PRECISION_BITS;
    } else if (n === 3) {
      const r2 = r1 + src.stride;
      const w2 = t.weights[k + 2] as number;
      for (let j = 0; j < rowBytes; j++)
        out[o + j] =
          (HALF + (data[r0 + j] as number) * w0 + (data[r1 + j] as number) * w1 + (data[r2 + j] as number) * w2) >>
          PRECISION_BITS;
    } else {
      sum.fill(HALF);
      for (let i = 0, row = r0; i < n; i++, row += src.stride) {
        const w = t.weights[k + i] as number;
        for (let j = 0; j < rowBytes; j++) sum[j] = (sum[j] as number) + (data[row + j] as number) * w;
      }
      for (let j = 0; j < rowBytes; j++) out[o + j] = (sum[j] as number) >> PRECISION_BITS;
    }
  }
  return rawImage(out, src.width, outHeight);
}

/** PIL's Image.resize(size, BILINEAR): each pass only when its axis changes size. */
export function resize(src: RawImage, width: number, height: number): RawImage {
  if (width === src.width && height === src.height) return src;
  if (height === src.height) return horizontal(src, 0, src.height, width);
  const t = taps(src.height, height);
  if (width === src.width) return vertical(src, t, 0, height);
  // Only the rows the vertical pass reads go through the horizontal one.
  const firstRow = t.first[0] as number;
  const lastRow = (t.first[height - 1] as number) + (t.count[height - 1] as number);
  return vertical(horizontal(src, firstRow, lastRow - firstRow, width), t, firstRow, height);
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
  copyInto(src, out.data, (top * out.width + left) * 3, out.stride, false);
  return out;
}

/** Copies `src` row by row into `dst` (rows `dstStride` bytes apart), mirrored left-right if asked. */
export function copyInto(src: RawImage, dst: Uint8Array, dstOffset: number, dstStride: number, mirror: boolean): void {
  const rowBytes = src.width * 3;
  for (let y = 0; y < src.height; y++) {
    const from = src.offset + y * src.stride;
    const to = dstOffset + y * dstStride;
    if (!mirror) {
      dst.set(src.data.subarray(from, from + rowBytes), to);
      continue;
    }
    for (let x = 0, p = from + rowBytes - 3; x < rowBytes; x += 3, p -= 3) {
      dst[to + x] = src.data[p] as number;
      dst[to + x + 1] = src.data[p + 1] as number;
      dst[to + x + 2] = src.data[p + 2] as number;
    }
  }
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

/** Writes `src` into `dst` as three planes (CHW, the batch layout), mirrored left-right if asked. */
function writePlanar(src: RawImage, dst: Uint8Array, mirror: boolean): void {
  const { width, height, data } = src;
  const plane = width * height;
  for (let y = 0; y < height; y++) {
    const row = src.offset + y * src.stride;
    // Mirroring reads each row backwards.
    const [start, step] = mirror ? [row + (width - 1) * 3, -3] : [row, 3];
    for (let x = 0, p = start, o = y * width; x < width; x++, p += step, o++) {
      dst[o] = data[p] as number;
      dst[o + plane] = data[p + 1] as number;
      dst[o + 2 * plane] = data[p + 2] as number;
    }
  }
}

/**
 * Applies `ops` and writes the result to the start of `dst` as CHW planes; returns its size. A
 * flip is deferred to the next operation that needs it, so a final flip costs nothing extra.
 */
export function transformInto(src: RawImage, ops: GeometricOp[], dst: Uint8Array): RawImage {
  let image = src;
  let mirrored = false;
  const unmirror = (): void => {
    if (!mirrored) return;
    const flat = rawImage(new Uint8Array(image.width * image.height * 3), image.width, image.height);
    copyInto(image, flat.data, 0, flat.stride, true);
    image = flat;
    mirrored = false;
  };
  for (const op of ops) {
    if (op.op === 'flip') {
      mirrored = !mirrored;
      continue;
    }
    unmirror();
    if (op.op === 'rotate') image = rotate(image, op.angle);
    else if (op.op === 'crop') image = crop(image, op.box);
    else if (op.op === 'resize') image = resize(image, op.width, op.height);
    else image = pad(image, op.left, op.top, op.right, op.bottom);
  }
  if (image.width * image.height * 3 > dst.length)
    throw new Error(`transformed to ${image.width}x${image.height}, which does not fit the output`);
  writePlanar(image, dst, mirrored);
  return image;
}
