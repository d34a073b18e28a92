#!/usr/bin/env node
// Copies this working tree (tracked files and untracked ones git does not ignore) to DEST for a stack
// leg, by content: a file whose bytes are already there is left alone, a new or changed one is written
// and stamped now. The native build is mtime-based (scripts/build-native.mjs), so a cached root then
// recompiles exactly the sources that changed since its last run, also from a fresh clone (whose files
// all carry the clone's time). Files gone from the tree are removed; build/ (the objects) and
// node_modules/ (npm ci replaces it) are kept, dist/ is dropped so no compiled test outlives its source.
//
//   node scripts/stacks/sync-tree.mjs DEST
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { root } from '../addon-build.mjs';

const dest = process.argv[2];
if (!dest) {
  console.error('usage: node scripts/stacks/sync-tree.mjs DEST');
  process.exit(2);
}
const KEPT = new Set(['build', 'node_modules']);

const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
  cwd: root,
  encoding: 'utf8',
  maxBuffer: 64 * 1024 * 1024,
})
  .split('\0')
  .filter((file) => file && existsSync(join(root, file))); // a deleted, not yet committed file is listed too

const wanted = new Set(files);
let written = 0;
for (const file of files) {
  const from = join(root, file);
  const to = join(dest, file);
  const same =
    existsSync(to) &&
    statSync(to).size === statSync(from).size &&
    readFileSync(to).equals(readFileSync(from)) &&
    (statSync(to).mode & 0o777) === (statSync(from).mode & 0o777);
  if (same) continue;
  mkdirSync(dirname(to), { recursive: true });
  rmSync(to, { force: true });
  copyFileSync(from, to); // copyFileSync keeps the mode and stamps the copy with the current time
  written++;
}

// Everything else under DEST goes, except the kept folders; empty folders go with it.
function prune(dir) {
  let left = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const rel = relative(dest, path);
    if (dir === dest && KEPT.has(entry.name)) {
      left++;
    } else if (entry.isDirectory() && !(dir === dest && entry.name === 'dist')) {
      if (prune(path) === 0) rmSync(path, { recursive: true });
      else left++;
    } else if (!wanted.has(rel)) {
      rmSync(path, { recursive: true, force: true });
    } else {
      left++;
    }
  }
  return left;
}
mkdirSync(dest, { recursive: true });
prune(dest);
console.log(`sync-tree: ${files.length} files in ${dest}, ${written} written`);
