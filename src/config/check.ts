// Checking a config tree against the schema built from configs/defaults.yaml: unknown keys (with
// "did you mean"), types, ranges and allowed values, and the checks that span several keys. Every
// message names the file or override that set the key.
import { parseTransforms, type TransformConfig } from '../data/transforms.js';
import { isTorchvisionDataset, TORCHVISION_DATASETS } from '../data/torchvision/index.js';
import type { Tree } from './config-files.js';
import { isPlainObject, outOfRange, type SchemaNode } from './schema.js';

/** The dotted path of `key` under `prefix`. */
export function keyPath(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`;
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

export class Checker {
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
export function nodeAt(
  schema: SchemaNode,
  path: string[],
  allKnown: readonly string[],
  source: string,
): SchemaNode | string {
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

/** Checks of the merged config that involve more than one key or another layer's parser. */
export function checkMerged(cfg: Tree, origin: (path: string) => string): string[] {
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
