// Finds the CUDA headers a CUDA build of the addon needs: the runtime's (cuda_runtime_api.h) for
// c10/cuda's headers (the caching allocator's statistics in native/src/cuda.cc), and for NCCL
// (c10d-probes.mjs) nccl.h plus what ProcessGroupNCCL.hpp pulls in (cuBLAS, cuSPARSE, libcu++'s
// nv/target). They are looked for where each way of getting a CUDA libtorch puts them:
//   - $NCCL_INCLUDE, $CUDA_HOME/include, $CUDA_PATH/include, /usr/local/cuda/include (a toolkit);
//   - libtorch's own include folders: Debian's packages (nvidia-cuda-dev, libnccl-dev, libcu++-dev,
//     libtorch-cuda-dev) all install into one <prefix>/include, also when only unpacked elsewhere
//     and pointed at with LIBTORCH=<prefix>;
//   - /usr/include (those packages installed);
//   - PyTorch's pip wheels: <site-packages>/nvidia/<package>/include (CUDA 12's nvidia-cuda-runtime-cu12,
//     nvidia-nccl-cu12, ...) and <site-packages>/nvidia/<package>/<sub>/include (CUDA 13's nvidia/cu13).
// Every folder found travels along as -isystem (cuda_runtime_api.h pulls headers from sibling
// packages), except the compiler's default ones, which must not be repeated (libstdc++'s #include_next).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DEFAULT_INCLUDES = ['/usr/include', '/usr/local/include'];

function subfolders(dir) {
  try {
    return readdirSync(dir).map((name) => join(dir, name));
  } catch {
    return [];
  }
}

/** Every existing folder that may hold CUDA headers for this libtorch ({includes, lib}), in search order. */
export function cudaIncludeDirs(libtorch) {
  const homes = [process.env.CUDA_HOME, process.env.CUDA_PATH, '/usr/local/cuda'].filter(Boolean);
  // <site-packages>/torch/lib -> <site-packages>/nvidia/*
  const nvidia = subfolders(join(libtorch.lib, '..', '..', 'nvidia'));
  const dirs = [
    process.env.NCCL_INCLUDE,
    ...homes.map((home) => join(home, 'include')),
    ...libtorch.includes,
    ...DEFAULT_INCLUDES,
    ...nvidia.map((dir) => join(dir, 'include')),
    ...nvidia.flatMap((dir) => subfolders(dir).map((sub) => join(sub, 'include'))),
  ];
  return [...new Set(dirs.filter((dir) => dir && existsSync(dir)))];
}

/** -isystem flags for `dirs`, less the compiler's default folders. */
export function includeFlags(dirs) {
  return dirs.filter((dir) => !DEFAULT_INCLUDES.includes(dir)).map((dir) => `-isystem${dir}`);
}

/** The first of `dirs` holding `header`, or undefined. */
export function folderWith(dirs, header) {
  return dirs.find((dir) => existsSync(join(dir, header)));
}

/** The header a failed compile could not find, or its first error line, from g++'s stderr. */
export function firstCompileError(stderr) {
  const lines = String(stderr).split('\n');
  const missing = lines.map((line) => /fatal error: (\S+): No such file or directory/.exec(line)).find(Boolean);
  if (missing) return `${missing[1]} is missing`;
  return (lines.find((line) => line.includes('error')) ?? lines[0] ?? '').trim();
}

/** "header.h (looked in a, b, c)" for a message saying a header was not found. */
export function notFound(header, dirs) {
  return `${header} not found (looked in ${dirs.join(', ') || 'no CUDA include folder'}; set CUDA_HOME or NCCL_INCLUDE)`;
}

/**
 * The extra compiler flags for c10/cuda's headers: -isystem<dir>... -DCLUSTERFIT_WITH_CUDA_HEADERS when
 * the probe compiles (headers and the allocator calls cuda.cc makes), nothing otherwise (the addon then
 * builds without the allocator statistics and says which header or call was missing).
 */
export function cudaHeaderFlags(libtorch, baseFlags) {
  const all = cudaIncludeDirs(libtorch);
  const runtime = folderWith(all, 'cuda_runtime_api.h');
  if (!runtime) {
    console.log(`build-native: ${notFound('cuda_runtime_api.h', all)}: CUDA memory statistics will be unavailable`);
    return [];
  }
  const flags = includeFlags(all);
  const dir = mkdtempSync(join(tmpdir(), 'cf-cuda-probe-'));
  try {
    const probe = join(dir, 'probe.cc');
    // The exact calls native/src/cuda.cc makes: a PyTorch that renamed one builds without the statistics.
    writeFileSync(
      probe,
      [
        '#include <c10/cuda/CUDACachingAllocator.h>',
        'namespace allocator = c10::cuda::CUDACachingAllocator;',
        'double probe(int d) {',
        '  const auto s = allocator::getDeviceStats(d);',
        '  allocator::resetPeakStats(d);',
        '  allocator::emptyCache();',
        '  return double(s.allocated_bytes[0].current + s.allocated_bytes[0].peak + s.reserved_bytes[0].current + s.reserved_bytes[0].peak);',
        '}',
        '',
      ].join('\n'),
    );
    execFileSync('g++', [...baseFlags, ...flags, '-fsyntax-only', probe], { stdio: 'pipe' });
    console.log(`build-native: CUDA headers from ${runtime}`);
    return [...flags, '-DCLUSTERFIT_WITH_CUDA_HEADERS'];
  } catch (error) {
    console.log(
      `build-native: c10/cuda headers do not compile with ${runtime} (${firstCompileError(error.stderr ?? error.message)}): no CUDA memory statistics`,
    );
    return [];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
