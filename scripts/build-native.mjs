#!/usr/bin/env node
// Builds the native addon (native/src/*.cc) into build/Release/clusterfit_native.node.
//
// libtorch is looked for as scripts/libtorch.mjs says (LIBTORCH, LIBTORCH_USE_PYTORCH=1, the system).
// It compiles with g++ directly (no node-gyp, no Python needed) so the same script serves this
// machine, CI, and GPU machines that only have PyTorch. Objects are rebuilt only when a source,
// a header or the flags change. The libtorch and N-API headers every file starts with are parsed
// once, into a precompiled header (native-pch.mjs), and the files compile side by side.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { probeC10d } from './c10d-probes.mjs';
import { addonApiIncludeDir, NAPI_FLAGS, nodeIncludeDir, root } from './addon-build.mjs';
import { findLibtorch, INSTALL_HELP, LibtorchMissing } from './libtorch.mjs';
import { cudaHeaderFlags } from './cuda-headers.mjs';
import { precompiledPrelude } from './native-pch.mjs';

const sourceDir = join(root, 'native', 'src');
const objectDir = join(root, 'build', 'obj');
const outputFile = join(root, 'build', 'Release', 'clusterfit_native.node');

function fail(message) {
  console.error(`build-native: ${message}`);
  process.exit(1);
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

function run(command, args) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`${command} exited with ${code}`))));
  });
}

async function main() {
  let libtorch;
  try {
    libtorch = findLibtorch();
  } catch (error) {
    if (error instanceof LibtorchMissing) fail(`${error.message}\n${INSTALL_HELP}`);
    throw error;
  }
  const version = libtorch.version;
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
    ...NAPI_FLAGS,
    ...(cuda ? ['-DCLUSTERFIT_WITH_CUDA'] : []),
    `-I${nodeIncludeDir() ?? fail('Node.js headers (node_api.h) were not found; set NODE_INCLUDE_DIR')}`,
    `-I${addonApiIncludeDir() ?? fail('node-addon-api is missing: run npm install first')}`,
    // Default search paths must not be repeated with -isystem: it breaks libstdc++'s #include_next.
    ...libtorch.includes
      .filter((dir) => !['/usr/include', '/usr/local/include'].includes(dir))
      .map((dir) => `-isystem${dir}`),
  ];
  if (cuda) flags.push(...cudaHeaderFlags(libtorch, flags));
  const libs = ['-ltorch', '-ltorch_cpu', ...(cuda ? ['-ltorch_cuda', '-lc10_cuda'] : []), '-lc10'];
  const pch = precompiledPrelude({ objectDir, flags, libtorchVersion: version });
  const c10d = await probeC10d({ root, flags, pch, libtorch, cuda });
  flags.push(...c10d.flags);
  console.log(
    `build-native: libtorch ${version} from ${libtorch.origin}, lib ${libtorch.lib}, CUDA ${cuda ? 'yes' : 'no'}, C++11 ABI ${abi}`,
  );

  console.log(`build-native: ${c10d.summary}`);

  mkdirSync(objectDir, { recursive: true });
  mkdirSync(dirname(outputFile), { recursive: true });
  // The libtorch version is part of the key: an upgrade in place keeps the flags but changes the headers.
  const flagsHash = createHash('sha256').update(flags.join(' ')).update(version).digest('hex');
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

  // The files that start with common.h include the precompiled two first.
  const usesPch = (file) => readFileSync(join(sourceDir, file), 'utf8').includes('#include "common.h"');
  const queue = [...stale];
  const jobs = Math.max(1, Math.min(availableParallelism(), Number(process.env.JOBS) || Infinity));
  const worker = async () => {
    for (let file = queue.shift(); file; file = queue.shift()) {
      console.log(`build-native: compiling ${file}`);
      const source = join(sourceDir, file);
      const prelude = usesPch(file) ? await pch() : [];
      await run('g++', [...flags, ...prelude, '-c', source, '-o', join(objectDir, file.replace(/\.cc$/, '.o'))]);
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
    JSON.stringify(
      {
        torchVersion: version,
        origin: libtorch.origin,
        lib: libtorch.lib,
        cuda,
        cudaHeaders: flags.includes('-DCLUSTERFIT_WITH_CUDA_HEADERS'),
        cxx11Abi: abi,
        c10d: { backends: c10d.backends, summary: c10d.summary },
      },
      null,
      2,
    ),
  );
  console.log(`build-native: ${outputStale ? 'built' : 'up to date'} ${outputFile}`);
}

main().catch((error) => fail(error.message));
