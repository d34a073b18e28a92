// Loading a config as VISSL's command line does: `config=<name or path>` picks a YAML file, merged
// over configs/defaults.yaml, then `config.KEY.SUB=value` overrides over that. Every layer is
// checked against the schema on its own, so an error names the file or override it came from.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { requireRegularFile } from '../torch/io/file-bytes.js';
import { parseTransforms, type TransformConfig } from '../data/transforms.js';
import { isTorchvisionDataset, TORCHVISION_DATASETS } from '../data/torchvision/index.js';
import type { RunSetup } from '../engine/lr-schedule.js';
import { allPaths, buildSchema, isPlainObject, OLD_NAMES, outOfRange, type SchemaNode } from './schema.js';
import { visslValues } from './vissl-values.js';
import type { Config, EngineName } from './types.js';
import { wrongCommand, type Command } from './vissl-tools.js';

/** The shipped configs: <package root>/configs (this file is dist/src/config/load.js). */
export const SHIPPED_CONFIGS_DIR = fileURLToPath(new URL('../../../configs', import.meta.url));

/** Config names VISSL used before, and what they load now. */
const OLD_CONFIG_NAMES: Readonly<Record<string, { current: string; why: string }>> = {
  'pretrain/clusterfit/cluster_features_resnet_8gpu_rotation_in1k': {
    current: 'pretrain/clusterfit/cluster_features_resnet_8gpu_imagenet',
    why:
      'VISSL renamed it in #166 (its docs still give the old name). The original took random 224 crops ' +
      '(Resize 256 + RandomCrop 224) of the TRAIN split only; the renamed config takes the centre crop, ' +
      'which makes the features (and the clusters) deterministic, and also labels the TEST split',
  },
};

