// What the small single-file N-API addons (native/faiss, native/image) share to build: finding
// the system library each wraps, Node's and node-addon-api's headers, and one g++ invocation with
// an up-to-date check. Each build script only says which library, which flags, and what a
// missing library means (skip an optional addon, fail a required one).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** How every addon uses N-API and node-addon-api. */
export const NAPI_FLAGS = [
  '-DNAPI_VERSION=8',
  '-DNAPI_CPP_EXCEPTIONS',
  // A worker terminated mid-call cannot receive a JS error; without this node-addon-api turns the
  // failed throw into a C++ exception that aborts the process (seen in CI: a loader worker killed
  // while decoding).
  '-DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS',
  '-DNODE_ADDON_API_DISABLE_DEPRECATED',
];

/** The folder with node_api.h, or undefined (NODE_INCLUDE_DIR overrides the search). */
export function nodeIncludeDir() {
  const candidates = [process.env.NODE_INCLUDE_DIR, join(dirname(process.execPath), '..', 'include', 'node')];
  return candidates.find((dir) => dir && existsSync(join(dir, 'node_api.h')));
}

/** node-addon-api's folder (napi.h), or undefined before npm install. Found by Node's module
 * resolution, since npm may hoist it above this package's own node_modules. */
export function addonApiIncludeDir() {
  try {
    const dir = dirname(createRequire(import.meta.url).resolve('node-addon-api/package.json'));
    return existsSync(join(dir, 'napi.h')) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A library's {include, lib} folders: under `$envVar` if set, else the first of `prefixes` that has
 * `header` below include/ and one of `libFiles` in a lib folder (Debian's multiarch one first).
 */
export function findLibrary({ envVar, prefixes, header, libFiles }) {
  const home = process.env[envVar];
  const arch = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[process.arch] ?? '';
  for (const prefix of home ? [home] : prefixes) {
    if (!existsSync(join(prefix, 'include', header))) continue;
    const lib = [join(prefix, 'lib', arch), join(prefix, 'lib64'), join(prefix, 'lib')].find((dir) =>
      libFiles.some((file) => existsSync(join(dir, file))),
    );
    if (lib) return { include: join(prefix, 'include'), lib };
  }
  return undefined;
}

/**
 * Compiles native/<name>/<name>.cc into build/Release/clusterfit_<name>.node against `library`.
 * `missing(reason)` is called (and must exit) when something needed is not there.
 */
export function buildAddon({ name, library, libraryName, flags = [], libs, missing }) {
  const tag = `build-${name}`;
  const source = join(root, 'native', name, `${name}.cc`);
  const output = join(root, 'build', 'Release', `clusterfit_${name}.node`);
  if (!existsSync(source)) missing(`its source ${source} is missing (a package without native/)`);
  const found = library ?? missing(`${libraryName} was not found`);
  const nodeInclude = nodeIncludeDir() ?? missing('Node.js headers (node_api.h) were not found; set NODE_INCLUDE_DIR');
  const addonApi = addonApiIncludeDir() ?? missing('node-addon-api is missing (run npm install)');
  // This file holds the compiler flags, so a change to it rebuilds too.
  const inputsChanged = Math.max(statSync(source).mtimeMs, statSync(fileURLToPath(import.meta.url)).mtimeMs);
  if (existsSync(output) && statSync(output).mtimeMs > inputsChanged) {
    console.log(`${tag}: up to date ${output}`);
    return;
  }
  mkdirSync(dirname(output), { recursive: true });
  const systemInclude = ['/usr/include', '/usr/local/include'].includes(found.include);
  const args = [
    '-std=c++17',
    '-fPIC',
    '-shared',
    '-fvisibility=hidden',
    '-Wall',
    '-Wno-unused-parameter',
    ...NAPI_FLAGS,
    ...flags,
    `-I${nodeInclude}`,
    `-I${addonApi}`,
    ...(systemInclude ? [] : [`-isystem${found.include}`]),
    source,
    '-o',
    output,
    `-L${found.lib}`,
    `-Wl,-rpath,${found.lib}`,
    ...libs,
  ];
  console.log(`${tag}: ${libraryName} from ${found.include}, ${found.lib}`);
  const result = spawnSync('g++', args, { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`${tag}: g++ failed (${result.status ?? result.error?.message})`);
    process.exit(1);
  }
  console.log(`${tag}: built ${output}`);
}
