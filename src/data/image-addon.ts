// The image addon (native/image, built by scripts/build-image.mjs): TurboJPEG decoding and the
// geometric operations on 8-bit RGB, PIL's resampling arithmetic included. The loader's workers
// call it synchronously, each on its own thread.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GeometricOp } from './transforms.js';

/** Packed 8-bit RGB (HWC), `width * 3` bytes per row. */
export interface Pixels {
  data: Uint8Array;
  width: number;
  height: number;
}

interface ImageAddon {
  /** Decodes into the start of `into`; `decoded` is false (nothing written) when it is too small. */
  decodeJpeg(
    bytes: Uint8Array,
    scaleDenom: number,
    into: Uint8Array,
  ): { width: number; height: number; decoded: boolean } | null;
  transform(
    pixels: Uint8Array,
    width: number,
    height: number,
    program: Int32Array,
    out: Uint8Array,
  ): { width: number; height: number };
}

let addon: ImageAddon | undefined;

/** The addon, loaded on first use; a clear error when it is not built. */
export function imageAddon(): ImageAddon {
  if (addon) return addon;
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const file = process.env.CLUSTERFIT_IMAGE ?? join(root, 'build', 'Release', 'clusterfit_image.node');
  const help = 'run npm run build (the image addon needs libturbojpeg0-dev: apt-get install libturbojpeg0-dev)';
  if (!existsSync(file)) throw new Error(`the image addon is not built (${file} is missing): ${help}`);
  try {
    addon = createRequire(import.meta.url)(file) as ImageAddon;
  } catch (error) {
    throw new Error(`the image addon ${file} does not load (${(error as Error).message}): ${help}`);
  }
  return addon;
}

// The addon's operation codes; each operation is five int32: the code, then its arguments.
const ROTATE = 0;
const RESIZE = 1;
const PAD = 2;
const CROP = 3;
const FLIP = 4;

function program(ops: GeometricOp[]): Int32Array {
  const codes = new Int32Array(ops.length * 5);
  ops.forEach((op, i) => {
    const args =
      op.op === 'rotate'
        ? [ROTATE, op.angle]
        : op.op === 'resize'
          ? [RESIZE, op.width, op.height]
          : op.op === 'pad'
            ? [PAD, op.left, op.top, op.right, op.bottom]
            : op.op === 'crop'
              ? [CROP, op.box.left, op.box.top, op.box.width, op.box.height]
              : [FLIP];
    codes.set(args, i * 5);
  });
  return codes;
}

/**
 * Applies `ops` to `src` and writes the result to the start of `dst` as CHW planes (the batch's
 * layout); returns its size. Resizes give PIL's bilinear pixels exactly.
 */
export function transformInto(src: Pixels, ops: GeometricOp[], dst: Uint8Array): { width: number; height: number } {
  return imageAddon().transform(src.data, src.width, src.height, program(ops), dst);
}
