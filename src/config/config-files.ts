// Config files: where a `config=` name or a group option is found (the search path, the shipped tree,
// VISSL's old names) and how a YAML file becomes a config tree (VISSL's `config:` wrapper, no cycles,
// no keys that reach JavaScript's object machinery).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { requireRegularFile } from '../torch/io/file-bytes.js';
import { ConfigError } from './config-error.js';
import { isPlainObject } from './schema.js';

export type Tree = Record<string, unknown>;

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

/**
 * Keys that name JavaScript's object machinery rather than settings: set through a dotted path
 * they would reach Object.prototype (a config could then change every object in the process).
 * No VISSL key is called so.
 */
export const OBJECT_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function objectKeyProblem(key: string): string {
  return `'${key}' is not a config key (it names JavaScript's object machinery, so it is refused); check the spelling`;
}

/** Throws naming the first OBJECT_KEYS key anywhere in a parsed YAML document. */
export function refuseObjectKeys(node: unknown, source: string, path: string[]): void {
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
export function unwrap(document: unknown, source: string): Tree {
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
export function resolveGroupPath(word: string, group: string, name: string, roots: readonly string[]): string {
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
export function defaultWarn(message: string): void {
  if (process.env[CONFIG_WARNED_ENV] === '1') return;
  const rank = process.env.RANK;
  if (rank !== undefined && rank !== '' && rank !== '0') return;
  process.stderr.write(`warning: ${message}\n`);
}

/**
 * YAML text as a plain tree. A config is a tree: an alias to a node that contains it (a cycle)
 * or nesting deeper than the call stack are refused here, naming the source, before anything
 * walks the value recursively.
 */
export function parseYamlTree(text: string, source: string): unknown {
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

export function readYaml(file: string): unknown {
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
