// What the hand-written CPU kernels share (pair-dots.cc, find-at-most.cc): one build that uses
// AVX-512 or AVX2 where the CPU has them, and a split of the work over libtorch's intra-op threads.
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace cf {

// Compiles a function for x86-64-v4 (AVX-512), v3 (AVX2 + FMA) and the baseline; the dynamic
// loader picks one for the CPU it runs on (an ifunc). Other compilers and CPUs get the baseline.
#if defined(__GNUC__) && defined(__x86_64__)
#define CF_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CF_MULTIVERSION
#endif

// 16 floats: one AVX-512 register, two AVX2 ones, four SSE ones (GCC lowers the generic vector
// type to what each clone's target has).
typedef float Lanes __attribute__((vector_size(64)));

// An unaligned load or store of 16 floats. Macros, not functions: a function taking or returning
// Lanes would be compiled for the baseline target, whose ABI passes 64-byte vectors differently
// (-Wpsabi).
#define CF_LOAD(v, p) std::memcpy(&(v), (p), sizeof(Lanes))
#define CF_STORE(p, v) std::memcpy((p), &(v), sizeof(Lanes))

// Runs fn(work, part, parts) for part = 0 .. parts-1 in parallel and returns when all are done
// (cpu-kernels.cc): on libtorch's own OpenMP threads where that runtime can be found, else on
// std::threads. An exception thrown by a part is rethrown here, after every part has returned.
using PartFn = void (*)(const void* work, int64_t part, int64_t parts);
void runParts(int64_t parts, PartFn fn, const void* work);

// Runs work(part, parts) for part = 0 .. parts-1 on up to at::get_num_threads() threads, parts
// chosen so that each has at least `minimum` of the `count` units.
template <typename Work>
void splitAcrossThreads(int64_t count, int64_t minimum, const Work& work) {
  const int64_t parts =
      std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), count / std::max<int64_t>(1, minimum)));
  if (parts == 1) return work(0, 1);
  runParts(
      parts, [](const void* w, int64_t part, int64_t n) { (*static_cast<const Work*>(w))(part, n); }, &work);
}

}  // namespace cf
