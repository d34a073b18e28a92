// The thread split of the hand-written CPU kernels (cpu-kernels.h).
//
// Why not at::parallel_for: with OpenMP (Debian's libtorch, PyTorch's wheels) its body is inline in
// the header and needs the caller compiled with -fopenmp, which would link a second OpenMP runtime
// beside the wheels' own (renamed) libgomp; without the flag it runs on one thread. And why not
// plain std::threads: after each of libtorch's parallel regions its OpenMP workers spin-wait for
// the next one, so on a 2-core machine a kernel's second thread shared its core with a spinning
// worker (k-means with per-centroid bounds at K = 1,000 on 2048-d features: 10.8 s, and 7.2 s with
// GOMP_SPINCOUNT=10000). So the kernels run on libtorch's own OpenMP team, through libgomp's entry
// point for `#pragma omp parallel` (GOMP_parallel, the ABI GCC has emitted since 4.9), looked up in
// whichever libgomp the process has loaded; std::threads only where none is.
#include "cpu-kernels.h"

#include <dlfcn.h>
#include <link.h>

#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cf {
namespace {

struct Gomp {
  void (*parallel)(void (*fn)(void*), void* data, unsigned threads, unsigned flags) = nullptr;
  int (*threadNumber)() = nullptr;
  int (*teamSize)() = nullptr;
};

// The path of the first loaded library whose file name starts with "libgomp" (the wheels rename it
// libgomp-<hash>.so.1), or empty.
std::string loadedLibgomp() {
  std::string found;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) {
        const char* name = info->dlpi_name;
        const char* base = name == nullptr ? nullptr : std::strrchr(name, '/');
        base = base == nullptr ? name : base + 1;
        if (base != nullptr && std::strncmp(base, "libgomp", 7) == 0) {
          *static_cast<std::string*>(out) = name;
          return 1;
        }
        return 0;
      },
      &found);
  return found;
}

Gomp findGomp() {
  Gomp gomp;
  const std::string path = loadedLibgomp();
  // RTLD_NOLOAD: only a library already loaded (libtorch's own) is used, never a new one.
  void* library = path.empty() ? nullptr : dlopen(path.c_str(), RTLD_LAZY | RTLD_NOLOAD);
  if (library == nullptr) return gomp;
  gomp.parallel = reinterpret_cast<decltype(gomp.parallel)>(dlsym(library, "GOMP_parallel"));
  gomp.threadNumber = reinterpret_cast<decltype(gomp.threadNumber)>(dlsym(library, "omp_get_thread_num"));
  gomp.teamSize = reinterpret_cast<decltype(gomp.teamSize)>(dlsym(library, "omp_get_num_threads"));
  if (gomp.parallel == nullptr || gomp.threadNumber == nullptr || gomp.teamSize == nullptr) gomp = Gomp{};
  return gomp;
}

const Gomp& gomp() {
  static const Gomp found = findGomp();
  return found;
}

struct Job {
  int64_t parts;
  PartFn fn;
  const void* work;
  // An exception must not leave a thread or a parallel region (std::terminate: the process would
  // abort); the first one is kept and thrown by the caller once every part has returned.
  std::mutex mutex;
  std::exception_ptr error;

  void run(int64_t part) {
    try {
      fn(work, part, parts);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      if (!error) error = std::current_exception();
    }
  }
};

// The body of the parallel region: a team may come out smaller than asked (e.g. nested in
// another region), so each member takes every teamSize-th part.
void teamMember(void* data) {
  Job& job = *static_cast<Job*>(data);
  const int64_t size = gomp().teamSize();
  for (int64_t part = gomp().threadNumber(); part < job.parts; part += size) job.run(part);
}

}  // namespace

void runParts(int64_t parts, PartFn fn, const void* work) {
  Job job{parts, fn, work, {}, nullptr};
  if (gomp().parallel != nullptr) {
    gomp().parallel(teamMember, &job, static_cast<unsigned>(parts), 0);
  } else {
    std::vector<std::thread> helpers;
    for (int64_t part = 1; part < parts; ++part) helpers.emplace_back([&job, part] { job.run(part); });
    job.run(0);
    for (auto& helper : helpers) helper.join();
  }
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace cf
