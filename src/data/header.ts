// The size and EXIF orientation of a JPEG read from its header in JS: the frame size from the SOF
// segment, swapped for display when the EXIF orientation turns the picture a quarter. This is all
// the planning of an image's transforms needs to know before decoding, and it costs no decoder call.

/** SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): the segments that carry the frame size. */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** The EXIF orientation (1..8) in an APP1 payload starting at `at`, or 1 when there is none. */
function exifOrientation(bytes: Buffer, at: number, end: number): number | null {
  if (bytes.toString('latin1', at, at + 6) !== 'Exif\0\0') return 1;
  const tiff = at + 6;
  if (tiff + 8 > end) return null;
  const little = bytes.toString('latin1', tiff, tiff + 2) === 'II';
  const u16 = (p: number): number => (little ? bytes.readUInt16LE(p) : bytes.readUInt16BE(p));
  const u32 = (p: number): number => (little ? bytes.readUInt32LE(p) : bytes.readUInt32BE(p));
  if (u16(tiff + 2) !== 42) return null;
  const ifd = tiff + u32(tiff + 4);
  if (ifd + 2 > end) return null;
  const entries = u16(ifd);
  for (let i = 0; i < entries; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > end) return null;
    if (u16(entry) === 0x0112) {
      const value = u16(entry + 8);
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}

/**
 * The frame size of a JPEG as stored and its EXIF orientation (1 when there is none), or null when
 * `bytes` is not a JPEG whose header this reader understands.
 */
export function jpegHeader(bytes: Buffer): { width: number; height: number; orientation: number } | null {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  let orientation = 1;
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1] as number;
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      at += 2; // segments without a length
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return null; // scan data or the end before any frame
    const end = at + 2 + bytes.readUInt16BE(at + 2);
    if (end > bytes.length) return null;
    if (marker === 0xe1 && orientation === 1) {
      const found = exifOrientation(bytes, at + 4, end);
      if (found === null) return null;
      orientation = found;
    }
    if (isStartOfFrame(marker)) {
      if (at + 9 > end) return null;
      const height = bytes.readUInt16BE(at + 5);
      const width = bytes.readUInt16BE(at + 7);
      if (width === 0 || height === 0) return null; // height given later by a DNL segment
      return { width, height, orientation };
    }
    at = end;
  }
  return null;
}

/**
 * Width and height of a JPEG as displayed after EXIF orientation, or null when `bytes` is not a
 * JPEG whose header this reader understands (the caller then asks libvips).
 */
export function jpegSize(bytes: Buffer): { width: number; height: number } | null {
  const header = jpegHeader(bytes);
  if (!header) return null;
  const { width, height, orientation } = header;
  return orientation >= 5 ? { width: height, height: width } : { width, height };
}
