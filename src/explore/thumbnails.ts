// Thumbnails of a clustering's images, made once with sharp and kept in the run folder
// (.explore/thumbs/<clustering>/<index / 1000>/<index>.jpg, at most 1,000 files a folder), so a
// second look, another page or the static report costs a file read. Images of torchvision_dataset
// data are named `<file>[<i>]`; their pixels come from torchvision's file.
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { TorchvisionRecords } from '../data/index.js';
import { requireRegularFile } from '../torch/io/file-bytes.js';
import type { Clustering } from './clustering.js';
import { CACHE_FOLDER } from './run.js';

export const THUMB_SIZE = 96;
/** Larger files are not taken for images to thumbnail (a 100-megapixel JPEG is about 50 MB). */
const MAX_IMAGE_FILE_BYTES = 256 * 2 ** 20;

export class Thumbnails {
  readonly #inFlight = new Map<string, Promise<Buffer>>();
  readonly #records = new TorchvisionRecords();

  constructor(readonly runRoot: string) {}

  fileOf(clustering: Clustering, index: number): string {
    return join(
      this.runRoot,
      CACHE_FOLDER,
      'thumbs',
      clustering.info.id,
      String(Math.floor(index / 1000)),
      `${index}.jpg`,
    );
  }

  /** The JPEG thumbnail of image `index`; made (once, even when asked for twice at a time) if not cached. */
  async get(clustering: Clustering, index: number): Promise<Buffer> {
    const file = this.fileOf(clustering, index);
    if (existsSync(file)) {
      requireRegularFile(file, 'cached thumbnail'); // a FIFO planted in the run folder would block the server
      return readFileSync(file);
    }
    let making = this.#inFlight.get(file);
    if (making === undefined) {
      making = this.#make(clustering.imagePath(index), file).finally(() => this.#inFlight.delete(file));
      this.#inFlight.set(file, making);
    }
    return making;
  }

  /**
   * The image as sharp input: an image file (turned upright by its EXIF orientation), or a record's
   * pixels. The file is read here, a regular file of bounded size only: sharp opening a FIFO would
   * hold one of libuv's few threads forever, and a handful of them would stop the whole server.
   */
  #source(image: string): sharp.Sharp {
    if (existsSync(image) || !TorchvisionRecords.isRecord(image)) {
      requireRegularFile(image, 'image file');
      const size = statSync(image).size;
      if (size > MAX_IMAGE_FILE_BYTES)
        throw new Error(`${image}: ${size} bytes, more than the ${MAX_IMAGE_FILE_BYTES} an image file here may have`);
      return sharp(readFileSync(image)).rotate();
    }
    const { data, width, height } = this.#records.pixels(image);
    return sharp(Buffer.from(data), { raw: { width, height, channels: 3 } }); // a copy: the store is shared memory
  }

  async #make(image: string, file: string): Promise<Buffer> {
    let jpeg: Buffer;
    try {
      jpeg = await this.#source(image)
        .resize(THUMB_SIZE, THUMB_SIZE, { fit: 'cover' })
        .jpeg({ quality: 80 })
        .toBuffer();
    } catch (error) {
      throw new Error(`cannot make a thumbnail of ${image}: ${(error as Error).message}`);
    }
    mkdirSync(dirname(file), { recursive: true });
    // Written under another name and renamed, so a reader never sees half a file.
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, jpeg);
    renameSync(partial, file);
    return jpeg;
  }
}
