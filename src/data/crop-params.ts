// torchvision's geometry, reproduced number for number: output sizes of Resize, the offsets of
// CenterCrop and RandomResizedCrop's parameter sampler. Pure functions of the image size (and
// of uniform draws), so they can be checked against torchvision given the same draws.

export interface Box {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** Python 3's round(): halves go to the even neighbour. */
export function pyRound(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** torchvision.transforms.functional._compute_resized_output_size, as [height, width]. */
export function resizedSize(height: number, width: number, size: number | [number, number]): [number, number] {
  if (Array.isArray(size)) return size;
  const [short, long] = width <= height ? [width, height] : [height, width];
  if (short === size) return [height, width];
  const newLong = Math.trunc((size * long) / short);
  return width <= height ? [newLong, size] : [size, newLong];
}

/**
 * torchvision's center_crop: the crop box, and the zero padding (left, top, right, bottom) applied
 * first when the crop is larger than the image.
 */
export function centerCropBox(
  height: number,
  width: number,
  [cropH, cropW]: [number, number],
): { pad: [number, number, number, number]; box: Box } {
  const pad: [number, number, number, number] = [
    cropW > width ? Math.floor((cropW - width) / 2) : 0,
    cropH > height ? Math.floor((cropH - height) / 2) : 0,
    cropW > width ? Math.floor((cropW - width + 1) / 2) : 0,
    cropH > height ? Math.floor((cropH - height + 1) / 2) : 0,
  ];
  const paddedH = height + pad[1] + pad[3];
  const paddedW = width + pad[0] + pad[2];
  const top = Math.trunc(pyRound((paddedH - cropH) / 2));
  const left = Math.trunc(pyRound((paddedW - cropW) / 2));
  return { pad, box: { top, left, height: cropH, width: cropW } };
}

/** Where the draws of RandomResizedCrop come from: torch.empty(1).uniform_(a, b) and torch.randint(a, b). */
export interface Draws {
  uniform(low: number, high: number): number;
  randint(low: number, high: number): number;
}

/**
 * torchvision.transforms.RandomResizedCrop.get_params (0.14): ten tries at an area fraction in
 * `scale` and a log-uniform aspect ratio in `ratio`, then the central crop clamped to `ratio`.
 * Math.fround mirrors the float32 tensors torchvision draws and takes logs in.
 */
export function randomResizedCropBox(
  height: number,
  width: number,
  scale: [number, number],
  ratio: [number, number],
  draws: Draws,
): Box {
  const area = height * width;
  const logRatio = [
    Math.fround(Math.log(Math.fround(ratio[0]))),
    Math.fround(Math.log(Math.fround(ratio[1]))),
  ] as const;
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * Math.fround(draws.uniform(scale[0], scale[1]));
    const aspect = Math.fround(Math.exp(Math.fround(draws.uniform(logRatio[0], logRatio[1]))));
    const w = Math.trunc(pyRound(Math.sqrt(targetArea * aspect)));
    const h = Math.trunc(pyRound(Math.sqrt(targetArea / aspect)));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = draws.randint(0, height - h + 1);
      const left = draws.randint(0, width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = width / height;
  let [w, h] = [width, height];
  if (inRatio < Math.min(...ratio)) h = Math.trunc(pyRound(w / Math.min(...ratio)));
  else if (inRatio > Math.max(...ratio)) w = Math.trunc(pyRound(h * Math.max(...ratio)));
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}
