// The whole of ClusterFit in one output folder: RotNet pretraining -> features and k-means ->
// training a fresh network on the cluster ids -> evaluation of both networks' features, ending in
// one table. Each stage is a shipped config; the pipeline only wires the stages' paths together
// (and the ClusterFit head's width to NUM_CLUSTERS), so running the stages one by one with
// `clusterfit run` gives the same result. Running it again resumes: finished training stages are
// not repeated, a stopped one continues from its checkpoint.
//
// On several processes (DISTRIBUTED.NUM_PROC_PER_NODE / NUM_NODES, or torchrun/srun), every rank
// runs this same sequence: each stage joins the one process group and ends with its ranks in step
// (rank 0's checkpoint, labels and summaries exist before any rank starts the next stage), and
// only rank 0 logs to the run folder and prints the table.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig, type Config } from '../config/index.js';
import { distributed } from '../torch/index.js';
import { clusterTask, type ClusterResult } from './cluster.js';
import { taskLogger, type TaskOptions } from './context.js';
import { evaluateTask, type EvaluateResult } from './evaluate.js';
import { extractTask, type ExtractResult } from './extract.js';
import { datasetFromConfig } from './data.js';
import { PipelineEstimate, pipelineWork } from './pipeline-estimate.js';
import { evaluationServesClustering } from './pipeline-features.js';
import { PIPELINE_PRESETS, PIPELINE_STAGES, type PipelineStage } from './pipeline-presets.js';
import { PipelineTime, type StageTime } from './pipeline-time.js';
import { trainTask } from './train.js';

export { PIPELINE_PRESETS, PIPELINE_STAGES, type PipelineStage } from './pipeline-presets.js';

export interface PipelineOptions extends TaskOptions {
  preset: string;
  /** The run folder; every stage writes under it. */
  outputDir: string;
  /** An image-folder root with train/ and test/ (<class>/<image> inside), replacing the configs' data paths. */
  dataRoot?: string;
  /** `config.KEY=value` words applied to every stage. */
  overrides?: string[];
  /** `config.KEY=value` words per stage. */
  stageOverrides?: Partial<Record<PipelineStage, string[]>>;
}

export interface PipelineResult {
  /** False when a stage was stopped (Ctrl-C); running the pipeline again resumes. */
  completed: boolean;
  clusters?: ClusterResult;
  /** The same network with random weights: what the features are worth without any training. */
  random?: EvaluateResult;
  rotnet?: EvaluateResult;
  clusterfit?: EvaluateResult;
  table?: string;
  seconds: number;
  /** Wall and CPU seconds per stage and per part of each stage (stages run this time, not skipped ones' past). */
  time: StageTime[];
  /** `time` as a table, for people. */
  timeTable: string;
}

/** The three evaluated models as the table names them. */
const MODEL_NAMES = { random: 'random init', rotnet: 'RotNet', clusterfit: 'ClusterFit' } as const;

/** `config.KEY=value` with the value as JSON (valid YAML), so paths with any characters survive. */
function set(key: string, value: unknown): string {
  return `config.${key}=${JSON.stringify(value)}`;
}

function dataOverrides(root: string | undefined, labelType?: string): string[] {
  if (root === undefined) return [];
  const words = [
    set('DATA.TRAIN.DATA_PATHS', [join(root, 'train')]),
    set('DATA.TEST.DATA_PATHS', [join(root, 'test')]),
  ];
  if (labelType) words.push(set('DATA.TRAIN.LABEL_TYPE', labelType), set('DATA.TEST.LABEL_TYPE', labelType));
  return words;
}

/** The train stage's head, its last width set to the number of clusters. */
function headForClusters(cfg: Config, numClusters: number): unknown[] {
  const params = structuredClone(cfg.MODEL.HEAD.PARAMS) as [string, { dims?: number[] }][];
  const last = params[params.length - 1];
  if (!last || last[0] !== 'mlp' || !Array.isArray(last[1]?.dims)) {
    throw new Error(
      `the train stage's MODEL.HEAD.PARAMS must end with an mlp head to size it to the ${numClusters} clusters`,
    );
  }
  const dims = last[1].dims;
  dims[dims.length - 1] = numClusters;
  return params;
}

