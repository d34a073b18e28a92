#!/usr/bin/env node
// Builds the native addon (native/src/*.cc) into build/Release/clusterfit_native.node.
//
// libtorch is looked for, in order, in:
//   1. LIBTORCH               a folder with include/ and lib/ (the zip from pytorch.org)
//   2. LIBTORCH_USE_PYTORCH=1 the copy inside the Python `torch` package (python3, or $PYTHON)
//   3. the system             Debian/Ubuntu `libtorch-dev` (/usr/include/torch, /usr/lib/<arch>)
// It compiles with g++ directly (no node-gyp, no Python needed) so the same script serves this
// machine, CI, and GPU machines that only have PyTorch. Objects are rebuilt only when a source,
// a header or the flags change.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cudaHeaderFlags } from './cuda-headers.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const sourceDir = join(root, 'native', 'src');
const objectDir = join(root, 'build', 'obj');
const outputFile = join(root, 'build', 'Release', 'clusterfit_native.node');

const INSTALL_HELP = `libtorch was not found. Install it one of these ways, then run the build again:
  - Debian/Ubuntu:   apt-get install libtorch-dev
  - a libtorch zip:  unzip it and set LIBTORCH=/path/to/libtorch (the folder with include/ and lib/)
  - a PyTorch wheel: set LIBTORCH_USE_PYTORCH=1 (uses the torch package of python3, or of $PYTHON)`;

function fail(message) {
  console.error(`build-native: ${message}`);
  process.exit(1);
}

function fromFolder(folder, origin) {
  const include = join(folder, 'include');
  const lib = join(folder, 'lib');
  if (!existsSync(join(include, 'torch', 'csrc', 'api', 'include', 'torch', 'version.h'))) {
    fail(`${origin}=${folder} has no include/torch/csrc/api/include/torch/version.h\n${INSTALL_HELP}`);
  }
  return { origin, includes: [include, join(include, 'torch', 'csrc', 'api', 'include')], lib };
}

function fromPython() {
  const python = process.env.PYTHON || 'python3';
  const script = [
    'import json, torch',
    'from torch.utils import cpp_extension as c',
    'print(json.dumps({"includes": c.include_paths(), "lib": c.library_paths()[0],',
    ' "abi": int(torch._C._GLIBCXX_USE_CXX11_ABI), "version": torch.__version__.split("+")[0]}))',
  ].join('\n');
  let found;
  try {
    found = JSON.parse(execFileSync(python, ['-c', script], { encoding: 'utf8' }));
  } catch (error) {
    fail(`LIBTORCH_USE_PYTORCH=1 but '${python} -c "import torch"' failed: ${error.message}\n${INSTALL_HELP}`);
  }
  return {
    origin: `PyTorch (${python})`,
    includes: found.includes,
    lib: found.lib,
    abi: found.abi,
    version: found.version,
  };
}

function fromSystem() {
  const arch = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[process.arch] ?? '';
  for (const prefix of ['/usr', '/usr/local']) {
    const version = join(prefix, 'include', 'torch', 'csrc', 'api', 'include', 'torch', 'version.h');
    const lib = [join(prefix, 'lib', arch), join(prefix, 'lib')].find((d) => existsSync(join(d, 'libtorch.so')));
    if (existsSync(version) && lib) {
      return {
        origin: `system (${prefix})`,
        includes: [join(prefix, 'include'), join(prefix, 'include', 'torch', 'csrc', 'api', 'include')],
        lib,
      };
    }
  }
  return undefined;
}

function findLibtorch() {
  if (process.env.LIBTORCH) return fromFolder(resolve(process.env.LIBTORCH), 'LIBTORCH');
  if (process.env.LIBTORCH_USE_PYTORCH === '1') return fromPython();
  return fromSystem() ?? fail(INSTALL_HELP);
}

