#!/usr/bin/env node
// Builds the image addon (native/image/image.cc) into build/Release/clusterfit_image.node: TurboJPEG
// decoding and the loader's geometric operations, used by the data loader's worker threads. It
// needs TurboJPEG (Debian/Ubuntu libturbojpeg0-dev), looked for in TURBOJPEG_HOME (a folder with
// include/turbojpeg.h and lib/), then in the system. Unlike FAISS it is required: without it the
// build fails with a message saying what to install.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { addonApiIncludeDir, nodeIncludeDir, root } from './addon-paths.mjs';

const source = join(root, 'native', 'image', 'image.cc');
const output = join(root, 'build', 'Release', 'clusterfit_image.node');

function findTurboJpeg() {
  const home = process.env.TURBOJPEG_HOME;
  const prefixes = home ? [home] : ['/usr', '/usr/local', '/opt/libjpeg-turbo'];
  const arch = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[process.arch] ?? '';
  for (const prefix of prefixes) {
    if (!existsSync(join(prefix, 'include', 'turbojpeg.h'))) continue;
    const lib = [join(prefix, 'lib', arch), join(prefix, 'lib64'), join(prefix, 'lib')].find((dir) =>
      existsSync(join(dir, 'libturbojpeg.so')),
    );
    if (lib) return { include: join(prefix, 'include'), lib };
  }
  return undefined;
}

function fail(reason) {
  console.error(`build-image: ${reason}.`);
  console.error(
    '  The data loader needs it: apt-get install libturbojpeg0-dev (or set TURBOJPEG_HOME), then npm run build',
  );
  process.exit(1);
}

const turbo = findTurboJpeg() ?? fail('TurboJPEG was not found (no include/turbojpeg.h with a libturbojpeg.so)');
const nodeInclude = nodeIncludeDir() ?? fail('Node.js headers (node_api.h) were not found; set NODE_INCLUDE_DIR');
const addonApi = addonApiIncludeDir() ?? fail('node-addon-api is missing (run npm install)');

if (existsSync(output) && statSync(output).mtimeMs > statSync(source).mtimeMs) {
  console.log(`build-image: up to date ${output}`);
  process.exit(0);
}
mkdirSync(dirname(output), { recursive: true });
const systemInclude = ['/usr/include', '/usr/local/include'].includes(turbo.include);
const args = [
  '-std=c++17',
  // -O3: the resampling passes are loops the compiler vectorises.
  '-O3',
  '-fPIC',
  '-shared',
  '-fvisibility=hidden',
  '-Wall',
  '-Wno-unused-parameter',
  '-DNAPI_VERSION=8',
  '-DNAPI_CPP_EXCEPTIONS',
  '-DNODE_ADDON_API_DISABLE_DEPRECATED',
  `-I${nodeInclude}`,
  `-I${addonApi}`,
  ...(systemInclude ? [] : [`-isystem${turbo.include}`]),
  source,
  '-o',
  output,
  `-L${turbo.lib}`,
  `-Wl,-rpath,${turbo.lib}`,
  '-lturbojpeg',
];
console.log(`build-image: TurboJPEG from ${turbo.include}, ${turbo.lib}`);
const result = spawnSync('g++', args, { stdio: 'inherit' });
if (result.status !== 0) {
  console.error(`build-image: g++ failed (${result.status ?? result.error?.message})`);
  process.exit(1);
}
console.log(`build-image: built ${output}`);
