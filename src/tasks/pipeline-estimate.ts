// The whole pipeline's ETA, not only the current stage's: every stage's work counted up front in
// images through the network (training images forward and backward, extracted and tested images
// forward only), and timed by the rates measured so far in this run. The current stage's own ETA
// covers its part; each stage still to come adds its images divided by the measured rate of its
// kind of work. Before a kind is measured it is taken from the other: a forward pass alone runs
// about 3 times as fast as a training step's forward and backward. The estimate sharpens as each
// kind of work is measured (RotNet trains on 4 rotations of each image, so its rate makes the
// ClusterFit stage look slower than it is until ClusterFit's own first steps).
import type { Config } from '../config/index.js';
import type { ProgressEvent } from '../engine/run-logger.js';
import type { PipelineStage } from './pipeline-presets.js';

export type WorkKind = 'train' | 'forward';

/** One stage's work: images through the network, by kind (per rank, as progress events count them). */
export interface StageWork {
  stage: PipelineStage | 'evaluate random' | 'evaluate rotnet' | 'evaluate clusterfit';
  train: number;
  forward: number;
}

/** A forward pass alone against a training step (forward and backward): about 1 to 3. */
export const FORWARD_SPEEDUP = 3;

/** Test passes of a training of `epochs` epochs testing every `every` and after the last. */
function testPasses(cfg: Config, epochs: number): number {
  if (!cfg.TEST_MODEL || cfg.DATA.TEST.DATA_PATHS.length === 0) return 0;
  const every = Math.max(1, cfg.TEST_EVERY_NUM_EPOCH);
  return Math.floor(epochs / every) + (epochs % every === 0 ? 0 : 1);
}

/**
 * The pipeline's work from its stage configs and the image counts of its train and test splits
 * (per rank). The cluster and evaluation stages extract features of both splits.
 */
export function pipelineWork(
  configs: { pretrain: Config; train: Config },
  images: { train: number; test: number },
): StageWork[] {
  const training = (stage: 'pretrain' | 'train', cfg: Config): StageWork => ({
    stage,
    train: cfg.OPTIMIZER.num_epochs * images.train,
    forward: testPasses(cfg, cfg.OPTIMIZER.num_epochs) * images.test,
  });
  const extraction = images.train + images.test;
  return [
    training('pretrain', configs.pretrain),
    { stage: 'cluster', train: 0, forward: extraction },
    training('train', configs.train),
    ...(['random', 'rotnet', 'clusterfit'] as const).map((model): StageWork => ({
      stage: `evaluate ${model}`,
      train: 0,
      forward: extraction,
    })),
  ];
}

/** Which kind of work a progress event is, by its label (the trainer's and the extraction's). */
export function workKind(label: string): WorkKind {
  return /\bepoch \d+\/\d+$/.test(label) ? 'train' : 'forward';
}

export class PipelineEstimate {
  readonly #work: StageWork[];
  #current = -1;
  readonly #rates: Partial<Record<WorkKind, number>> = {};
  /** The current stage's own ETA, from its latest progress event. */
  #currentEta = Infinity;

  constructor(work: StageWork[]) {
    this.#work = work;
  }

  /** The pipeline starts `stage` (a finished one is started and ends at once). */
  start(stage: StageWork['stage']): void {
    this.#current = this.#work.findIndex((w) => w.stage === stage);
    this.#currentEta = Infinity;
  }

  /** `stage` reads features extracted before (the cluster stage's): it has no forward pass of its own. */
  reuse(stage: StageWork['stage']): void {
    const work = this.#work.find((w) => w.stage === stage);
    if (work) work.forward = 0;
  }

  /** A progress event of the current stage; returns the whole run's ETA in seconds. */
  observe(event: ProgressEvent): number {
    if (event.rate > 0) this.#rates[workKind(event.label)] = event.rate;
    this.#currentEta = event.etaSeconds;
    return this.etaSeconds();
  }

  /** Images per second of `kind`: measured, or taken from the other kind; undefined before any. */
  rate(kind: WorkKind): number | undefined {
    const { train, forward } = this.#rates;
    if (kind === 'train') return train ?? (forward === undefined ? undefined : forward / FORWARD_SPEEDUP);
    return forward ?? (train === undefined ? undefined : train * FORWARD_SPEEDUP);
  }

  /** Seconds left in the whole run: the current stage's ETA, then every later stage's images at the measured rates. */
  etaSeconds(): number {
    let seconds = this.#current < 0 ? 0 : this.#currentEta;
    for (const work of this.#work.slice(this.#current + 1)) {
      for (const kind of ['train', 'forward'] as const) {
        if (work[kind] === 0) continue;
        const rate = this.rate(kind);
        seconds += rate === undefined ? Infinity : work[kind] / rate;
      }
    }
    return seconds;
  }
}
