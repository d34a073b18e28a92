// Compile probes for PyTorch's distributed engine (c10d), used by build-native.mjs. c10d's C++
// API changed between 1.13 and 2.x (see native/src/distributed_compat.h), and what a libtorch
// ships differs too (Debian lacks one dist-autograd header, wheels lack Gloo's headers), so
// instead of guessing from the version number each switch is decided by compiling the exact call
// form the addon uses. Results are cached per flags in build/obj/c10d-probes.json. The probes
// are independent compiles, so they run side by side, as many at a time as there are cores (one
// after another, they left every core but one idle at the start of a from-source build).
// CLUSTERFIT_DISTRIBUTED=0 builds without c10d (every distributed call then says so).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { cudaIncludeDirs, firstCompileError, folderWith, includeFlags, notFound } from './cuda-headers.mjs';

const HEADERS = `
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>
#include <chrono>
#include <string>
#include <unordered_map>
#include <vector>
`;

const REDUCER_ARGS = `std::vector<at::Tensor> p, std::vector<std::vector<size_t>> b, std::vector<size_t> l,
  c10::intrusive_ptr<c10d::ProcessGroup> g, std::vector<bool> s, std::unordered_map<size_t, std::string> n`;

// The Reducer constructors PyTorch has had, newest last (distributed_compat.h: makeReducer).
const REDUCER_CTORS = {
  1: 'new c10d::Reducer(p, b, l, g, s, 1, false, false, n, 1);',
  2: 'new c10d::Reducer(p, b, g, s, 1, false, false, n, 1);',
  3: 'new c10d::Reducer(p, b, g, s, 1, false, false, n, 1, false, false);',
  4: 'new c10d::Reducer(p, b, g, s, 1, false, false, n, 1, false, false, std::vector<int64_t>{});',
};

