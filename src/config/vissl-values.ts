// VISSL values that this project runs differently or cannot run, decided once when a config loads:
// VISSL's NVIDIA-apex choices run as their PyTorch equivalents (with a warning), values that need
// something only Facebook's cluster has are one clear error each, and configs that VISSL runs with
// a silent mistake get a warning with the fix.
import { isPlainObject } from './schema.js';

type Tree = Record<string, unknown>;

export interface ValueCheck {
  /** One line per value that cannot run here. */
  errors: string[];
  /** Paths those errors cover, so the schema check does not report them twice. */
  reported: Set<string>;
}

/** VISSL choices that run as another value here. */
const EQUIVALENTS: readonly { path: string[]; value: string; as: string; why: string }[] = [
  {
    path: ['MODEL', 'SYNC_BN_CONFIG', 'SYNC_BN_TYPE'],
    value: 'apex',
    as: 'pytorch',
    why: "NVIDIA apex's SyncBatchNorm computes the same statistics as torch.nn.SyncBatchNorm, which runs here",
  },
];

/** VISSL values that need infrastructure this project does not have. */
const UNREADABLE_SOURCES: Readonly<Record<string, string>> = {
  everstore: "Facebook's internal blob store",
  airstore: "Facebook's internal dataset store",
  synthetic: "VISSL's generated test images",
};

function at(tree: Tree, path: readonly string[]): { parent: Tree; key: string } | null {
  let node: unknown = tree;
  for (const key of path.slice(0, -1)) {
    if (!isPlainObject(node)) return null;
    node = node[key];
  }
  return isPlainObject(node) ? { parent: node, key: path[path.length - 1]! } : null;
}

function transformNames(tree: Tree, split: string): string[] {
  const data = tree.DATA;
  const part = isPlainObject(data) ? data[split] : undefined;
  const list = isPlainObject(part) ? part.TRANSFORMS : undefined;
  return Array.isArray(list) ? list.map((t) => (isPlainObject(t) ? String(t.name) : '')) : [];
}

/**
 * Maps VISSL-only values in the user's tree (in place), warns where VISSL's own setting is a mistake,
 * and returns the values that cannot run here. `origin` names where a key was set.
 */
export function visslValues(tree: Tree, origin: (path: string) => string, warn: (message: string) => void): ValueCheck {
  const check: ValueCheck = { errors: [], reported: new Set() };
  for (const { path, value, as, why } of EQUIVALENTS) {
    const place = at(tree, path);
    if (place === null || place.parent[place.key] !== value) continue;
    const dotted = path.join('.');
    warn(`${dotted}: ${value} (in ${origin(dotted)}) runs as ${as} here (${why})`);
    place.parent[place.key] = as;
  }
  for (const split of ['TRAIN', 'TEST']) {
    for (const key of ['DATA_SOURCES', 'LABEL_SOURCES']) {
      const dotted = `DATA.${split}.${key}`;
      const place = at(tree, dotted.split('.'));
      const sources = place?.parent[place.key];
      if (!Array.isArray(sources)) continue;
      sources.forEach((source, i) => {
        const what = typeof source === 'string' ? UNREADABLE_SOURCES[source] : undefined;
        if (what === undefined) return;
        check.errors.push(
          `${dotted}[${i}] (in ${origin(dotted)}) is '${source}' (${what}), which cannot be read here; ` +
            'copy the images to a folder or a file list and use disk_folder or disk_filelist',
        );
        check.reported.add(`${dotted}[${i}]`);
      });
    }
  }
  const train = transformNames(tree, 'TRAIN');
  const rotate = train.indexOf('ImgRotatePil');
  const flip = train.indexOf('RandomHorizontalFlip', rotate + 1);
  if (rotate >= 0 && flip > rotate) {
    warn(
      `DATA.TRAIN.TRANSFORMS (in ${origin('DATA.TRAIN.TRANSFORMS')}) flips after ImgRotatePil, as VISSL's RotNet config does: ` +
        'the mirror image of a 90-degree rotation is a 270-degree rotation of the mirrored image, so a quarter of the ' +
        'rotation labels contradict their images (rotation accuracy is capped at 75%). Put RandomHorizontalFlip before ' +
        'ImgRotatePil (docs/experiment-rotnet-flip-order.md measures the difference)',
    );
  }
  return check;
}
