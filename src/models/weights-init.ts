// Initialising a model from a weights file, with VISSL's MODEL.WEIGHTS_INIT semantics
// (vissl/utils/checkpoint.py, init_model_from_consolidated_weights):
//
// 1. Descend the file by STATE_DICT_KEY_NAME ('' = the file is the state dict; a list = one key per
//    level).
// 2. Under 'classy_state_dict' (a VISSL checkpoint), take base_model.model.trunk and .heads and
//    prefix their names with 'trunk.' and 'heads.'. VISSL ignores REMOVE_PREFIX and APPEND_PREFIX
//    there; so do we, but we say so. Otherwise strip a leading REMOVE_PREFIX, then prepend
//    APPEND_PREFIX.
// 3. For every name of the model's state dict (parameters and buffers): skip it if any SKIP_LAYERS
//    string is a substring of it (the default skips num_batches_tracked), skip 'heads.*' unless
//    heads are initialised, otherwise copy the file's tensor into it; shapes must match.
//
// Where VISSL stays quiet we speak: a load that matches nothing fails with the names expected
// beside the names found and a guess at the prefixes that would fix it, and what was left out is
// reported and logged.
//
// Feature extractors: VISSL wraps a frozen trunk as 'trunk.base_model.*' and saves its trunk as
// 'base_model.*'. Both directions are translated, as VISSL's get_checkpoint_model_state_dict does;
// whether the model is such an extractor is read from its own state dict names unless told.
import { existsSync } from 'node:fs';
import { Tensor } from '../torch/tensor.js';
import { disposeTensors, loadCheckpoint, readSafetensors } from '../torch/io/index.js';
import type { AnyModule, StateDict } from '../torch/nn/module.js';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

const CONSOLE_LOGGER: Logger = {
  info: (message) => console.log(message),
  warn: (message) => console.warn(message),
};

/** MODEL.WEIGHTS_INIT (VISSL's key names) plus what VISSL reads from elsewhere in its config. */
export interface WeightsInitOptions {
  /** The weights file: a PyTorch checkpoint (zip or legacy format) or, by its extension, safetensors. */
  PARAMS_FILE?: string;
  /** An already loaded checkpoint to use instead of PARAMS_FILE; the caller keeps its tensors. */
  checkpoint?: unknown;
  /** Where the state dict is in the file: a key, one key per level, or '' for the file itself. */
  STATE_DICT_KEY_NAME?: string | readonly string[];
  /** Model names containing any of these strings are left as they are. */
  SKIP_LAYERS?: readonly string[];
  /** Stripped from the start of each file name (not under classy_state_dict). */
  REMOVE_PREFIX?: string | null;
  /** Prepended to each file name after REMOVE_PREFIX (not under classy_state_dict). */
  APPEND_PREFIX?: string | null;
  /** Load 'heads.*' too (VISSL's should_init_head_weights: true unless evaluating a frozen trunk). */
  initHeads?: boolean;
  /** The model wraps its trunk as 'trunk.base_model.*'; read from the model's names when not given. */
  isFeatureExtractor?: boolean;
  /** Fail when model names are left unset (VISSL's strict). */
  strict?: boolean;
  logger?: Logger;
}

/** What a load did, by model state dict name (file names for `unexpected`). */
export interface WeightsInitReport {
  loaded: string[];
  /** Left out on purpose: SKIP_LAYERS, or heads when they are not initialised. */
  skipped: string[];
  /** Model names the file does not have. */
  missing: string[];
  /** File names (after prefix handling) the model does not have. */
  unexpected: string[];
  warnings: string[];
}

/** VISSL's defaults (vissl/config/defaults.yaml, MODEL.WEIGHTS_INIT). */
const DEFAULT_KEY_NAME = 'classy_state_dict';
const DEFAULT_SKIP_LAYERS = ['num_batches_tracked'];
/** How many names an error or log line lists before '...'. */
const SAMPLE = 8;

/**
 * Copies weights from a file (or a loaded checkpoint) into `model`'s parameters and buffers, in
 * place. Nothing is copied unless every chosen tensor has the model's shape.
 */
export function initModelFromWeights(model: AnyModule, options: WeightsInitOptions): WeightsInitReport {
  const logger = options.logger ?? CONSOLE_LOGGER;
  const source = options.PARAMS_FILE ?? 'the given checkpoint';
  const owned = options.checkpoint === undefined;
  const checkpoint = owned ? readWeightsFile(options.PARAMS_FILE) : options.checkpoint;
  try {
    return initFromCheckpoint(model, checkpoint, source, options, logger);
  } finally {
    if (owned) disposeTensors(checkpoint);
  }
}

