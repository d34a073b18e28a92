// Include folders every N-API addon build of this project needs: Node's own headers and
// node-addon-api's. Shared by the addon build scripts.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The folder with node_api.h, or undefined (NODE_INCLUDE_DIR overrides the search). */
export function nodeIncludeDir() {
  const candidates = [process.env.NODE_INCLUDE_DIR, join(dirname(process.execPath), '..', 'include', 'node')];
  return candidates.find((dir) => dir && existsSync(join(dir, 'node_api.h')));
}

/** node-addon-api's folder (napi.h), or undefined before npm install. */
export function addonApiIncludeDir() {
  const dir = join(root, 'node_modules', 'node-addon-api');
  return existsSync(join(dir, 'napi.h')) ? dir : undefined;
}