export interface LoadOptions {
  /** A shipped config name (`pretrain/rotnet/rotnet_8gpu_resnet`, no .yaml) or a path to a YAML file. */
  config: string;
  /** In order: `config.KEY.SUB=value` (values are YAML: `[a,b]`, `1e-4`, `true`, `null`, text; `+config.` and
   * `++config.` alike), `~config.KEY` (removes a key the file sets) and `+config/<group>=<name>` (merges a group file). */
  overrides?: readonly string[];
  /** Where the warnings (old names) go; default: stderr. */
  warn?: (message: string) => void;
  /** Where config names are looked up; default: the shipped configs. */
  configsDir?: string;
  /** Folders searched before configsDir for config names and group files (Hydra's searchpath). */
  searchPath?: readonly string[];
  /** The command loading it: a file written for another command is then an error naming that command. */
  command?: Command;
  /** The engine the command chose (VISSL's tools choose it, not the file); wins over ENGINE_NAME. */
  engine?: EngineName;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Tree = Record<string, unknown>;

let cachedDefaults: { schema: SchemaNode; tree: Tree; paths: string[] } | null = null;

/** configs/defaults.yaml: the schema, the default tree and every known key path (read once). */
function shippedDefaults(): { schema: SchemaNode; tree: Tree; paths: string[] } {
  if (cachedDefaults) return cachedDefaults;
  const file = join(SHIPPED_CONFIGS_DIR, 'defaults.yaml');
  if (!existsSync(file)) throw new ConfigError(`${file} is missing: it holds every key's default`);
  // Integers as bigints, so that the schema tells integer keys (1) from float keys (1.0).
  const typed = unwrap(YAML.parse(readFileSync(file, 'utf8'), { intAsBigInt: true }), file);
  const schema = buildSchema(typed);
  const tree = unwrap(YAML.parse(readFileSync(file, 'utf8')), file);
  cachedDefaults = { schema, tree, paths: allPaths(schema) };
  return cachedDefaults;
}

/**
 * Keys that name JavaScript's object machinery rather than settings: set through a dotted path
 * they would reach Object.prototype (a config could then change every object in the process).
 * No VISSL key is called so.
 */
const OBJECT_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function objectKeyProblem(key: string): string {
  return `'${key}' is not a config key (it names JavaScript's object machinery, so it is refused); check the spelling`;
}

/** Throws naming the first OBJECT_KEYS key anywhere in a parsed YAML document. */
function refuseObjectKeys(node: unknown, source: string, path: string[]): void {
  if (Array.isArray(node)) {
    node.forEach((item, i) => refuseObjectKeys(item, source, [...path, String(i)]));
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  for (const key of Object.keys(node)) {
    const at = [...path, key];
    if (OBJECT_KEYS.has(key)) throw new ConfigError(`${source}: ${at.join('.')}: ${objectKeyProblem(key)}`);
    refuseObjectKeys((node as Tree)[key], source, at);
  }
}

/** The config tree of a YAML document: VISSL nests it under `config:`, with `engine_name` and
 * `node_id` beside it (read into ENGINE_NAME and NODE_ID). */
function unwrap(document: unknown, source: string): Tree {
  if (document === null || document === undefined) return {};
  if (!isPlainObject(document)) throw new ConfigError(`${source}: expected a mapping of config keys`);
  if (!('config' in document)) return document;
  const { config, engine_name, node_id, ...rest } = document;
  const outside = Object.keys(rest);
  if (outside.length > 0) {
    throw new ConfigError(
      `${source}: ${outside.join(', ')} must go inside \`config:\` (every setting nests under it, as in VISSL; ` +
        'only engine_name and node_id sit beside it)',
    );
  }
  const tree = config === null ? {} : config;
  if (!isPlainObject(tree)) throw new ConfigError(`${source}: \`config:\` must be a mapping of config keys`);
  return {
    ...tree,
    ...(engine_name === undefined ? {} : { ENGINE_NAME: engine_name }),
    ...(node_id === undefined ? {} : { NODE_ID: node_id }),
  };
}

/** Every shipped config name (relative path without .yaml), sorted. */
export function availableConfigs(configsDir = SHIPPED_CONFIGS_DIR): string[] {
  const names: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.yaml') && path !== join(configsDir, 'defaults.yaml'))
        names.push(relative(configsDir, path).split(sep).join('/').slice(0, -'.yaml'.length));
    }
  };
  walk(configsDir);
  return names.sort();
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/**
 * The file `<root>/<name>.yaml` in the first root that has it, where each search root is read both
 * as a config tree (ours: configs/) and as VISSL's configs/ folder (with the tree under config/).
 */
function findInRoots(name: string, roots: readonly string[]): string | null {
  for (const root of roots) {
    for (const candidate of [join(root, `${name}.yaml`), join(root, 'config', `${name}.yaml`)]) {
      if (isFile(candidate)) return candidate;
    }
  }
  return null;
}

/** The file a `config=` value names: a config in the search path or shipped, an old shipped name, or a path. */
export function resolveConfigPath(
  config: string,
  configsDir = SHIPPED_CONFIGS_DIR,
  warn: (message: string) => void = defaultWarn,
  searchPath: readonly string[] = [],
): string {
  const name = config.replace(/\.ya?ml$/, '');
  const found = findInRoots(name, [...searchPath, configsDir]);
  if (found) return found;
  const old = OLD_CONFIG_NAMES[name];
  if (old) {
    warn(`config ${name} is VISSL's old name of ${old.current}; loading that. ${old.why}.`);
    return join(configsDir, `${old.current}.yaml`);
  }
  if (isFile(config)) return resolve(config);
  const available = availableConfigs(configsDir);
  throw new ConfigError(
    `config '${config}' is neither a shipped config nor a YAML file` +
      (searchPath.length > 0 ? ` (searched also ${searchPath.join(', ')})` : '') +
      '. Shipped configs (config=<name>):\n' +
      available.map((n) => `  ${n}`).join('\n'),
  );
}

/** The file of a Hydra group option `+config/<group>=<name>`, from the search path or the shipped tree. */
function resolveGroupPath(word: string, group: string, name: string, roots: readonly string[]): string {
  const inTree = group.replace(/^config(\/|$)/, '');
  const candidates = [`${inTree}/${name}`.replace(/^\//, '')];
  const found = findInRoots(candidates[0]!, roots);
  if (found) return found;
  throw new ConfigError(
    `'${word}': no ${inTree}/${name}.yaml in ${roots.join(', ')}; ` +
      "give the folder that holds it with hydra.searchpath=[<folder>] (VISSL's configs/ folder or a config tree)",
  );
}

/** Set by the launcher in its workers: it has already said the config's warnings once. */
export const CONFIG_WARNED_ENV = 'CLUSTERFIT_CONFIG_WARNED';

/**
 * A config warning, once per run: one line on stderr in the CLI's own style (not Node's
 * `(node:PID) ...Warning` with its --trace-warnings hint), and not again from each worker.
 */
function defaultWarn(message: string): void {
  if (process.env[CONFIG_WARNED_ENV] === '1') return;
  const rank = process.env.RANK;
  if (rank !== undefined && rank !== '' && rank !== '0') return;
  process.stderr.write(`warning: ${message}\n`);
}

/** The dotted path of `key` under `prefix`. */
function keyPath(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`;
}

/** Sets `value` at `path` in `tree`, creating dicts on the way and merging into an existing dict. */
function setPath(tree: Tree, path: string[], value: unknown): void {
  let node: Tree = tree;
  for (const key of path.slice(0, -1)) {
    if (!isPlainObject(node[key])) node[key] = {};
    node = node[key] as Tree;
  }
  const last = path[path.length - 1]!;
  node[last] = isPlainObject(node[last]) && isPlainObject(value) ? merge(node[last], value) : value;
}

/** Moves VISSL's old key names to the current ones, with a warning for each; `moved` learns each move. */
function renameOldKeys(
  tree: Tree,
  source: string | ((path: string) => string),
  warn: (message: string) => void,
  moved: (from: string, to: string) => void = () => {},
): Tree {
  const sourceOf = (path: string): string => (typeof source === 'string' ? source : source(path));
  const out: Tree = {};
  const visit = (node: Tree, prefix: string[]): void => {
    for (const [key, value] of Object.entries(node)) {
      const path = [...prefix, key];
      const dotted = path.join('.');
      const old = OLD_NAMES.find((entry) => entry.old === dotted);
      if (old) {
        warn(
          `${dotted} (in ${sourceOf(dotted)}) is VISSL's old name of ${old.current} (${old.why}); read as ${old.current}`,
        );
        moved(dotted, old.current);
        setPath(out, old.current.split('.'), value);
      } else if (isPlainObject(value) && OLD_NAMES.some((entry) => entry.old.startsWith(`${dotted}.`))) {
        visit(value, path);
      } else {
        setPath(out, path, value);
      }
    }
  };
  visit(tree, []);
  return out;
}

