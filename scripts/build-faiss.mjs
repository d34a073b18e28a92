#!/usr/bin/env node
// Builds the optional FAISS addon (native/faiss/faiss.cc) into build/Release/clusterfit_faiss.node,
// used by CLUSTER_BACKEND faiss. FAISS is looked for in FAISS_HOME (a folder with include/faiss and
// lib/), then in the system (Debian/Ubuntu libfaiss-dev). Without FAISS the build is skipped with a
// message and exit status 0: the faiss backend is optional, everything else works without it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { addonApiIncludeDir, nodeIncludeDir, root } from './addon-paths.mjs';

const source = join(root, 'native', 'faiss', 'faiss.cc');
const output = join(root, 'build', 'Release', 'clusterfit_faiss.node');

function findFaiss() {
  const home = process.env.FAISS_HOME;
  const prefixes = home ? [home] : ['/usr', '/usr/local'];
  const arch = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[process.arch] ?? '';
  for (const prefix of prefixes) {
    if (!existsSync(join(prefix, 'include', 'faiss', 'Clustering.h'))) continue;
    const lib = [join(prefix, 'lib', arch), join(prefix, 'lib')].find((dir) =>
      ['libfaiss.so', 'libfaiss.a'].some((file) => existsSync(join(dir, file))),
    );
    if (lib) return { include: join(prefix, 'include'), lib };
  }
  return undefined;
}

function skip(reason) {
  console.log(`build-faiss: skipped, ${reason}. The optional CLUSTER_BACKEND faiss needs it:`);
  console.log('  apt-get install libfaiss-dev (or set FAISS_HOME), then npm run build');
  process.exit(0);
}

const faiss = findFaiss() ?? skip('FAISS was not found (no include/faiss/Clustering.h with a libfaiss)');
const nodeInclude = nodeIncludeDir() ?? skip('Node.js headers (node_api.h) were not found; set NODE_INCLUDE_DIR');
const addonApi = addonApiIncludeDir() ?? skip('node-addon-api is missing (run npm install)');

if (existsSync(output) && statSync(output).mtimeMs > statSync(source).mtimeMs) {
  console.log(`build-faiss: up to date ${output}`);
  process.exit(0);
}
mkdirSync(dirname(output), { recursive: true });
const systemInclude = ['/usr/include', '/usr/local/include'].includes(faiss.include);
const args = [
  '-std=c++17',
  '-O2',
  '-fPIC',
  '-shared',
  '-fvisibility=hidden',
  '-fopenmp',
  '-Wall',
  '-Wno-unused-parameter',
  '-DNAPI_VERSION=8',
  '-DNAPI_CPP_EXCEPTIONS',
  '-DNODE_ADDON_API_DISABLE_DEPRECATED',
  `-I${nodeInclude}`,
  `-I${addonApi}`,
  ...(systemInclude ? [] : [`-isystem${faiss.include}`]),
  source,
  '-o',
  output,
  `-L${faiss.lib}`,
  `-Wl,-rpath,${faiss.lib}`,
  // A static libfaiss (Debian's) brings no dependencies of its own: BLAS/LAPACK come explicitly.
  '-lfaiss',
  '-lblas',
  '-llapack',
];
console.log(`build-faiss: FAISS from ${faiss.include}, ${faiss.lib}`);
const result = spawnSync('g++', args, { stdio: 'inherit' });
if (result.status !== 0) {
  console.error(`build-faiss: g++ failed (${result.status ?? result.error?.message})`);
  process.exit(1);
}
console.log(`build-faiss: built ${output}`);
