// Decoding and geometric operations with sharp (libvips). Consecutive operations share one sharp
// pipeline as long as sharp's fixed internal order (rotate, extract, resize, extract, extend,
// flop) computes the same thing; otherwise the image is materialised as raw RGB and a new
// pipeline starts. Every image leaves as 8-bit sRGB without alpha, like PIL's convert('RGB').
import sharp from 'sharp';
import { quarterTurnOffset } from './crop-params.js';
import type { GeometricOp } from './transforms.js';

export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
}

/** Which sharp pipeline stages are used, to know whether another operation still fits. */
interface Stages {
  fresh: boolean;
  preExtract: boolean;
  resized: boolean;
  postExtract: boolean;
  closed: boolean; // after extend or flop nothing spatial may follow
  rotated: boolean; // sharp flops before it rotates, so a flip after a rotation needs a new pipeline
}

class Canvas {
  private stages: Stages = {
    fresh: true,
    preExtract: false,
    resized: false,
    postExtract: false,
    closed: false,
    rotated: false,
  };

  constructor(
    private pipeline: sharp.Sharp,
    public width: number,
    public height: number,
  ) {}

  /** Finishes the current pipeline and starts a new one on its raw pixels. */
  private async materialise(): Promise<void> {
    const { data, info } = await this.finish();
    this.pipeline = sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } });
    this.stages = { fresh: true, preExtract: false, resized: false, postExtract: false, closed: false, rotated: false };
  }

  finish(): Promise<{ data: Buffer; info: sharp.OutputInfo }> {
    return this.pipeline
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  }

  async apply(op: GeometricOp): Promise<void> {
    switch (op.op) {
      case 'rotate':
        return this.rotate(op.angle);
      case 'crop': {
        const s = this.stages;
        const fits = !s.closed && (s.resized ? !s.postExtract : !s.preExtract);
        if (!fits) await this.materialise();
        this.pipeline.extract(op.box);
        if (this.stages.resized) this.stages.postExtract = true;
        else this.stages.preExtract = true;
        [this.width, this.height] = [op.box.width, op.box.height];
        break;
      }
      case 'resize':
        if (this.stages.closed || this.stages.resized || this.stages.postExtract) await this.materialise();
        // 'linear' is libvips' antialiased triangle filter, PIL's BILINEAR when reducing.
        this.pipeline.resize(op.width, op.height, { fit: 'fill', kernel: 'linear' });
        this.stages.resized = true;
        [this.width, this.height] = [op.width, op.height];
        break;
      case 'pad':
        if (this.stages.closed) await this.materialise();
        this.pipeline.extend({ ...op, background: { r: 0, g: 0, b: 0 } });
        this.stages.closed = true;
        this.width += op.left + op.right;
        this.height += op.top + op.bottom;
        break;
      case 'flip':
        if (this.stages.closed || this.stages.rotated) await this.materialise();
        this.pipeline.flop();
        this.stages.closed = true;
        break;
    }
    this.stages.fresh = false;
  }

  /** Counter-clockwise by `angle`, keeping the canvas: black bars where a quarter turn leaves gaps. */
  private async rotate(angle: 0 | 90 | 180 | 270): Promise<void> {
    if (angle === 0) return;
    if (!this.stages.fresh) await this.materialise();
    this.pipeline.rotate(360 - angle); // sharp turns clockwise
    this.stages.rotated = true;
    const { width, height } = this;
    if (angle === 180 || width === height) return;
    const offset = quarterTurnOffset(height, width, angle);
    const diff = Math.abs(width - height);
    // The turned picture is height wide and width tall; cut its long side to the canvas, bar the short one.
    if (width > height) {
      this.pipeline.extract({ left: 0, top: offset, width: height, height });
      this.pipeline.extend({ left: offset, right: diff - offset, top: 0, bottom: 0, background: { r: 0, g: 0, b: 0 } });
    } else {
      this.pipeline.extract({ left: offset, top: 0, width, height: width });
      this.pipeline.extend({ top: offset, bottom: diff - offset, left: 0, right: 0, background: { r: 0, g: 0, b: 0 } });
    }
    this.stages.closed = true;
  }
}

/** Formats whose decoders can shrink by 2, 4 or 8 while decoding (far cheaper than a full decode). */
const SHRINK_ON_LOAD = new Set(['jpeg', 'webp']);

/**
 * When an image starts with a crop that is then resized to far less (a large photo and
 * RandomResizedCrop 224), decode it at 1/2, 1/4 or 1/8 size first and scale the crop box. The
 * crop stays at least twice the output size, so the final resize still averages pixels.
 */
function shrinkFactor(format: string | undefined, ops: GeometricOp[]): number {
  const [crop, resize] = ops;
  if (!SHRINK_ON_LOAD.has(format ?? '') || crop?.op !== 'crop' || resize?.op !== 'resize') return 1;
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

/** The oriented size and format of an encoded image, from its header only. */
export async function probe(bytes: Buffer): Promise<{ width: number; height: number; format: string | undefined }> {
  const meta = await sharp(bytes).metadata();
  return { width: meta.autoOrient.width, height: meta.autoOrient.height, format: meta.format };
}

/**
 * Decodes `bytes` (EXIF orientation applied) and applies `ops`; the result is 8-bit RGB, HWC.
 * `size` and `format` come from probe(). With `shrinkOnLoad`, large crops decode at reduced size.
 */
export async function decodeAndTransform(
  bytes: Buffer,
  probed: { width: number; height: number; format: string | undefined },
  ops: GeometricOp[],
  shrinkOnLoad: boolean,
): Promise<RawImage> {
  const factor = shrinkOnLoad ? shrinkFactor(probed.format, ops) : 1;
  let canvas: Canvas;
  let rest = ops;
  if (factor > 1) {
    const width = Math.ceil(probed.width / factor);
    const height = Math.ceil(probed.height / factor);
    const shrunk = await sharp(bytes)
      .autoOrient()
      .resize(width, height, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: true })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    canvas = new Canvas(
      sharp(shrunk.data, { raw: { width: shrunk.info.width, height: shrunk.info.height, channels: 3 } }),
      shrunk.info.width,
      shrunk.info.height,
    );
    rest = ops.map((op) => scaleCrop(op, factor, shrunk.info.width, shrunk.info.height));
  } else {
    canvas = new Canvas(sharp(bytes).autoOrient(), probed.width, probed.height);
  }
  for (const op of rest) await canvas.apply(op);
  const { data, info } = await canvas.finish();
  return { data, width: info.width, height: info.height };
}