function presetConfigs(preset: string): Record<PipelineStage, string> {
  const configs = PIPELINE_PRESETS[preset];
  if (configs === undefined) {
    throw new Error(`unknown pipeline preset '${preset}': use one of ${Object.keys(PIPELINE_PRESETS).join(', ')}`);
  }
  return configs;
}

/** A data root without train/ and test/ is refused before the run folder is made (or a worker starts). */
function checkDataRoot(options: PipelineOptions): void {
  if (options.dataRoot === undefined) return;
  for (const split of ['train', 'test']) {
    const folder = join(options.dataRoot, split);
    if (!existsSync(folder)) {
      throw new Error(
        `data=${options.dataRoot}: '${folder}' does not exist; the pipeline reads <root>/train and <root>/test, ` +
          'each holding <class>/<image> folders',
      );
    }
  }
}

/** `stage`'s shipped config with the pipeline's wiring `words`, then the user's overrides. */
function stageConfig(
  options: PipelineOptions,
  stage: PipelineStage,
  words: string[],
  warn?: (message: string) => void,
): Config {
  return loadConfig({
    config: presetConfigs(options.preset)[stage],
    overrides: [...words, ...(options.overrides ?? []), ...(options.stageOverrides?.[stage] ?? [])],
    ...(warn ? { warn } : {}),
  });
}

/**
 * The configs the launcher starts the pipeline's processes from, one per stage: the first gives the
 * layout. One set of processes runs all four stages, so they must ask for the same layout; a stage
 * override that changes it is refused here, before any process starts, naming the stage.
 */
export function pipelineLaunchConfigs(options: PipelineOptions): Config[] {
  const layout = (cfg: Config): string => `${cfg.DISTRIBUTED.NUM_NODES} x ${cfg.DISTRIBUTED.NUM_PROC_PER_NODE}`;
  checkDataRoot(options);
  // Silent: runPipeline reads the same configs and says their warnings through the run's logger.
  const configs = PIPELINE_STAGES.map((stage) => stageConfig(options, stage, [], () => {}));
  const first = configs[0]!;
  for (const [i, cfg] of configs.entries()) {
    if (layout(cfg) !== layout(first)) {
      throw new Error(
        `the pipeline runs every stage on the same processes, but DISTRIBUTED.NUM_NODES x NUM_PROC_PER_NODE is ` +
          `${layout(cfg)} for the ${PIPELINE_STAGES[i]} stage and ${layout(first)} for the pretrain stage: set them for all stages ` +
          '(config.DISTRIBUTED.KEY=value, without a stage prefix)',
      );
    }
  }
  return configs;
}

/**
 * The whole run's estimate from the stages' configs and the images of the data (each rank's share).
 * Undefined when the data cannot be listed: the stage that reads it says why, with its fix.
 */
function runEstimate(options: PipelineOptions): PipelineEstimate | undefined {
  const silent = (): void => {};
  try {
    const pretrain = stageConfig(options, 'pretrain', dataOverrides(options.dataRoot), silent);
    const train = stageConfig(options, 'train', [], silent);
    const world = distributed.rendezvousFromEnv(process.env)?.worldSize ?? 1;
    const share = (n: number): number => Math.ceil(n / world);
    const images = {
      train: share(datasetFromConfig(pretrain.DATA.TRAIN, 'TRAIN').samples.length),
      test:
        pretrain.DATA.TEST.DATA_PATHS.length > 0
          ? share(datasetFromConfig(pretrain.DATA.TEST, 'TEST').samples.length)
          : 0,
    };
    return new PipelineEstimate(pipelineWork({ pretrain, train }, images));
  } catch {
    return undefined;
  }
}

/**
 * The whole method in one folder: RotNet pretraining (`<out>/rotnet`), its features and k-means
 * (`rotnet_features`, `clusters`), ClusterFit training on the cluster labels (`clusterfit`), and the
 * evaluation of a random-init, the RotNet and the ClusterFit model (`eval_*`), from the preset's
 * shipped configs. Finished stages are skipped and a stopped one resumes when it is called again;
 * `completed` is false when `options.stop` stopped it. Each stage records its state in its folder.
 */
