// Finds the CUDA runtime headers a CUDA build of the addon needs for c10/cuda's headers (the
// caching allocator's statistics in native/src/cuda.cc), and checks with one compile that they
// work. PyTorch wheels ship no CUDA headers of their own, but the NVIDIA pip packages they depend
// on do (nvidia/cuda_runtime/include for CUDA 12, nvidia/cu13/include for CUDA 13); a toolkit
// install has them in $CUDA_HOME/include or /usr/local/cuda/include.
//
// Returns the extra compiler flags: -isystem<dir>... -DCLUSTERFIT_WITH_CUDA_HEADERS when the probe
// compiles (headers and the allocator calls cuda.cc makes), nothing otherwise (the addon then builds without the allocator statistics and says so).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

function candidateDirs(libDir) {
  const dirs = [];
  for (const home of [process.env.CUDA_HOME, process.env.CUDA_PATH, '/usr/local/cuda']) {
    if (home) dirs.push(join(home, 'include'));
  }
  // <site-packages>/torch/lib -> <site-packages>/nvidia/*/include
  const nvidia = resolve(libDir, '..', '..', 'nvidia');
  if (existsSync(nvidia)) {
    for (const entry of readdirSync(nvidia)) dirs.push(join(nvidia, entry, 'include'));
  }
  return dirs.filter((dir) => existsSync(dir));
}

export function cudaHeaderFlags(libDir, baseFlags) {
  const all = candidateDirs(libDir);
  const runtime = all.find((dir) => existsSync(join(dir, 'cuda_runtime_api.h')));
  if (!runtime) {
    console.log('build-native: CUDA runtime headers not found: CUDA memory statistics will be unavailable');
    return [];
  }
  // Every nvidia/*/include travels along: cuda_runtime_api.h pulls headers from sibling packages.
  const flags = [...new Set([runtime, ...all])].map((dir) => `-isystem${dir}`);
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
    const first =
      String(error.stderr ?? error.message)
        .split('\n')
        .find((l) => l.includes('error')) ?? '';
    console.log(
      `build-native: c10/cuda headers do not compile with ${runtime} (${first.trim()}): no CUDA memory statistics`,
    );
    return [];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
