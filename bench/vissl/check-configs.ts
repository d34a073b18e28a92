// Checks VISSL's own config files against this project, as a VISSL user would bring them: every
// ResNet config of the families ClusterFit users run is loaded (parse), and with --run also run to
// completion through the VISSL tool it was written for, on a small image folder (or, for configs
// that read torchvision_dataset, small files in torchvision's layouts), with only data-path and
// size overrides. VISSL's files are read from a checkout given on the command line
// (a work tree, or a bare git directory such as the `fetch` tool's mirror) and copied to a
// temporary folder, never into the project.
//
//   node dist/bench/vissl/check-configs.js <vissl checkout or git dir> [--run] [--only <substring>[,...]]
//       [--weights <checkpoint> --features <folder>] [--reverse] [--keep]
//
// --only keeps the configs whose path holds one of the comma-separated substrings; --weights ''
// runs them from random weights without RotNet's run; --keep keeps the temporary folder (removed
// otherwise), whose RotNet checkpoint and features a later run can take with --weights/--features.
//
// Prints one line per config (parse / run / the reason it failed) and the counts at the end.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import YAML from 'yaml';
import { loadConfig } from '../../src/config/index.js';
import { writeTorchvisionFiles } from './torchvision-files.js';

/** The config families a ClusterFit user of VISSL runs (folders under configs/config). */
const FAMILIES = [
  'pretrain/rotnet',
  'pretrain/clusterfit',
  'pretrain/supervised',
  'feature_extraction',
  'benchmark/linear_image_classification',
  'benchmark/nearest_neighbor',
  'benchmark/fulltune',
  // Only its SVM configs (train_svm_low_shot): the others fine-tune or run logistic regression.
  'benchmark/low_shot_transfer',
];

/** Folders of Hydra group fragments (composed with +config/<group>=<name>), not configs of their own. */
const GROUP_FOLDERS = new Set([
  'models',
  'models_coarse',
  'models_fine',
  'models_middle',
  'transforms',
  'datasets',
  'dataset',
  'optimization',
  'optimizers',
  'semi_sup_datasets',
  'trunk_only',
  'with_head',
]);

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