export async function runPipeline(options: PipelineOptions): Promise<PipelineResult> {
  presetConfigs(options.preset);
  checkDataRoot(options);
  const started = performance.now();
  const out = resolve(options.outputDir);
  const logger = taskLogger(options, out, distributed.rendezvousFromEnv(process.env)?.rank ?? 0);
  const taskOptions: TaskOptions = { logger, stop: options.stop };
  const load = (stage: PipelineStage, words: string[]): Config =>
    stageConfig(options, stage, words, (message) => logger.warn(message));
  const dirs = {
    rotnet: join(out, 'rotnet'),
    features: join(out, 'rotnet_features'),
    clusters: join(out, 'clusters'),
    clusterfit: join(out, 'clusterfit'),
  };
  const time = new PipelineTime();
  const result: PipelineResult = { completed: false, seconds: 0, time: time.stages, timeTable: '' };
  // The progress bar's `run ETA` and the events' runEtaSeconds: the whole pipeline's time left.
  const estimate = runEstimate(options);
  if (estimate) logger.setRunEstimate((event) => estimate.observe(event));
  logger.setMetricsObserver((event, fields) => time.observe(event, fields));
  try {
    return await stages();
  } finally {
    logger.setRunEstimate(undefined);
    logger.setMetricsObserver(undefined);
  }

  async function stages(): Promise<PipelineResult> {
    const stage = (name: string, work: Parameters<PipelineEstimate['start']>[0]): void => {
      logger.info(`\n== ${name} ==`);
      estimate?.start(work);
      time.begin(name);
    };

    stage('1/4 RotNet pretraining', 'pretrain');
    const pretrain = await trainTask(
      load('pretrain', [...dataOverrides(options.dataRoot), set('CHECKPOINT.DIR', dirs.rotnet)]),
      taskOptions,
    );
    if (!pretrain.completed) return finish();
    const rotnetWeights = join(dirs.rotnet, 'checkpoint.torch');

    stage('2/4 features and k-means', 'cluster');
    const clusterWords = [
      ...dataOverrides(options.dataRoot, 'sample_index'),
      set('MODEL.WEIGHTS_INIT.PARAMS_FILE', rotnetWeights),
      set('CLUSTERFIT.FEATURES.EXTRACT', true),
      set('CLUSTERFIT.FEATURES.PATH', dirs.features),
      set('CLUSTERFIT.OUTPUT_DIR', dirs.clusters),
      set('CHECKPOINT.DIR', dirs.clusters),
    ];
    const clusterCfg = load('cluster', clusterWords);
    const rotnetEvaluation = evaluateConfig('rotnet', rotnetWeights);
    // One pass over the images for the k-means and the RotNet's evaluation, when they would extract
    // the same features (pipeline-features.ts): the cluster stage then reads the evaluation's files.
    let rotnetFeatures: ExtractResult | undefined;
    if (evaluationServesClustering(clusterCfg, rotnetEvaluation)) {
      logger.info(
        `the RotNet's features serve both the k-means and its evaluation: extracted once, in ${dirs.features}`,
      );
      rotnetFeatures = await extractTask(rotnetEvaluation, {
        ...taskOptions,
        outputDir: dirs.features,
        partitions: ['TRAIN', 'TEST'],
      });
      estimate?.reuse('evaluate rotnet');
    }
    result.clusters = await clusterTask(
      rotnetFeatures ? load('cluster', [...clusterWords, set('CLUSTERFIT.FEATURES.EXTRACT', false)]) : clusterCfg,
      taskOptions,
    );
    const trainSplit = result.clusters.splits[0];
    if (trainSplit === undefined) throw new Error('the cluster stage labelled no images');

    stage('3/4 ClusterFit training on the cluster ids', 'train');
    const trainWords = [
      set('DATA.TRAIN.DATA_SOURCES', ['disk_filelist']),
      set('DATA.TRAIN.DATA_PATHS', [trainSplit.imagesFile]),
      set('DATA.TRAIN.LABEL_SOURCES', ['disk_filelist']),
      set('DATA.TRAIN.LABEL_PATHS', [trainSplit.labels]),
      set('CHECKPOINT.DIR', dirs.clusterfit),
    ];
    const trainCfg = load('train', trainWords);
    const clusterfit = await trainTask(
      load('train', [...trainWords, set('MODEL.HEAD.PARAMS', headForClusters(trainCfg, result.clusters.numClusters))]),
      taskOptions,
    );
    if (!clusterfit.completed) return finish();

    logger.info('\n== 4/4 evaluation of the features: random init, RotNet, ClusterFit ==');
    const evaluate = (
      model: keyof typeof MODEL_NAMES,
      cfg: Config,
      features?: ExtractResult,
    ): Promise<EvaluateResult> => {
      estimate?.start(`evaluate ${model}`);
      time.begin(`4/4 evaluation of ${MODEL_NAMES[model]}`);
      return evaluateTask(cfg, { ...taskOptions, ...(features ? { features } : {}) });
    };
    result.random = await evaluate('random', evaluateConfig('random', ''));
    result.rotnet = await evaluate('rotnet', rotnetEvaluation, rotnetFeatures);
    result.clusterfit = await evaluate(
      'clusterfit',
      evaluateConfig('clusterfit', join(dirs.clusterfit, 'checkpoint.torch')),
    );
    result.completed = true;
    result.table = comparisonTable(
      { random: result.random, rotnet: result.rotnet, clusterfit: result.clusterfit },
      result.clusters,
    );
    return finish();

    /** The evaluate stage's config for `model`, whose weights are `weights` ('' for random init). */
    function evaluateConfig(model: keyof typeof MODEL_NAMES, weights: string): Config {
      return load('evaluate', [
        ...dataOverrides(options.dataRoot, 'standard'),
        set('MODEL.WEIGHTS_INIT.PARAMS_FILE', weights),
        set('CHECKPOINT.DIR', join(out, `eval_${model}`)),
      ]);
    }

    function finish(): PipelineResult {
      time.end();
      result.seconds = (performance.now() - started) / 1000;
      result.timeTable = time.table();
      if (!result.completed) logger.info('pipeline stopped; run the same command again to resume');
      logger.metrics('pipeline_summary', {
        completed: result.completed,
        seconds: result.seconds,
        random: result.random?.layers,
        rotnet: result.rotnet?.layers,
        clusterfit: result.clusterfit?.layers,
        clusters: result.clusters?.stats,
        time: result.time,
      });
      return result;
    }
  }
}

