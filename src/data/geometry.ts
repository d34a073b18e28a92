// Decoding with sharp (libvips) into 8-bit sRGB without alpha, like PIL's convert('RGB'), with EXIF
// orientation applied; then the geometric operations in JS (raster.ts). One sharp pipeline per
// image and no header round trip: each pipeline has a fixed cost (about 0.5 ms of CPU, as much as
// decoding a 224x224 JPEG), and libvips' enlarging resize costs more than the JS one.
import sharp from 'sharp';
import { jpegSize } from './header.js';
import { rawImage, transformInto, type RawImage } from './raster.js';
import type { GeometricOp } from './transforms.js';

export type { RawImage } from './raster.js';

/** Formats whose decoders can shrink by 2, 4 or 8 while decoding (far cheaper than a full decode). */
function canShrinkOnLoad(bytes: Buffer): boolean {
  const jpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  const webp = bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP';
  return jpeg || webp;
}

/** The displayed (EXIF-oriented) size of an encoded image, from its header only. */
export async function probe(bytes: Buffer): Promise<{ width: number; height: number }> {
  const fromHeader = jpegSize(bytes);
  if (fromHeader) return fromHeader;
  const meta = await sharp(bytes).metadata();
  return { width: meta.autoOrient.width, height: meta.autoOrient.height };
}

/**
 * When an image starts with a crop that is then resized to far less (a large photo and
 * RandomResizedCrop 224), it can be decoded at 1/2, 1/4 or 1/8 size with the crop box scaled. The
 * crop stays at least twice the output size, so the final resize still averages pixels.
 */
function shrinkFactor(ops: GeometricOp[]): number {
  const [crop, resize] = ops;
  if (crop?.op !== 'crop' || resize?.op !== 'resize') return 1;
  const room = Math.min(crop.box.width / resize.width, crop.box.height / resize.height);
  let factor = 1;
  while (factor < 8 && room >= factor * 4) factor *= 2;
  return factor;
}

function scaleCrop(op: GeometricOp, factor: number, width: number, height: number): GeometricOp {
  if (op.op !== 'crop') return op;
  const left = Math.floor(op.box.left / factor);
  const top = Math.floor(op.box.top / factor);
  return {
    op: 'crop',
    box: {
      left,
      top,
      width: Math.min(Math.round(op.box.width / factor), width - left),
      height: Math.min(Math.round(op.box.height / factor), height - top),
    },
  };
}

/** Decodes to packed 8-bit RGB; with `size`, at that (reduced) size using the decoder's shrink-on-load. */
export async function decode(bytes: Buffer, size?: { width: number; height: number }): Promise<RawImage> {
  let pipeline = sharp(bytes).autoOrient();
  if (size)
    pipeline = pipeline.resize(size.width, size.height, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: true });
  const { data, info } = await pipeline
    .removeAlpha()
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return rawImage(data, info.width, info.height);
}

/**
 * Decodes `bytes` once and applies each operation list to it, writing the results (CHW uint8, each
 * `outputBytes` long) into `out` one after the other from `outOffset`. `plan` gives the operation
 * lists for the displayed size of the image. With `shrinkOnLoad`, large JPEG/WebP crops decode at
 * reduced size.
 */
export async function decodeAndTransform(
  bytes: Buffer,
  plan: (height: number, width: number) => GeometricOp[][],
  out: Uint8Array,
  outOffset: number,
  outputBytes: number,
  shrinkOnLoad: boolean,
): Promise<void> {
  let image: RawImage;
  let opLists: GeometricOp[][];
  const full = shrinkOnLoad && canShrinkOnLoad(bytes) ? await probe(bytes) : null;
  const planned = full ? plan(full.height, full.width) : [];
  const factor = full ? Math.min(...planned.map(shrinkFactor)) : 1;
  if (full && factor > 1) {
    image = await decode(bytes, { width: Math.ceil(full.width / factor), height: Math.ceil(full.height / factor) });
    opLists = planned.map((ops) => ops.map((op) => scaleCrop(op, factor, image.width, image.height)));
  } else {
    image = await decode(bytes);
    opLists = plan(image.height, image.width);
  }
  opLists.forEach((ops, i) => {
    const start = outOffset + i * outputBytes;
    const result = transformInto(image, ops, out.subarray(start, start + outputBytes));
    if (result.width * result.height * 3 !== outputBytes)
      throw new Error(`transformed to ${result.width}x${result.height}, not the batch's image size`);
  });
}