function compile(flags, source, scratch) {
  mkdirSync(dirname(scratch), { recursive: true });
  writeFileSync(scratch, source);
  return new Promise((resolve) => {
    const child = spawn('g++', [...flags, '-fsyntax-only', scratch], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', (error) => resolve({ ok: false, error: error.message }));
    child.on('exit', (code) => resolve({ ok: code === 0, error: code === 0 ? undefined : firstCompileError(stderr) }));
  });
}

/** Runs the tasks given to it at most `jobs` at a time. */
function limit(jobs) {
  let running = 0;
  const waiting = [];
  return async (task) => {
    if (running >= jobs) await new Promise((resolve) => waiting.push(resolve));
    running += 1;
    try {
      return await task();
    } finally {
      running -= 1;
      waiting.shift()?.();
    }
  };
}

/** The first folder (of `candidates`) holding every file of `files`, or undefined. */
function folderWithAll(candidates, files) {
  return candidates.find((dir) => dir && files.every((f) => existsSync(join(dir, f))));
}

/**
 * Decides the c10d switches. `flags` are the addon's compile flags, `libtorch` what
 * build-native found, `pch` resolves to the flags that use its precompiled header. Returns the extra
 * flags for the addon and a summary for the build log.
 */
export async function probeC10d({ root, flags, pch = async () => [], libtorch, cuda }) {
  const objectDir = join(root, 'build', 'obj');
  const cacheFile = join(objectDir, 'c10d-probes.json');
  const cache = existsSync(cacheFile) ? JSON.parse(readFileSync(cacheFile, 'utf8')) : {};
  let counter = 0;
  const slot = limit(Math.max(1, Math.min(availableParallelism(), Number(process.env.JOBS) || Infinity)));
  // The cache key leaves the precompiled header out: with or without it a probe says the same.
  const probe = async (extraFlags, body) => {
    const source = `${HEADERS}${body}\n`;
    const all = [...flags, ...extraFlags];
    const key = createHash('sha256').update(all.join(' ')).update(source).digest('hex');
    if (!(key in cache)) {
      const scratch = join(objectDir, 'probes', `p${counter++}.cc`);
      const prelude = await pch();
      cache[key] = await slot(() => compile([...all, ...prelude], source, scratch));
    }
    return cache[key];
  };
  const save = () => writeFileSync(cacheFile, JSON.stringify(cache));

  // reducer.hpp includes a dist-autograd header that Debian does not ship: use our stand-in there.
  const contextHeader = join('torch', 'csrc', 'distributed', 'autograd', 'context', 'context.h');
  const hasContext = libtorch.includes.some((dir) => existsSync(join(dir, contextHeader)));
  const base = hasContext ? [] : [`-isystem${join(root, 'native', 'compat')}`];

  const unavailable = (reason) => {
    save();
    const quoted = reason.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
    return {
      flags: [`-DCF_C10D_UNAVAILABLE="${quoted}"`],
      backends: [],
      summary: `distributed unavailable: ${reason}`,
    };
  };

  if (process.env.CLUSTERFIT_DISTRIBUTED === '0') {
    return unavailable('the build was made with CLUSTERFIT_DISTRIBUTED=0; rebuild without it (npm run build:native)');
  }
  // Everything that does not depend on another probe's answer starts now; the answers are read
  // in the order the decisions need them.
  const core = probe(base, 'int main() { c10d::TCPStoreOptions o; (void)o; return 0; }');
  const reducerProbes = Object.entries(REDUCER_CTORS).map(([variant, call]) => [
    variant,
    () => probe(base, `void f(${REDUCER_ARGS}) { ${call} }`),
  ]);
  const firstReducer = reducerProbes[0][1]();

  // Gloo: Debian's libgloo-dev in /usr/include, $GLOO_INCLUDE, or a libtorch that ships them.
  const glooDir = folderWithAll(
    [process.env.GLOO_INCLUDE, ...libtorch.includes, '/usr/include', '/usr/local/include'],
    [join('gloo', 'config.h')],
  );
  const glooFlags = glooDir
    ? ['-DUSE_C10D_GLOO', ...(['/usr/include', '/usr/local/include'].includes(glooDir) ? [] : [`-isystem${glooDir}`])]
    : undefined;
  const gloo = glooFlags
    ? probe(
        [...base, ...glooFlags],
        `#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
void f() {
  auto options = c10d::ProcessGroupGloo::Options::create(std::chrono::milliseconds(1));
  options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface("lo"));
}`,
      )
    : { ok: false, error: "Gloo's headers (gloo/config.h) were not found: install libgloo-dev or set GLOO_INCLUDE" };

  // NCCL: nccl.h and the CUDA headers ProcessGroupNCCL.hpp includes (cuda-headers.mjs says where from).
  const cudaDirs = cuda ? cudaIncludeDirs(libtorch) : [];
  const missingNccl = cuda ? ['nccl.h', 'cuda_runtime_api.h'].find((h) => !folderWith(cudaDirs, h)) : undefined;
  const ncclFlags = ['-DUSE_C10D_NCCL', ...includeFlags(cudaDirs)];
  const nccl = !cuda
    ? { ok: false, error: 'CPU libtorch' }
    : missingNccl
      ? { ok: false, error: notFound(missingNccl, cudaDirs) }
      : probe(
          [...base, ...ncclFlags],
          `#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
void f() { auto options = c10d::ProcessGroupNCCL::Options::create(); options->timeout = std::chrono::milliseconds(1); }`,
        );

  const pgBackend = probe(
    base,
    `void f(c10d::ProcessGroup& g, c10::intrusive_ptr<c10d::Backend> b) {
  g.setDefaultBackend(c10d::ProcessGroup::BackendType::GLOO);
  g.setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::GLOO, b);
}`,
  );
  // Only read when ProcessGroup has backends (PyTorch >= 2.0); made anyway, not to wait for that answer.
  const pgOptions = probe(
    base,
    `void f(c10::intrusive_ptr<c10d::Store> s) {
  c10d::ProcessGroup g(s, 0, 1, c10::make_intrusive<c10d::ProcessGroup::Options>(std::string("gloo"), std::chrono::milliseconds(1)));
}`,
  );
  const libuvOption = probe(base, 'void f() { c10d::TCPStoreOptions o; o.useLibUV = false; }');
  // No compiler outlives the answer, whichever way it goes.
  await Promise.all([core, firstReducer, gloo, nccl, pgBackend, pgOptions, libuvOption]);

  if (!(await core).ok) return unavailable(`libtorch's c10d headers do not compile here (${(await core).error})`);

  let reducer;
  for (const [i, [variant, start]] of reducerProbes.entries()) {
    if ((await (i === 0 ? firstReducer : start())).ok) {
      reducer = variant;
      break;
    }
  }
  if (!reducer) return unavailable('no known c10d::Reducer constructor compiles against this libtorch');

  const glooProbe = await gloo;
  const ncclProbe = await nccl;
  if (!glooProbe.ok && !ncclProbe.ok) {
    return unavailable(
      `no process-group backend compiles: Gloo: ${glooProbe.error}; NCCL: ${ncclProbe.error}. ` +
        'On Debian/Ubuntu: apt-get install libgloo-dev (scripts/setup.sh does), then npm run build:native',
    );
  }

  const pgIsBackend = (await pgBackend).ok;
  const pgHasOptions = pgIsBackend && (await pgOptions).ok;
  const libuv = (await libuvOption).ok;
  save();

  const out = [...base, '-DCF_WITH_C10D', `-DCF_REDUCER_CTOR=${reducer}`];
  if (glooProbe.ok) out.push(...glooFlags, '-DCF_HAS_C10D_GLOO');
  if (ncclProbe.ok) out.push(...ncclFlags, '-DCF_HAS_C10D_NCCL');
  if (pgIsBackend) out.push('-DCF_PG_IS_BACKEND');
  if (pgHasOptions) out.push('-DCF_PG_HAS_OPTIONS');
  if (libuv) out.push('-DCF_TCPSTORE_HAS_LIBUV');
  const backends = [glooProbe.ok && 'gloo', ncclProbe.ok && 'nccl'].filter(Boolean);
  const notes = [
    !glooProbe.ok && `no Gloo (${glooProbe.error})`,
    cuda && !ncclProbe.ok && `no NCCL (${ncclProbe.error})`,
  ]
    .filter(Boolean)
    .join('; ');
  return {
    flags: out,
    backends,
    summary:
      `distributed ${backends.join('+')}, Reducer constructor v${reducer}, ProcessGroup ${pgIsBackend ? 'with backends' : 'is the backend'}` +
      `${pgHasOptions ? ' (with Options)' : ''}, TCPStore libuv option ${libuv ? 'yes' : 'no'}${notes ? `; ${notes}` : ''}`,
  };
}
