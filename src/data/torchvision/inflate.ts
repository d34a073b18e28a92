// Bounded decompression for the dataset files that come compressed (MNIST's .gz, the compressed
// variables of MAT-files). A small file can inflate to gigabytes, so nothing is inflated whole
// before its own header has said how large it is: the header comes from a short prefix of the
// stream, its size is checked against what the compressed bytes could honestly hold, and the
// stream is then inflated with that size as the bound.
import { constants, gunzipSync, inflateSync, type ZlibOptions } from 'node:zlib';

/** gzip (a .gz file) or zlib (a MAT-file's miCOMPRESSED element). */
export type Compression = 'gzip' | 'zlib';

/**
 * Deflate's densest coding gives about 1032 bytes per compressed byte (a 258-byte match in under
 * two bits): a stream claiming more cannot be honest.
 */
const MAX_RATIO = 1032;

function inflate(data: Uint8Array, format: Compression, options: ZlibOptions): Buffer {
  return format === 'gzip' ? gunzipSync(data, options) : inflateSync(data, options);
}

function damaged(source: string, format: Compression, error: unknown): Error {
  const what = format === 'gzip' ? 'gzip file' : 'compressed variable';
  return new Error(`${source}: the ${what} is damaged and does not inflate (${(error as Error).message})`, {
    cause: error,
  });
}

/**
 * The first `bytes` bytes of the inflated stream (fewer when it is shorter), inflating only as
 * much of it as they need: a prefix of the compressed bytes, doubled until it gives enough.
 */
export function inflateHead(data: Uint8Array, format: Compression, bytes: number, source: string): Buffer {
  for (let prefix = 1024; ; prefix *= 2) {
    const whole = prefix >= data.length;
    let out: Buffer;
    try {
      // Z_SYNC_FLUSH: a prefix is not an error for its missing end.
      out = inflate(data.subarray(0, prefix), format, {
        finishFlush: constants.Z_SYNC_FLUSH,
        maxOutputLength: Math.max(1, prefix * MAX_RATIO),
      });
    } catch (error) {
      throw damaged(source, format, error);
    }
    if (out.length >= bytes || whole) return out.subarray(0, bytes);
  }
}

/**
 * The whole inflated stream, which its header says is `expected` bytes long: refused before
 * inflating when the compressed bytes cannot hold that much, and stopped (an error) as soon as it
 * inflates past it. The caller checks a shorter result against its header.
 */
export function inflateBounded(data: Uint8Array, format: Compression, expected: number, source: string): Buffer {
  const what = format === 'gzip' ? 'gzip file' : 'compressed variable';
  if (expected > data.length * MAX_RATIO + 1024)
    throw new Error(
      `${source}: the ${what}'s header declares ${expected} bytes, more than its ${data.length} compressed bytes can ` +
        `hold (deflate expands at most ${MAX_RATIO} times); the file is damaged or a decompression bomb`,
    );
  try {
    return inflate(data, format, { maxOutputLength: Math.max(1, expected) });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw new Error(
        `${source}: the ${what} inflates to more than the ${expected} bytes its header declares; ` +
          'the file is damaged or a decompression bomb',
        { cause: error },
      );
    throw damaged(source, format, error);
  }
}
