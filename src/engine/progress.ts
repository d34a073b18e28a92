// How far a whole training run is, in images: the progress bar and the metrics' eta_s count every
// epoch still to come, not only the current one, and divide images by images per second (a bar that
// divided steps left by images per second said `3/44 122 img/s ETA 0s` with 11 s to go).

export interface RunProgressInput {
  /** Epoch (0-based) and step within it, after the step just finished. */
  epoch: number;
  step: number;
  stepsPerEpoch: number;
  numEpochs: number;
  /** Images in an epoch, exactly (its last batch may be smaller than the others). */
  imagesPerEpoch: number;
  /** Images in a full batch. */
  batchSize: number;
  /** Images trained in this call (since it started or resumed) and the seconds it has taken. */
  imagesThisRun: number;
  seconds: number;
}

export interface RunProgress {
  imagesDone: number;
  imagesTotal: number;
  /** Images per second since this call started (checkpoints and test passes included). */
  rate: number;
  /** Seconds until the last epoch ends at that rate; Infinity before the rate is known. */
  etaSeconds: number;
}

export function runProgress(p: RunProgressInput): RunProgress {
  // Exact counts, so the total stays put and the bar ends on it (1400 images, not 44 x 32 = 1408).
  const imagesTotal = p.numEpochs * p.imagesPerEpoch;
  const imagesDone = Math.min(
    imagesTotal,
    p.epoch * p.imagesPerEpoch + Math.min(p.imagesPerEpoch, p.step * p.batchSize),
  );
  const rate = p.seconds > 0 ? p.imagesThisRun / p.seconds : 0;
  return { imagesDone, imagesTotal, rate, etaSeconds: rate > 0 ? (imagesTotal - imagesDone) / rate : Infinity };
}