/** The files of configs/config/<family> as {relative path: text}, from a work tree or a git dir. */
function readVisslConfigs(checkout: string): Map<string, string> {
  const files = new Map<string, string>();
  const root = join(checkout, 'configs', 'config');
  if (existsSync(root) && statSync(root).isDirectory()) {
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith('.yaml')) files.set(relative(root, path), readFileSync(path, 'utf8'));
      }
    };
    for (const family of FAMILIES) if (existsSync(join(root, family))) walk(join(root, family));
    return files;
  }
  const git = (...args: string[]): string =>
    execFileSync('git', [`--git-dir=${checkout}`, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const names = git('ls-tree', '-r', '--name-only', 'HEAD', ...FAMILIES.map((f) => `configs/config/${f}`))
    .split('\n')
    .filter((name) => name.endsWith('.yaml'));
  for (const name of names) files.set(name.slice('configs/config/'.length), git('show', `HEAD:${name}`));
  return files;
}

/** A config of its own (not a group fragment) whose trunk is VISSL's ResNet (named, or the default). */
function isResNetConfig(path: string, text: string): boolean {
  const folders = path.split('/').slice(0, -1);
  if (folders.some((folder) => GROUP_FOLDERS.has(folder))) return false;
  // The ViT fine-tuning config takes its trunk from a models/ group file; its name says which.
  if (/(^|\/)eval_vit_/.test(path)) return false;
  if (path.startsWith('benchmark/low_shot_transfer/') && !path.endsWith('_svm.yaml')) return false;
  const doc = YAML.parse(text) as { config?: { MODEL?: { TRUNK?: { NAME?: string } } } } | null;
  const trunk = doc?.config?.MODEL?.TRUNK?.NAME ?? 'resnet';
  return trunk === 'resnet';
}

/** The VISSL tool a config was written for, and its engine. */
function toolFor(path: string): string[] {
  if (path.startsWith('benchmark/nearest_neighbor/')) return ['nearest_neighbor_test'];
  if (path.endsWith('_low_shot_svm.yaml')) return ['train_svm_low_shot'];
  if (path.endsWith('_svm.yaml')) return ['train_svm'];
  if (path.startsWith('pretrain/clusterfit/cluster_features')) return ['cluster_features_and_label'];
  return ['run_distributed_engines'];
}

/** root/{train,test}/<class>/<n>.jpg: a few 256x256 images, the size VISSL's transforms expect. */
async function makeImages(root: string): Promise<void> {
  for (const split of ['train', 'test']) {
    for (let c = 0; c < 2; c++) {
      const dir = join(root, split, `class${c}`);
      mkdirSync(dir, { recursive: true });
      for (let i = 0; i < 2; i++) {
        const pixels = Buffer.alloc(256 * 256 * 3);
        for (let p = 0; p < pixels.length; p++) pixels[p] = (p * (c + 3) + i * 17) % 251;
        await sharp(pixels, { raw: { width: 256, height: 256, channels: 3 } })
          .jpeg()
          .toFile(join(dir, `${i}.jpg`));
      }
    }
  }
}

/**
 * The weights a config gets: RotNet's checkpoint where the file names a PARAMS_FILE (a placeholder
 * such as "specify the model weights") and loads the trunk only (evaluation mode, or heads in
 * SKIP_LAYERS); else random weights. A config that loads heads expects a checkpoint with its own
 * heads (1000 classes, a SimCLR projection), which RotNet's 4-way head does not fit, in VISSL either.
 */
function weightsFor(text: string, rotnet: string): string {
  type Model = {
    WEIGHTS_INIT?: { PARAMS_FILE?: string; SKIP_LAYERS?: string[] };
    FEATURE_EVAL_SETTINGS?: { EVAL_MODE_ON?: boolean; EVAL_TRUNK_AND_HEAD?: boolean };
  };
  const model = (YAML.parse(text) as { config?: { MODEL?: Model } } | null)?.config?.MODEL;
  const init = model?.WEIGHTS_INIT;
  const evalSettings = model?.FEATURE_EVAL_SETTINGS;
  const trunkOnly =
    (evalSettings?.EVAL_MODE_ON === true && evalSettings.EVAL_TRUNK_AND_HEAD !== true) ||
    (init?.SKIP_LAYERS ?? []).includes('heads');
  return init?.PARAMS_FILE && trunkOnly ? rotnet : '';
}

/** Where the small data lives: an image folder per split, and torchvision's files under one root. */
interface SmallData {
  images: string;
  torchvision: string;
}

/** Whether the config's split reads torchvision_dataset (VISSL's files name no DATA_PATHS for it). */
function readsTorchvision(text: string, split: string): boolean {
  type Split = { DATA_SOURCES?: string[] };
  const data = (YAML.parse(text) as { config?: { DATA?: Record<string, Split> } } | null)?.config?.DATA;
  return (data?.[split]?.DATA_SOURCES ?? []).includes('torchvision_dataset');
}

/**
 * Data-path and size overrides: the small folder (torchvision's small files where the config reads
 * torchvision_dataset, its sources kept), small batches, one epoch, one CPU process.
 */
function smallRunOverrides(data: SmallData, text: string, out: string, weights: string, features: string): string[] {
  const set = (key: string, value: unknown): string => `config.${key}=${JSON.stringify(value)}`;
  const words: string[] = [];
  for (const split of ['TRAIN', 'TEST']) {
    if (readsTorchvision(text, split)) words.push(set(`DATA.${split}.DATA_PATHS`, [data.torchvision]));
    else
      words.push(
        set(`DATA.${split}.DATA_SOURCES`, ['disk_folder']),
        set(`DATA.${split}.LABEL_SOURCES`, ['disk_folder']),
        set(`DATA.${split}.DATA_PATHS`, [join(data.images, split.toLowerCase())]),
        set(`DATA.${split}.LABEL_PATHS`, [join(data.images, split.toLowerCase())]),
      );
    words.push(set(`DATA.${split}.BATCHSIZE_PER_REPLICA`, 2));
  }
  words.push(
    set('DATA.NUM_DATALOADER_WORKERS', 1),
    set('OPTIMIZER.num_epochs', 1),
    set('DISTRIBUTED.NUM_NODES', 1),
    set('DISTRIBUTED.NUM_PROC_PER_NODE', 1),
    set('MACHINE.DEVICE', 'cpu'),
    set('CHECKPOINT.DIR', out),
    set('MODEL.WEIGHTS_INIT.PARAMS_FILE', weights),
    set('CLUSTERFIT.NUM_CLUSTERS', 2),
    set('CLUSTERFIT.OUTPUT_DIR', out),
    set('CLUSTERFIT.FEATURES.PATH', features),
    set('NEAREST_NEIGHBOR.TOPK', 2),
  );
  // 2 images per class cannot be split in VISSL's 3 cross-validation folds.
  if ((YAML.parse(text) as { config?: { SVM?: unknown } } | null)?.config?.SVM !== undefined)
    words.push(set('SVM.cross_val_folds', 2));
  return words;
}

/** The first line of a failed command's error, for the report. */
function reason(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  const error = lines.findIndex((l) => l.startsWith('error:'));
  return (error >= 0 ? lines.slice(error, error + 3) : lines.slice(-3)).join(' | ').slice(0, 400);
}

async function main(argv: string[]): Promise<void> {
  const checkout = argv.find((a) => !a.startsWith('--'));
  if (checkout === undefined) {
    throw new Error(
      'usage: node dist/bench/vissl/check-configs.js <vissl checkout or git dir> [--run] [--only S] [--keep]',
    );
  }
  const run = argv.includes('--run');
  const option = (name: string): string | undefined => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
  const only = option('--only')?.split(',');
  // --weights/--features: a RotNet checkpoint and extracted res5 features from an earlier run, so
  // several runs can share the work (the producing configs are then only parsed).
  const given = { weights: option('--weights'), features: option('--features') };
  const reverse = argv.includes('--reverse');
  const files = readVisslConfigs(resolve(checkout));
  // The temporary folder (configs, images, every run's output: hundreds of MB with --run).
  const work = mkdtempSync(join(tmpdir(), 'vissl-check-'));
  try {
    await checkConfigs(files, work, { run, only, given, reverse });
  } finally {
    if (argv.includes('--keep')) console.log(`work folder kept: ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

async function checkConfigs(
  files: Map<string, string>,
  work: string,
  {
    run,
    only,
    given,
    reverse,
  }: {
    run: boolean;
    only: string[] | undefined;
    given: { weights: string | undefined; features: string | undefined };
    reverse: boolean;
  },
): Promise<void> {
  for (const [path, text] of files) {
    mkdirSync(dirname(join(work, 'configs', 'config', path)), { recursive: true });
    writeFileSync(join(work, 'configs', 'config', path), text);
  }
  // Runs that make what later runs read: RotNet's checkpoint is everyone's PARAMS_FILE, the
  // extraction's features are the cluster tool's FEATURES.PATH.
  const order = (path: string): number =>
    path.startsWith('pretrain/rotnet') ? 0 : path.startsWith('feature_extraction') ? 1 : 2;
  const configs = [...files]
    .filter(([path, text]) => isResNetConfig(path, text) && (only?.some((s) => path.includes(s)) ?? true))
    .sort(([a], [b]) => order(a) - order(b) || (reverse ? b.localeCompare(a) : a.localeCompare(b)));
  const data: SmallData = { images: join(work, 'images'), torchvision: join(work, 'torchvision') };
  if (run) {
    await makeImages(data.images);
    writeTorchvisionFiles(data.torchvision);
  }
  // RotNet starts from random weights; every later run from RotNet's checkpoint.
  let weights = given.weights ?? '';
  const features = given.features ?? join(work, 'runs', 'features_rn50_layers');
  const counts = { parsed: 0, ran: 0 };
  const failures: string[] = [];
  const runOne = (label: string, words: string[]): boolean => {
    const started = performance.now();
    const result = spawnSync(process.execPath, [CLI, ...words], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const seconds = ((performance.now() - started) / 1000).toFixed(0);
    if (result.status === 0) {
      console.log(`run ok     ${label} (${seconds} s)`);
      return true;
    }
    failures.push(`${label}: run: ${reason(result.stderr)}`);
    console.log(`RUN FAIL   ${label} (${seconds} s): ${reason(result.stderr)}`);
    return false;
  };
  for (const [path] of configs) {
    const file = join(work, 'configs', 'config', path);
    try {
      loadConfig({ config: file, warn: () => {} });
      counts.parsed++;
    } catch (error) {
      const message = (error as Error).message.replace(/\s+/g, ' ');
      failures.push(`${path}: parse: ${message}`);
      console.log(`PARSE FAIL ${path}: ${message}`);
      continue;
    }
    if (!run) {
      console.log(`parse ok   ${path}`);
      continue;
    }
    if (order(path) < 2 && given.weights !== undefined) {
      console.log(`parse ok   ${path} (not run: --weights given)`);
      continue;
    }
    const out = join(work, 'runs', path.replace(/\.yaml$/, '').replaceAll('/', '_'));
    const ok = runOne(path, [
      ...toolFor(path),
      `config=${file}`,
      ...smallRunOverrides(data, files.get(path)!, out, weightsFor(files.get(path)!, weights), features),
    ]);
    if (ok) counts.ran++;
    if (ok && path.startsWith('pretrain/rotnet')) weights = join(out, 'checkpoint.torch');
    if (path.startsWith('feature_extraction/extract_resnet')) {
      // VISSL's documented extraction command composes a trunk_only group; its res5 features are
      // what the cluster config reads (FEATURES.PATH), as in VISSL's ClusterFit recipe.
      const group = '+config/feature_extraction/trunk_only=rn50_layers';
      const composed = runOne(`${path} ${group}`, [
        'run_distributed_engines',
        `config=${path.replace(/\.yaml$/, '')}`,
        group,
        `hydra.searchpath=[${join(work, 'configs')}]`,
        ...smallRunOverrides(data, files.get(path)!, features, weights, features),
      ]);
      console.log(`           (command form with a group file: ${composed ? 'ok' : 'failed'})`);
    }
  }
  console.log(
    `\n${configs.length} ResNet configs in ${FAMILIES.join(', ')}: ${counts.parsed} parse` +
      (run ? `, ${counts.ran} run to completion` : '') +
      `\nfailures (${failures.length}):\n${failures.map((f) => `  ${f}`).join('\n')}`,
  );
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`error: ${(error as Error).message}`);
  process.exit(1);
});