/** Accuracy per layer of the random-init, RotNet and ClusterFit features, then the cluster statistics. */
export function comparisonTable(
  runs: { random: EvaluateResult; rotnet: EvaluateResult; clusterfit: EvaluateResult },
  clusters: ClusterResult,
): string {
  const pct = (v: number | undefined): string => (v === undefined ? '-' : v.toFixed(2));
  const header = `${'features'.padEnd(24)} ${'linear top-1'.padStart(12)} ${'top-5'.padStart(6)} ${'kNN top-1'.padStart(10)}`;
  const rows = [header, '-'.repeat(header.length)];
  for (const model of ['random', 'rotnet', 'clusterfit'] as const) {
    const name = MODEL_NAMES[model];
    for (const s of runs[model].layers) {
      rows.push(
        `${`${name} ${s.layer}`.padEnd(24)} ${pct(s.linear?.top1).padStart(12)} ${pct(s.linear?.top5).padStart(6)} ${pct(s.knn.top1).padStart(10)}`,
      );
    }
  }
  const train = clusters.splits[0];
  const s = clusters.stats;
  rows.push(
    '',
    `clusters: K=${clusters.numClusters} on ${train?.images ?? 0} train images (${clusters.dim}-d features); ` +
      `sizes min ${s.smallest} / median ${s.median} / max ${s.largest}, ${s.empty} empty, imbalance ${s.imbalance.toFixed(2)}; ` +
      `k-means objective ${clusters.objective[0]?.toFixed(1)} -> ${clusters.objective[clusters.objective.length - 1]?.toFixed(1)}`,
    `evaluated on ${runs.rotnet.testImages} test images (probes trained on ${runs.rotnet.trainImages}); linear = linear probe on frozen features`,
  );
  return rows.join('\n');
}