function torchVersion(includes) {
  for (const dir of includes) {
    const file = join(dir, 'torch', 'version.h');
    if (existsSync(file)) {
      const text = readFileSync(file, 'utf8');
      const part = (name) => new RegExp(`#define TORCH_VERSION_${name} (\\d+)`).exec(text)?.[1];
      if (part('MAJOR')) return `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
    }
  }
  return 'unknown';
}

// Debian builds and PyTorch >= 2.7 wheels use the C++11 ABI, older wheels do not; a mismatch only
// shows up as undefined symbols at load time, so it is detected from libc10's own symbols.
function cxx11Abi(libtorch) {
  if (process.env.LIBTORCH_CXX11_ABI !== undefined) return Number(process.env.LIBTORCH_CXX11_ABI);
  if (libtorch.abi !== undefined) return libtorch.abi;
  try {
    const symbols = execFileSync('nm', ['-D', '--defined-only', join(libtorch.lib, 'libc10.so')], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    return symbols.includes('__cxx11') ? 1 : 0;
  } catch {
    return 1;
  }
}

function nodeIncludeDir() {
  const candidates = [process.env.NODE_INCLUDE_DIR, join(dirname(process.execPath), '..', 'include', 'node')];
  const found = candidates.find((dir) => dir && existsSync(join(dir, 'node_api.h')));
  return (
    found ??
    fail(`Node.js headers (node_api.h) not found in ${candidates.filter(Boolean).join(', ')}; set NODE_INCLUDE_DIR`)
  );
}

function addonApiIncludeDir() {
  const dir = join(root, 'node_modules', 'node-addon-api');
  return existsSync(join(dir, 'napi.h')) ? dir : fail('node-addon-api is missing: run npm install first');
}

function run(command, args) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`${command} exited with ${code}`))));
  });
}

async function main() {
  const libtorch = findLibtorch();
  const version = libtorch.version ?? torchVersion(libtorch.includes);
  const cuda = existsSync(join(libtorch.lib, 'libtorch_cuda.so'));
  const abi = cxx11Abi(libtorch);
  const flags = [
    '-std=c++17',
    '-O2',
    '-fPIC',
    '-fvisibility=hidden',
    '-Wall',
    '-Wno-unused-parameter',
    `-D_GLIBCXX_USE_CXX11_ABI=${abi}`,
    '-DNAPI_VERSION=8',
    '-DNAPI_CPP_EXCEPTIONS',
    '-DNODE_ADDON_API_DISABLE_DEPRECATED',
    ...(cuda ? ['-DCLUSTERFIT_WITH_CUDA'] : []),
    `-I${nodeIncludeDir()}`,
    `-I${addonApiIncludeDir()}`,
    // Default search paths must not be repeated with -isystem: it breaks libstdc++'s #include_next.
    ...libtorch.includes
      .filter((dir) => !['/usr/include', '/usr/local/include'].includes(dir))
      .map((dir) => `-isystem${dir}`),
  ];
  if (cuda) flags.push(...cudaHeaderFlags(libtorch.lib, flags));
  const libs = ['-ltorch', '-ltorch_cpu', ...(cuda ? ['-ltorch_cuda', '-lc10_cuda'] : []), '-lc10'];
  console.log(
    `build-native: libtorch ${version} from ${libtorch.origin}, lib ${libtorch.lib}, CUDA ${cuda ? 'yes' : 'no'}, C++11 ABI ${abi}`,
  );

  mkdirSync(objectDir, { recursive: true });
  mkdirSync(dirname(outputFile), { recursive: true });
  const flagsHash = createHash('sha256').update(flags.join(' ')).digest('hex');
  const flagsFile = join(objectDir, 'flags.sha256');
  const flagsChanged = !existsSync(flagsFile) || readFileSync(flagsFile, 'utf8') !== flagsHash;
  const files = readdirSync(sourceDir);
  const newestHeader = Math.max(
    0,
    ...files.filter((f) => f.endsWith('.h')).map((f) => statSync(join(sourceDir, f)).mtimeMs),
  );
  const sources = files.filter((f) => f.endsWith('.cc'));
  const objects = sources.map((f) => join(objectDir, f.replace(/\.cc$/, '.o')));
  const stale = sources.filter((f, i) => {
    if (flagsChanged || !existsSync(objects[i])) return true;
    const built = statSync(objects[i]).mtimeMs;
    return built < statSync(join(sourceDir, f)).mtimeMs || built < newestHeader;
  });

  const queue = [...stale];
  const jobs = Math.max(1, Math.min(availableParallelism(), Number(process.env.JOBS) || Infinity));
  const worker = async () => {
    for (let file = queue.shift(); file; file = queue.shift()) {
      console.log(`build-native: compiling ${file}`);
      await run('g++', [...flags, '-c', join(sourceDir, file), '-o', join(objectDir, file.replace(/\.cc$/, '.o'))]);
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  writeFileSync(flagsFile, flagsHash);

  const outputStale =
    !existsSync(outputFile) || objects.some((o) => statSync(o).mtimeMs > statSync(outputFile).mtimeMs);
  if (outputStale) {
    await run('g++', [
      '-shared',
      '-o',
      outputFile,
      ...objects,
      `-L${libtorch.lib}`,
      `-Wl,-rpath,${libtorch.lib}`,
      '-Wl,--no-as-needed',
      ...libs,
      '-Wl,--as-needed',
    ]);
  }
  writeFileSync(
    join(root, 'build', 'native-config.json'),
    JSON.stringify({ torchVersion: version, origin: libtorch.origin, lib: libtorch.lib, cuda, cxx11Abi: abi }, null, 2),
  );
  console.log(`build-native: ${outputStale ? 'built' : 'up to date'} ${outputFile}`);
}

main().catch((error) => fail(error.message));