function readWeightsFile(path: string | undefined): unknown {
  if (path === undefined || path === '')
    throw new Error('MODEL.WEIGHTS_INIT: no PARAMS_FILE given (or pass a loaded checkpoint)');
  if (!existsSync(path)) {
    throw new Error(
      `MODEL.WEIGHTS_INIT.PARAMS_FILE ${path} does not exist: check the path, or leave PARAMS_FILE empty to start from random weights`,
    );
  }
  return path.endsWith('.safetensors') ? readSafetensors(path).tensors : loadCheckpoint(path);
}

function initFromCheckpoint(
  model: AnyModule,
  checkpoint: unknown,
  source: string,
  options: WeightsInitOptions,
  logger: Logger,
): WeightsInitReport {
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    logger.warn(message);
  };
  const keyPath = keyNames(options.STATE_DICT_KEY_NAME ?? DEFAULT_KEY_NAME);
  const state = descend(checkpoint, keyPath, source);
  const own = model.stateDict();
  try {
    const modelNames = Object.keys(own);
    const extractor = options.isFeatureExtractor ?? modelNames.some((name) => name.startsWith('trunk.base_model.'));
    // The names as the file has them; VISSL checkpoints (classy_state_dict) have no such flat list.
    const raw = keyPath.at(-1) === 'classy_state_dict' ? undefined : dictEntries(state, source, keyPath);
    let file: Map<string, unknown>;
    if (raw === undefined) {
      for (const key of ['REMOVE_PREFIX', 'APPEND_PREFIX'] as const) {
        if (options[key])
          warn(
            `MODEL.WEIGHTS_INIT.${key} '${options[key]}' is ignored with STATE_DICT_KEY_NAME 'classy_state_dict' (as in VISSL): the names come from base_model.model.trunk/heads`,
          );
      }
      file = classyStateDict(state, source, extractor);
    } else {
      file = renamed(raw, options.REMOVE_PREFIX ?? '', options.APPEND_PREFIX ?? '');
      if (extractor) file = new Map([...file].map(([name, value]) => [toExtractorName(name), value]));
    }

    const skipLayers = options.SKIP_LAYERS ?? DEFAULT_SKIP_LAYERS;
    const initHeads = options.initHeads ?? true;
    const report: WeightsInitReport = { loaded: [], skipped: [], missing: [], unexpected: [], warnings };
    const chosen: StateDict = {};
    for (const name of modelNames) {
      if (skipLayers.some((layer) => layer !== '' && name.includes(layer)) || (!initHeads && isHead(name))) {
        report.skipped.push(name);
      } else if (file.has(name)) {
        chosen[name] = tensorAt(file, name, source);
        report.loaded.push(name);
      } else {
        report.missing.push(name);
      }
    }
    report.unexpected = [...file.keys()].filter((name) => !(name in own));

    if (report.loaded.length === 0 && report.missing.length > 0)
      throw new Error(noMatchMessage(source, report, file, modelNames, raw, checkpoint));
    if (options.strict && report.missing.length > 0) {
      throw new Error(
        `${source}: ${report.missing.length} model tensors are not in the file (strict): ${sample(report.missing)}`,
      );
    }
    copyInto(model, chosen, source);

    logger.info(summary(source, report, modelNames.length));
    if (report.missing.length > 0)
      warn(`${source}: ${report.missing.length} model tensors keep their initial values: ${sample(report.missing)}`);
    // A pretext task's head left out of a model with its own (or none) is the usual case, said in the
    // summary line; file tensors of the trunk that fit nothing are worth a warning.
    const unusedTrunk = report.unexpected.filter((name) => !isHead(name));
    if (unusedTrunk.length > 0)
      warn(`${source}: ${unusedTrunk.length} trunk tensors in the file fit no model name: ${sample(unusedTrunk)}`);
    return report;
  } finally {
    for (const t of Object.values(own)) t.dispose();
  }
}

function keyNames(name: string | readonly string[]): string[] {
  if (typeof name === 'string') return name === '' ? [] : [name];
  return name.filter((key) => key !== '');
}

/** A dict's entries, whether it came from a checkpoint (Map) or from TS code (object). */
function entriesOf(value: unknown): [unknown, unknown][] | undefined {
  if (value instanceof Map) return [...value];
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype)
    return Object.entries(value);
  return undefined;
}

