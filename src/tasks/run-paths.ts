// Paths a stage records in its run folder's files (cluster_done.json's centroids, ...) are absolute,
// as written. Run folders get moved and copied whole (mv, cp -a, rsync to another machine), so a
// path that lay inside the folder when it was recorded is taken inside the folder where it is now:
// a copy reads its own files, never the original's, and a moved folder still finds them.
import { isAbsolute, relative, resolve } from 'node:path';

/**
 * `path` as recorded by a stage whose folder was then `recordedDir`, for the folder now at
 * `currentDir`. Paths outside the recorded folder (a dataset, a pretrained model) stay as they are.
 */
export function relocate(path: string, recordedDir: string, currentDir: string): string {
  const inside = relative(resolve(recordedDir), resolve(recordedDir, path));
  if (inside.startsWith('..') || isAbsolute(inside)) return resolve(recordedDir, path);
  return resolve(currentDir, inside);
}
