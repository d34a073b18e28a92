// Decoding and geometric transforms for the loader's workers. JPEGs decode with TurboJPEG in the
// image addon (libjpeg-turbo's accurate IDCT and fancy upsampling, as PIL decodes them, so the
// pixels are PIL's). Other formats, CMYK JPEGs, JPEGs with an EXIF orientation and anything
// TurboJPEG complains about (so that libvips' error names the problem) decode with sharp (libvips)
// into 8-bit sRGB without alpha like PIL's convert('RGB'), EXIF orientation applied. Either way the
// geometric operations run in the addon, writing the batch's layout directly. Each sharp pipeline
// has a fixed cost of about 0.5 ms of CPU, as much as decoding a 224x224 JPEG, which is why JPEGs
// do without it.
import sharp from 'sharp';
import { jpegHeader, jpegSize } from './header.js';
import { imageAddon, transformInto, type Pixels } from './image-addon.js';
import type { GeometricOp } from './transforms.js';

/**
 * PIL refuses images over 2 x Image.MAX_IMAGE_PIXELS (89,478,485) pixels as possible
 * decompression bombs; this is that limit (DATA.MAX_IMAGE_PIXELS raises it).
 */
export const MAX_IMAGE_PIXELS = 178_956_970;

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

/** Decodes with sharp to packed 8-bit RGB; with `size`, at that (reduced) size using the decoder's shrink-on-load. */
export async function decode(
  bytes: Buffer,
  size?: { width: number; height: number },
  maxImagePixels?: number,
): Promise<Pixels> {
  // libvips checks the header against the limit before decoding; `plan` checks the other paths.
  let pipeline = sharp(bytes, { limitInputPixels: maxImagePixels ?? MAX_IMAGE_PIXELS }).autoOrient();
  if (size)
    pipeline = pipeline.resize(size.width, size.height, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: true });
  const { data, info } = await pipeline
    .removeAlpha()
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/**
 * The pixels of the last TurboJPEG decode on this thread, reused by the next one. It is kept when a
 * decode fails too, so that a folder of broken images does not allocate a fresh buffer per image.
 */
let scratch: Uint8Array = new Uint8Array(0);

/**
 * A JPEG decoded by TurboJPEG at 1/`factor` size, or null when it must go to sharp. The pixels live
 * in `scratch`: use them before decoding the next image. The buffer is allocated here, not in the
 * addon: an allocation that fails (a huge frame under an address-space limit) is then an error
 * naming the image's size, where the addon's would abort the process.
 */
export function decodeJpeg(bytes: Buffer, factor = 1): Pixels | null {
  const addon = imageAddon();
  let decoded = addon.decodeJpeg(bytes, factor, scratch);
  if (decoded && !decoded.decoded) {
    const length = decoded.width * decoded.height * 3;
    scratch = new Uint8Array(0); // the old buffer can go before the new one is made
    try {
      scratch = new Uint8Array(length);
    } catch {
      throw new Error(
        `cannot allocate ${(length / 2 ** 20).toFixed(0)} MiB to decode this ${decoded.width}x${decoded.height} JPEG ` +
          '(out of memory); lower DATA.MAX_IMAGE_PIXELS to refuse images this large',
      );
    }
    decoded = addon.decodeJpeg(bytes, factor, scratch);
  }
  if (!decoded?.decoded) return null;
  const { width, height } = decoded;
  return { data: scratch.subarray(0, width * height * 3), width, height };
}

/**
 * Applies each operation list to a decoded image, writing the results (CHW uint8, each `outputBytes`
 * long) into `out` one after the other from `outOffset`.
 */
export function transformDecoded(
  image: Pixels,
  opLists: GeometricOp[][],
  out: Uint8Array,
  outOffset: number,
  outputBytes: number,
): void {
  opLists.forEach((ops, i) => {
    const start = outOffset + i * outputBytes;
    const result = transformInto(image, ops, out.subarray(start, start + outputBytes));
    if (result.width * result.height * 3 !== outputBytes)
      throw new Error(`transformed to ${result.width}x${result.height}, not the batch's image size`);
  });
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
  maxImagePixels = MAX_IMAGE_PIXELS,
): Promise<void> {
  const apply = (image: Pixels, opLists: GeometricOp[][]): void =>
    transformDecoded(image, opLists, out, outOffset, outputBytes);
  const scaled = (opLists: GeometricOp[][], factor: number, image: Pixels): GeometricOp[][] =>
    factor > 1 ? opLists.map((ops) => ops.map((op) => scaleCrop(op, factor, image.width, image.height))) : opLists;

  // The TurboJPEG path: synchronous from the decode to the last transform, as `scratch` requires.
  const header = jpegHeader(bytes);
  if (header?.orientation === 1) {
    const planned = plan(header.height, header.width);
    const factor = shrinkOnLoad ? Math.min(...planned.map(shrinkFactor)) : 1;
    const image = decodeJpeg(bytes, factor);
    if (image) return apply(image, scaled(planned, factor, image));
  }

  const full = shrinkOnLoad && canShrinkOnLoad(bytes) ? await probe(bytes) : null;
  const planned = full ? plan(full.height, full.width) : [];
  const factor = full ? Math.min(...planned.map(shrinkFactor)) : 1;
  if (full && factor > 1) {
    const size = { width: Math.ceil(full.width / factor), height: Math.ceil(full.height / factor) };
    const image = await decode(bytes, size, maxImagePixels);
    return apply(image, scaled(planned, factor, image));
  }
  const image = await decode(bytes, undefined, maxImagePixels);
  apply(image, plan(image.height, image.width));
}