function descend(checkpoint: unknown, keys: string[], source: string): unknown {
  let value = checkpoint;
  keys.forEach((key, level) => {
    const entries = entriesOf(value);
    const where = level === 0 ? 'at its top level' : `under '${keys.slice(0, level).join("' > '")}'`;
    const found = entries?.find(([name]) => name === key);
    if (found === undefined) {
      const has = entries ? `; it has: ${sample(entries.map(([name]) => String(name)))}` : ', which is not a dict';
      throw new Error(
        `MODEL.WEIGHTS_INIT.STATE_DICT_KEY_NAME: ${source} has no key '${key}' ${where}${has}.${keyNameHint(checkpoint)}`,
      );
    }
    value = found[1];
  });
  return value;
}

/** Suggests the key paths that lead to state dicts (dicts of tensors) in a checkpoint. */
function keyNameHint(checkpoint: unknown): string {
  const paths: string[][] = [];
  // Each dict once: a file's dicts may refer to each other (or themselves) many times over.
  const visited = new Set<unknown>();
  const search = (value: unknown, path: string[]) => {
    if (visited.has(value)) return;
    visited.add(value);
    const entries = entriesOf(value);
    if (entries === undefined || entries.length === 0 || paths.length >= 3) return;
    // A VISSL checkpoint is named by its top key alone; its nesting is known.
    if (path[0] === 'classy_state_dict') return void paths.push(['classy_state_dict']);
    if (entries.every(([, item]) => item instanceof Tensor)) return void paths.push(path);
    if (path.length < 4) for (const [key, item] of entries) search(item, [...path, String(key)]);
  };
  search(checkpoint, []);
  const shown = paths.map((path) =>
    path.length === 0 ? "''" : path.length === 1 ? `'${path[0]}'` : `['${path.join("', '")}']`,
  );
  return shown.length > 0 ? ` Try STATE_DICT_KEY_NAME: ${shown.join(' or ')}.` : '';
}

/** The entries of the dict a key path led to, keyed by string. */
function dictEntries(state: unknown, source: string, keyPath: string[]): Map<string, unknown> {
  const entries = entriesOf(state);
  if (entries === undefined) {
    const where = keyPath.length === 0 ? 'at its top level' : `under '${keyPath.join("' > '")}'`;
    throw new Error(`MODEL.WEIGHTS_INIT: ${source} holds no dict of tensors ${where}`);
  }
  return new Map(entries.map(([name, value]) => [String(name), value]));
}

/** base_model.model.{trunk,heads} of a VISSL checkpoint's classy_state_dict, under model names. */
function classyStateDict(state: unknown, source: string, extractor: boolean): Map<string, unknown> {
  const part = (key: string) => {
    const model = entriesOf(entriesOf(state)?.find(([k]) => k === 'base_model')?.[1])?.find(([k]) => k === 'model');
    const found = entriesOf(model?.[1])?.find(([k]) => k === key);
    if (found === undefined) {
      throw new Error(
        `MODEL.WEIGHTS_INIT: ${source} has no classy_state_dict > base_model > model > ${key}, so it is not a VISSL checkpoint; set STATE_DICT_KEY_NAME to where its state dict is ('' for a flat one)`,
      );
    }
    return dictEntries(found[1], source, ['classy_state_dict', 'base_model', 'model', key]);
  };
  const trunk = part('trunk');
  const savedByExtractor = [...trunk.keys()].some((name) => name.startsWith('base_model.'));
  const out = new Map<string, unknown>();
  for (const [name, value] of trunk) {
    if (extractor && !savedByExtractor) out.set(`trunk.base_model.${name}`, value);
    else if (!extractor && savedByExtractor) out.set(`trunk.${stripLeading(name, 'base_model.')}`, value);
    else out.set(`trunk.${name}`, value);
  }
  for (const [name, value] of part('heads')) out.set(`heads.${name}`, value);
  return out;
}

/** VISSL's replace_module_prefix then append_module_prefix. */
function renamed(entries: Map<string, unknown>, remove: string, append: string): Map<string, unknown> {
  return new Map([...entries].map(([name, value]) => [append + stripLeading(name, remove), value]));
}

