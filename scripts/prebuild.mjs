#!/usr/bin/env node
// Copies the addons built here (build/Release) into prebuilds/<platform>-<arch>/, with the libtorch
// they were built against (native-config.json), so `npm pack` ships them and the install step of
// a machine with the same libtorch loads them instead of compiling for minutes. The install step
// checks that each loads there and falls back to building from native/ when one does not.
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './addon-build.mjs';

const target = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const release = join(root, 'build', 'Release');
if (!existsSync(join(release, 'clusterfit_native.node'))) {
  console.error('prebuild: build/Release/clusterfit_native.node is missing: run npm run build first');
  process.exit(1);
}
rmSync(target, { recursive: true, force: true });
mkdirSync(target, { recursive: true });
copyFileSync(join(root, 'build', 'native-config.json'), join(target, 'native-config.json'));
for (const name of ['native', 'image', 'faiss', 'liblinear']) {
  const file = join(release, `clusterfit_${name}.node`);
  if (existsSync(file)) copyFileSync(file, join(target, `clusterfit_${name}.node`));
}
console.log(`prebuild: addons copied to ${target}`);
