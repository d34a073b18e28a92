#!/usr/bin/env node
// One line naming what the native addon of this checkout was built against (build/native-config.json,
// written by scripts/build-native.mjs), for the summary of each CI leg.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from '../addon-build.mjs';

const file = join(root, 'build', 'native-config.json');
if (!existsSync(file)) {
  console.log('no native build');
} else {
  const config = JSON.parse(readFileSync(file, 'utf8'));
  const cuda = config.cuda ? `CUDA on${config.cudaHeaders ? '' : ' (no CUDA headers)'}` : 'CUDA off';
  const backends = config.c10d?.backends.join('+') || 'none';
  console.log(`libtorch ${config.torchVersion} (${config.origin}), ${cuda}, distributed backends ${backends}`);
}