function stripLeading(name: string, prefix: string): string {
  return prefix !== '' && name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

/** VISSL's adapt_to_feature_extractor_config. */
function toExtractorName(name: string): string {
  return name.startsWith('trunk.') && !name.startsWith('trunk.base_model.')
    ? `trunk.base_model.${name.slice('trunk.'.length)}`
    : name;
}

function isHead(name: string): boolean {
  return name.startsWith('heads.');
}

function tensorAt(file: Map<string, unknown>, name: string, source: string): Tensor {
  const value = file.get(name);
  if (!(value instanceof Tensor)) {
    const kind = value === null ? 'None' : Array.isArray(value) ? 'a list' : typeof value;
    throw new Error(`MODEL.WEIGHTS_INIT: '${name}' in ${source} is ${kind}, not a tensor`);
  }
  return value;
}

function copyInto(model: AnyModule, chosen: StateDict, source: string): void {
  try {
    model.loadStateDict(chosen, { strict: false });
  } catch (error) {
    throw new Error(
      `MODEL.WEIGHTS_INIT: ${source} does not fit the model (nothing was copied). ${(error as Error).message}\n` +
        'The file was saved from a different architecture or head size: build the matching model, or leave those tensors out with SKIP_LAYERS.',
      { cause: error },
    );
  }
}

function noMatchMessage(
  source: string,
  report: WeightsInitReport,
  file: Map<string, unknown>,
  modelNames: string[],
  raw: Map<string, unknown> | undefined,
  checkpoint: unknown,
): string {
  const found = [...file.keys()];
  const lines = [
    `MODEL.WEIGHTS_INIT: no tensor of ${source} matches a model name, so nothing was loaded.`,
    `  the model expects ${report.missing.length} names, e.g. ${sample(report.missing)}`,
    `  the file has ${found.length} names${raw ? ' (after REMOVE_PREFIX/APPEND_PREFIX)' : ''}, e.g. ${sample(found)}`,
  ];
  const skippedInFile = report.skipped.filter((name) => file.has(name));
  if (skippedInFile.length > 0)
    lines.push(
      `  ${skippedInFile.length} file names were skipped (SKIP_LAYERS, or heads without initHeads): ${sample(skippedInFile)}`,
    );
  if (![...file.values()].some((value) => value instanceof Tensor))
    lines.push(
      `  hint: these names hold no tensors, so STATE_DICT_KEY_NAME does not point at a state dict.${keyNameHint(checkpoint)}`,
    );
  const fix = raw ? prefixHint([...raw.keys()], modelNames) : undefined;
  if (fix) {
    lines.push(
      `  hint: with REMOVE_PREFIX: '${fix.remove}' and APPEND_PREFIX: '${fix.append}', ${fix.matches} of ${raw!.size} names in the file would match`,
    );
  }
  return lines.join('\n');
}

/**
 * The REMOVE_PREFIX / APPEND_PREFIX pair under which most file names become model names: the
 * removal is '' or a leading dotted segment or two shared by the file's names ('module.'), the
 * addition whatever the model has in front of a stripped name ('trunk._feature_blocks.').
 */
function prefixHint(
  fileNames: string[],
  modelNames: string[],
): { remove: string; append: string; matches: number } | undefined {
  const removals = new Set(['']);
  for (const name of fileNames.slice(0, 64)) {
    const parts = name.split('.');
    for (let n = 1; n <= Math.min(2, parts.length - 1); n++) {
      const prefix = `${parts.slice(0, n).join('.')}.`;
      if (fileNames.filter((other) => other.startsWith(prefix)).length * 2 >= fileNames.length) removals.add(prefix);
    }
  }
  const model = new Set(modelNames);
  let best: { remove: string; append: string; matches: number } | undefined;
  for (const remove of removals) {
    const stripped = fileNames.map((name) => stripLeading(name, remove));
    const appends = new Set<string>();
    for (const name of stripped) {
      for (const target of modelNames) {
        if (target.endsWith(name) && (target.length === name.length || target.at(-name.length - 1) === '.'))
          appends.add(target.slice(0, target.length - name.length));
      }
    }
    for (const append of appends) {
      const matches = stripped.filter((name) => model.has(append + name)).length;
      if (!best || matches > best.matches) best = { remove, append, matches };
    }
  }
  return best && best.matches > 0 && (best.remove !== '' || best.append !== '') ? best : undefined;
}

function summary(source: string, report: WeightsInitReport, total: number): string {
  const parts = [`loaded ${report.loaded.length} of ${total} model tensors from ${source}`];
  if (report.skipped.length > 0) parts.push(`skipped ${report.skipped.length}`);
  if (report.missing.length > 0) parts.push(`${report.missing.length} not in the file`);
  const heads = report.unexpected.filter(isHead).length;
  if (heads > 0) parts.push(`the file's head (${heads} tensors) unused: this model has its own`);
  if (report.unexpected.length > heads) parts.push(`${report.unexpected.length - heads} other file tensors unused`);
  return `MODEL.WEIGHTS_INIT: ${parts.join(', ')}`;
}

function sample(names: readonly string[]): string {
  const shown = names.slice(0, SAMPLE).join(', ');
  return names.length > SAMPLE ? `${shown}, ... (${names.length - SAMPLE} more)` : shown;
}