/** Levenshtein distance, case-insensitive (a case slip costs nothing). */
export function editDistance(a: string, b: string): number {
  const [s, t] = [a.toLowerCase(), b.toLowerCase()];
  let previous = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const current = [i];
    for (let j = 1; j <= t.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (s[i - 1] === t[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[t.length]!;
}

/** "did you mean ..." for an unknown key: a close sibling, else the same name elsewhere in the tree. */
function suggestion(path: string, siblings: readonly string[], allKnown: readonly string[]): string {
  const key = path.split('.').pop()!;
  const prefix = path.slice(0, path.length - key.length);
  const scored = siblings
    .map((name) => ({ name, distance: editDistance(key, name) }))
    .filter(({ distance }) => distance <= Math.max(2, Math.floor(key.length / 3)))
    .sort((a, b) => a.distance - b.distance);
  if (scored.length > 0) return `; did you mean ${prefix}${scored[0]!.name}?`;
  const elsewhere = allKnown.filter((known) => known.split('.').pop()!.toLowerCase() === key.toLowerCase());
  if (elsewhere.length > 0) return `; did you mean ${elsewhere.join(' or ')}?`;
  return siblings.length > 0 ? `; known keys here: ${siblings.join(', ')}` : '';
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  const kind =
    value === null
      ? 'null'
      : Array.isArray(value)
        ? 'a list'
        : isPlainObject(value)
          ? 'a mapping'
          : `a ${typeof value}`;
  return `${text && text.length > 60 ? `${text.slice(0, 57)}...` : text} (${kind})`;
}

const EXPECTED: Record<string, string> = {
  bool: 'true or false',
  int: 'an integer',
  float: 'a number',
  string: 'a string',
  list: 'a list',
  dict: 'a mapping',
};

class Checker {
  readonly errors: string[] = [];
  /** `source` names where the value at a path was set: one text, or a lookup by path. */
  constructor(
    private readonly allKnown: readonly string[],
    private readonly source: string | ((path: string) => string),
    /** Paths already reported by another check. */
    private readonly skip: ReadonlySet<string> = new Set(),
  ) {}

  private sourceOf(path: string): string {
    return typeof this.source === 'string' ? this.source : this.source(path);
  }

  /** Checks `value` at `path` against `node`. */
  check(value: unknown, node: SchemaNode, path: string): void {
    if (this.skip.has(path)) return;
    const fail = (message: string): void => void this.errors.push(`${path} (in ${this.sourceOf(path)}) ${message}`);
    switch (node.kind) {
      case 'free':
        if (node.shape === 'list' && !Array.isArray(value)) fail(`must be a list, got ${describe(value)}`);
        if (node.shape === 'dict' && !isPlainObject(value)) fail(`must be a mapping, got ${describe(value)}`);
        return;
      case 'dict':
        if (!isPlainObject(value))
          return fail(`must be a mapping of ${[...node.children.keys()].join(', ')}; got ${describe(value)}`);
        for (const [key, child] of Object.entries(value)) {
          const childNode = node.children.get(key);
          const childPath = keyPath(path, key);
          if (this.skip.has(childPath)) continue;
          if (childNode) this.check(child, childNode, childPath);
          else
            this.errors.push(
              `unknown key ${childPath} (in ${this.sourceOf(childPath)})${suggestion(childPath, [...node.children.keys()], this.allKnown)}`,
            );
        }
        return;
      case 'list':
        if (!Array.isArray(value)) return fail(`must be a list, got ${describe(value)}`);
        if (node.element) value.forEach((element, i) => this.check(element, node.element!, `${path}[${i}]`));
        return;
      default: {
        const ok =
          node.kind === 'bool'
            ? typeof value === 'boolean'
            : node.kind === 'string'
              ? typeof value === 'string'
              : typeof value === 'number' && (node.kind === 'float' || Number.isInteger(value));
        if (!ok) return fail(`must be ${EXPECTED[node.kind]}, got ${describe(value)}`);
        const range = typeof value === 'number' ? outOfRange(value, node.range) : null;
        if (range) return fail(`${range}, got ${String(value)}`);
        if (node.choices && !node.choices.includes(value as string))
          fail(`must be one of ${node.choices.map((c) => JSON.stringify(c)).join(', ')}; got ${JSON.stringify(value)}`);
      }
    }
  }
}

/** The schema node at a dotted path (list indices as numbers), or why there is none. */
function nodeAt(schema: SchemaNode, path: string[], allKnown: readonly string[], source: string): SchemaNode | string {
  let node = schema;
  const seen: string[] = [];
  for (const key of path) {
    if (node.kind === 'free') return { kind: 'free', shape: null };
    if (node.kind === 'list') {
      if (!/^\d+$/.test(key)) return `${seen.join('.')} (in ${source}) is a list; index it with a number, not '${key}'`;
      node = node.element ?? { kind: 'free', shape: null };
    } else if (node.kind === 'dict') {
      const child = node.children.get(key);
      const here = [...seen, key].join('.');
      if (!child) return `unknown key ${here} (in ${source})${suggestion(here, [...node.children.keys()], allKnown)}`;
      node = child;
    } else {
      return `${seen.join('.')} (in ${source}) is ${EXPECTED[node.kind]}, it has no key '${key}'`;
    }
    seen.push(key);
  }
  return node;
}

/** Recursive merge: mappings merge key by key, anything else is replaced. */
function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? merge(current, value) : structuredClone(value);
  }
  return out;
}

/** One command-line word that changes the config, in Hydra's forms. */
type Edit =
  | { kind: 'set'; text: string; path: string[]; raw: string; value: unknown }
  | { kind: 'delete'; text: string; path: string[] }
  | { kind: 'group'; text: string; group: string; name: string };

const OVERRIDE_FORMS =
  'config.KEY.SUB=value (set; +config.KEY=value and ++config.KEY=value too), ~config.KEY (remove, so the ' +
  'default applies) or +config/<group>=<name> (merge a group file, e.g. +config/feature_extraction/trunk_only=rn50_res5)';

function keyPathOf(text: string, key: string): string[] {
  const path = key.replace(/\[(\d+)\]/g, '.$1').split('.');
  if (path.some((part) => part === '')) throw new ConfigError(`override '${text}': empty key in '${key}'`);
  const refused = path.find((part) => OBJECT_KEYS.has(part));
  if (refused !== undefined) throw new ConfigError(`override '${text}': ${objectKeyProblem(refused)}`);
  return path;
}

/** Parses one override word: `config.A.B=value` (also `+`/`++`), `~config.A.B`, `+config/<group>=<name>`. */
function parseEdit(text: string): Edit {
  const group = /^\+(config\/[^=]+)=(.+)$/.exec(text);
  if (group) return { kind: 'group', text, group: group[1]!, name: group[2]!.replace(/\.ya?ml$/, '') };
  const eq = text.indexOf('=');
  const key = eq < 0 ? text : text.slice(0, eq);
  const removal = /^~config\.(.+)$/.exec(key);
  if (removal) return { kind: 'delete', text, path: keyPathOf(text, removal[1]!) };
  const match = /^(?:\+\+|\+)?config\.(.+)$/.exec(key);
  if (eq < 0 || !match) throw new ConfigError(`override '${text}' must look like ${OVERRIDE_FORMS}`);
  const path = keyPathOf(text, match[1]!);
  const raw = text.slice(eq + 1);
  let value: unknown;
  try {
    value = parseYamlTree(raw, `override '${text}'`);
  } catch (error) {
    throw new ConfigError(`${(error as Error).message} (the value is not valid YAML)`);
  }
  refuseObjectKeys(value, `override '${text}'`, path);
  return { kind: 'set', text, path, raw, value };
}

/** The value at `path` in `tree`, or undefined. */
function valueAt(tree: unknown, path: readonly string[]): unknown {
  let node = tree;
  for (const key of path) {
    if (Array.isArray(node) && /^\d+$/.test(key)) node = node[Number(key)];
    else if (isPlainObject(node)) node = node[key];
    else return undefined;
  }
  return node;
}

/**
 * Applies one override to the user's tree (file and groups): list elements by index, mappings
 * merged. A list only the defaults hold is copied in first, so `config.X.0=v` edits the default list.
 */
function applyAt(tree: Tree, defaults: Tree, path: string[], value: unknown, text: string): void {
  let node: unknown = tree;
  for (const [i, key] of path.entries()) {
    const last = i === path.length - 1;
    if (Array.isArray(node)) {
      const index = /^\d+$/.test(key) ? Number(key) : -1;
      if (index < 0)
        throw new ConfigError(`override '${text}': ${path.slice(0, i).join('.')} is a list; index it with a number`);
      if (index >= node.length)
        throw new ConfigError(`override '${text}': ${path.slice(0, i).join('.')} has ${node.length} elements`);
      if (last) node[index] = value;
      else node = node[index];
    } else if (isPlainObject(node)) {
      if (last) node[key] = isPlainObject(node[key]) && isPlainObject(value) ? merge(node[key], value) : value;
      else {
        if (node[key] === undefined || node[key] === null) {
          const fallback = valueAt(defaults, path.slice(0, i + 1));
          node[key] = Array.isArray(fallback) ? structuredClone(fallback) : {};
        }
        node = node[key];
      }
    } else {
      throw new ConfigError(`override '${text}': ${path.slice(0, i).join('.')} is not a mapping or list`);
    }
  }
}

/** Removes the key at `path` (Hydra's ~config.KEY); the default then applies. */
function deleteAt(tree: Tree, path: string[], text: string): void {
  const parent = valueAt(tree, path.slice(0, -1));
  const key = path[path.length - 1]!;
  if (!isPlainObject(parent) || !(key in parent)) {
    throw new ConfigError(
      `override '${text}': ${path.join('.')} is not set by the config file, so it cannot be removed`,
    );
  }
  delete parent[key];
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * YAML text as a plain tree. A config is a tree: an alias to a node that contains it (a cycle)
 * or nesting deeper than the call stack are refused here, naming the source, before anything
 * walks the value recursively.
 */
function parseYamlTree(text: string, source: string): unknown {
  let value: unknown;
  try {
    value = YAML.parse(text);
  } catch (error) {
    throw new ConfigError(`${source}: ${yamlProblem(error)}`);
  }
  try {
    JSON.stringify(value);
  } catch (error) {
    throw new ConfigError(`${source}: ${yamlProblem(error)}`);
  }
  return value;
}

function yamlProblem(error: unknown): string {
  const message = (error as Error).message;
  if (/circular/i.test(message))
    return 'an alias (*name) refers to a node that contains it; a config cannot be a cycle';
  if (/call stack/i.test(message)) return 'the YAML is nested too deeply';
  return message.split('\n')[0]!;
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    requireRegularFile(file, 'config file');
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const tree = parseYamlTree(text, file);
  refuseObjectKeys(tree, file, []);
  return tree;
}

/** Checks of the merged config that involve more than one key or another layer's parser. */
function checkMerged(cfg: Tree, origin: (path: string) => string): string[] {
  const errors: string[] = [];
  const data = cfg.DATA as Record<'TRAIN' | 'TEST', Record<string, unknown[]>>;
  for (const split of ['TRAIN', 'TEST'] as const) {
    const at = (key: string): string => `DATA.${split}.${key}`;
    const transforms = data[split].TRANSFORMS as TransformConfig[];
    if (transforms.length > 0) {
      try {
        const bad = transforms.findIndex((t) => !isPlainObject(t) || typeof t.name !== 'string');
        if (bad >= 0) throw new Error(`element ${bad} must be a mapping with a 'name'`);
        parseTransforms(transforms);
      } catch (error) {
        errors.push(`${at('TRANSFORMS')} (from ${origin(at('TRANSFORMS'))}): ${(error as Error).message}`);
      }
    }
    for (const [paths, sources] of [
      ['DATA_PATHS', 'DATA_SOURCES'],
      ['LABEL_PATHS', 'LABEL_SOURCES'],
    ] as const) {
      const [n, m] = [data[split][paths]!.length, data[split][sources]!.length];
      if (n > 0 && n !== m) {
        errors.push(
          `${at(paths)} has ${n} entries but ${at(sources)} has ${m} (from ${origin(at(paths))}); give one source per path`,
        );
      }
    }
    data[split].DATA_SOURCES!.forEach((source, i) => {
      const name = data[split].DATASET_NAMES![i];
      if (source !== 'torchvision_dataset' || (typeof name === 'string' && isTorchvisionDataset(name))) return;
      errors.push(
        `${at('DATASET_NAMES')}[${i}] is ${JSON.stringify(name ?? null)} (from ${origin(at('DATASET_NAMES'))}), but ` +
          `${at('DATA_SOURCES')}[${i}] torchvision_dataset reads ${TORCHVISION_DATASETS.join(', ')}: name one of them`,
      );
    });
  }
  const keepLast = (cfg.CHECKPOINT as { KEEP_LAST: number }).KEEP_LAST;
  if (keepLast === 0 || keepLast < -1) {
    errors.push(
      `CHECKPOINT.KEEP_LAST is ${keepLast} (from ${origin('CHECKPOINT.KEEP_LAST')}): keep at least 1 checkpoint, or -1 for all`,
    );
  }
  return errors;
}

export interface ComposedConfig {
  config: Config;
  /** What the file and its group files set, before the command-line overrides. */
  fileTree: Readonly<Record<string, unknown>>;
  /** What the file, its groups and the overrides set (before the defaults), for telling which tool a file is for. */
  userTree: Readonly<Record<string, unknown>>;
  /** The file that was loaded. */
  file: string;
}

/**
 * Loads a config as VISSL's Hydra command line composes it: the named file, then the group files
 * (`+config/<group>=<name>`), then the overrides (`config.KEY=value`, `~config.KEY`) in order; old
 * key names are moved and VISSL-only values mapped (with warnings); only then is the result checked
 * against the schema (unknown keys, types, allowed values; each error names the file or override that
 * set the key) and merged over configs/defaults.yaml. Returns the config frozen. Throws a ConfigError
 * listing every problem.
 */
export function composeConfig(options: LoadOptions): ComposedConfig {
  const { config, overrides = [], warn = defaultWarn, configsDir = SHIPPED_CONFIGS_DIR, searchPath = [] } = options;
  const defaults = shippedDefaults();
  const file = resolveConfigPath(config, configsDir, warn, searchPath);
  const errors: string[] = [];
  // Which layer set each key, for every message about it.
  const setBy = new Map<string, string>();
  const record = (value: unknown, source: string, path: string): void => {
    setBy.set(path, source);
    if (isPlainObject(value)) for (const [k, v] of Object.entries(value)) record(v, source, keyPath(path, k));
  };
  const origin = (path: string): string => {
    for (let p = path.replace(/\[\d+\]/g, ''); ; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
      const source = setBy.get(p);
      if (source) return source;
      if (p === '') return 'configs/defaults.yaml';
    }
  };

  let user = packageRelativePaths(unwrap(readYaml(file), file), file, configsDir);
  record(user, `file ${file}`, '');
  const edits = overrides.map(parseEdit);
  // Hydra composes the group files into the primary config before it applies the overrides.
  for (const edit of edits) {
    if (edit.kind !== 'group') continue;
    const groupFile = resolveGroupPath(edit.text, edit.group, edit.name, [...searchPath, configsDir]);
    const tree = unwrap(readYaml(groupFile), groupFile);
    user = merge(user, tree);
    for (const [key, value] of Object.entries(tree)) record(value, `group file ${groupFile} ('${edit.text}')`, key);
  }
  const fileTree = structuredClone(user);
  const wrong = options.command === undefined ? null : wrongCommand(options.command, fileTree, config);
  if (wrong !== null) throw new ConfigError(wrong);
  for (const edit of edits) {
    try {
      if (edit.kind === 'delete') {
        deleteAt(user, edit.path, edit.text);
      } else if (edit.kind === 'set') {
        // A string key takes the text as written: config.CHECKPOINT.DIR=2024 is the folder "2024".
        const node = nodeAt(defaults.schema, edit.path, defaults.paths, '');
        const value =
          typeof node !== 'string' &&
          node.kind === 'string' &&
          (typeof edit.value === 'number' || typeof edit.value === 'boolean' || edit.raw === '')
            ? edit.raw
            : edit.value;
        applyAt(user, defaults.tree, edit.path, structuredClone(value), edit.text);
        record(value, `override '${edit.text}'`, edit.path.join('.'));
        // Keys the override creates on its way (a typo: config.OPTIMZER.x) are the override's, not the file's.
        for (let i = 1; i < edit.path.length; i++) {
          const prefix = edit.path.slice(0, i).join('.');
          if (!setBy.has(prefix)) setBy.set(prefix, `override '${edit.text}'`);
        }
      }
    } catch (error) {
      errors.push((error as Error).message);
    }
  }
  if (options.engine !== undefined) {
    user.ENGINE_NAME = options.engine;
    setBy.set('ENGINE_NAME', `the command (${options.command ?? 'run'})`);
  }
  user = renameOldKeys(user, origin, warn, (from, to) => setBy.set(to, origin(from)));
  const values = visslValues(user, origin, warn);
  errors.push(...values.errors);

  const checker = new Checker(defaults.paths, origin, values.reported);
  checker.check(user, defaults.schema, '');
  errors.push(...checker.errors);
  const merged = merge(structuredClone(defaults.tree), user);
  if (errors.length === 0) errors.push(...checkMerged(merged, origin));
  if (errors.length > 0) {
    throw new ConfigError(`invalid config '${config}':\n${errors.map((e) => `  - ${e}`).join('\n')}`);
  }
  return { config: deepFreeze(merged) as unknown as Config, fileTree, userTree: deepFreeze(user), file };
}

/** composeConfig's config alone. */
export function loadConfig(options: LoadOptions): Config {
  return composeConfig(options).config;
}

/**
 * A shipped config's relative data paths (`data/demo/cifar10/train`) name folders shipped with the
 * package, so they are made absolute from the package root: the demo configs then work from any
 * working directory, and from an installed package. Paths in the user's files and overrides stay
 * relative to the working directory.
 */
function packageRelativePaths(tree: Tree, file: string, configsDir: string): Tree {
  if (!file.startsWith(configsDir + sep) || !isPlainObject(tree.DATA)) return tree;
  const root = dirname(configsDir);
  for (const split of Object.values(tree.DATA)) {
    if (!isPlainObject(split)) continue;
    for (const key of ['DATA_PATHS', 'LABEL_PATHS']) {
      const paths = split[key];
      if (Array.isArray(paths)) {
        split[key] = paths.map((p: unknown) => (typeof p === 'string' && p.startsWith('data/') ? join(root, p) : p));
      }
    }
  }
  return tree;
}

/** The resolved config as YAML, in VISSL's layout (under `config:`), for the run folder. */
export function configToYaml(cfg: Config): string {
  return (
    '# The resolved config of this run (defaults, file and overrides merged).\n' +
    '# Load it again with config=<this file>.\n' +
    YAML.stringify({ config: cfg }, { lineWidth: 0 })
  );
}

/** The run facts the LR schedule depends on, from a config (see src/engine/lr-schedule.ts). */
export function lrRunSetup(cfg: Config): RunSetup {
  return {
    numNodes: cfg.DISTRIBUTED.NUM_NODES,
    numProcPerNode: cfg.DISTRIBUTED.NUM_PROC_PER_NODE,
    batchSizePerReplica: cfg.DATA.TRAIN.BATCHSIZE_PER_REPLICA,
    numEpochs: cfg.OPTIMIZER.num_epochs,
  };
}
