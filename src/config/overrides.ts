// Hydra's command-line edits of a config (`config.A.B=value`, `~config.A.B`, `+config/<group>=<name>`),
// applied to the user's tree, and VISSL's old key names moved to the current ones.
import { ConfigError } from './config-error.js';
import { objectKeyProblem, OBJECT_KEYS, parseYamlTree, refuseObjectKeys, type Tree } from './config-files.js';
import { isPlainObject, OLD_NAMES } from './schema.js';

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
export function renameOldKeys(
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

/** Recursive merge: mappings merge key by key, anything else is replaced. */
export function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? merge(current, value) : structuredClone(value);
  }
  return out;
}

/** One command-line word that changes the config, in Hydra's forms. */
export type Edit =
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
export function parseEdit(text: string): Edit {
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
export function applyAt(tree: Tree, defaults: Tree, path: string[], value: unknown, text: string): void {
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
export function deleteAt(tree: Tree, path: string[], text: string): void {
  const parent = valueAt(tree, path.slice(0, -1));
  const key = path[path.length - 1]!;
  if (!isPlainObject(parent) || !(key in parent)) {
    throw new ConfigError(
      `override '${text}': ${path.join('.')} is not set by the config file, so it cannot be removed`,
    );
  }
  delete parent[key];
}
