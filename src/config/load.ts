// Loading a config as VISSL's command line does: `config=<name or path>` picks a YAML file, merged
// over configs/defaults.yaml, then `config.KEY.SUB=value` overrides over that. Every layer is
// checked against the schema on its own, so an error names the file or override it came from.
// The parts: config-files.ts (finding and reading files), overrides.ts (the command-line edits),
// check.ts (the schema checks).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import YAML from 'yaml';
import type { RunSetup } from '../engine/lr-schedule.js';
import { Checker, checkMerged, keyPath, nodeAt } from './check.js';
import { ConfigError } from './config-error.js';
import {
  defaultWarn,
  readYaml,
  resolveConfigPath,
  resolveGroupPath,
  SHIPPED_CONFIGS_DIR,
  unwrap,
  type Tree,
} from './config-files.js';
import { applyAt, deleteAt, merge, parseEdit, renameOldKeys } from './overrides.js';
import { allPaths, buildSchema, isPlainObject, type SchemaNode } from './schema.js';
import { visslValues } from './vissl-values.js';
import type { Config, EngineName } from './types.js';
import { wrongCommand, type Command } from './vissl-tools.js';

export { ConfigError } from './config-error.js';
export { availableConfigs, CONFIG_WARNED_ENV, resolveConfigPath, SHIPPED_CONFIGS_DIR } from './config-files.js';
export { editDistance } from './check.js';

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

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
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
