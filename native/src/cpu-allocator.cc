// libtorch's CPU allocator with a byte count, so that the host GC can be told about all native
// memory, not only the storages that JS handles name directly. A dropped loss handle holds its
// whole autograd graph (the activations saved for backward): only the allocator sees those
// bytes. R's torch counts them the same way to call R's GC (lantern's Allocator.cpp); here the
// count is reported to V8 as external memory (tensors.cc), which makes V8 collect dropped handles
// (and their finalizers free the graphs) in step with the native memory they keep alive.
//
// It allocates exactly as c10's default CPU allocator does (c10::alloc_cpu, 64-byte aligned), so
// every block sits where PyTorch would put it. Placement is not neutral: measured on the 2-core
// EPYC VM, moving large blocks by 64 bytes changed Gloo's all-reduce bandwidth by 10-15% (the
// kernel copies socket data page by page) and the conv3x3 + BN + ReLU block by as much in the
// other direction (page-aligned blocks made it 0.74x PyTorch). An earlier version kept the size
// in a 64-byte header before the data and lost on both benchmarks; the size is now read back with
// malloc_usable_size, so the data pointer is the block itself, the deleter's context, and
// raw_allocate/raw_deleter keep working.
#include "cpu-allocator.h"

#include <c10/core/CPUAllocator.h>
#if __has_include(<c10/core/impl/alloc_cpu.h>)
#include <c10/core/impl/alloc_cpu.h>  // alloc_cpu / free_cpu since libtorch 1.13
#endif
#include <malloc.h>
#include <torch/version.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace cf {
namespace {

// glibc hands blocks above its mmap threshold straight to mmap and returns them with munmap,
// and trims the heap's free top back to the kernel: both make the next block of that size fault
// its pages in again, zeroed. A training step allocates and frees the same activation-sized
// blocks every time, so by default it pays thousands of page faults per step (measured on the
// 2-core EPYC VM, conv3x3 + BN + ReLU at 64 channels, 56x56, batch 8: 2,000-9,000 faults per
// step for both PyTorch and us, varying run to run, as glibc's threshold moves with the history of
// frees; with the settings below, under 100, and 10-40% more images per second). Fixed thresholds
// keep blocks up to 32 MiB (glibc's own ceiling for its moving threshold) on the heap and up to
// 64 MiB of free heap top in the process. A user's own malloc settings win: set through
// GLIBC_TUNABLES or MALLOC_*_ variables, or CLUSTERFIT_MALLOC_TUNING=0, nothing is changed.
void tuneHeapForTensors() {
#ifdef __GLIBC__
  const char* choice = std::getenv("CLUSTERFIT_MALLOC_TUNING");
  if (choice != nullptr && std::strcmp(choice, "0") == 0) return;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr) return;
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr || std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr) return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}

std::atomic<int64_t> allocatedBytes{0};
std::atomic<uint64_t> everAllocated{0};

void countedFree(void* data) {
  if (data == nullptr) return;
  allocatedBytes.fetch_sub(static_cast<int64_t>(malloc_usable_size(data)), std::memory_order_relaxed);
  c10::free_cpu(data);
}

class CountingCpuAllocator final : public c10::Allocator {
 public:
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
  c10::DataPtr allocate(size_t nbytes) override { return make(nbytes); }
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
#else
  c10::DataPtr allocate(size_t nbytes) const override { return make(nbytes); }
#endif
  c10::DeleterFnPtr raw_deleter() const override { return &countedFree; }

 private:
  static c10::DataPtr make(size_t nbytes) {
    if (nbytes == 0) return {nullptr, nullptr, &countedFree, c10::Device(c10::DeviceType::CPU)};
    void* data = c10::alloc_cpu(nbytes);
    auto usable = malloc_usable_size(data);
    allocatedBytes.fetch_add(static_cast<int64_t>(usable), std::memory_order_relaxed);
    everAllocated.fetch_add(usable, std::memory_order_relaxed);
    return {data, data, &countedFree, c10::Device(c10::DeviceType::CPU)};
  }
};

}  // namespace

void installCountingCpuAllocator() {
  static CountingCpuAllocator allocator;
  static bool installed = false;
  if (installed) return;
  installed = true;
  // Priority 1 wins over c10's default registration (0). Storages allocated before keep their
  // own deleter, so they are freed correctly (just not counted).
  c10::SetCPUAllocator(&allocator, 1);
  tuneHeapForTensors();
}

int64_t countedCpuBytes() {
  return allocatedBytes.load(std::memory_order_relaxed);
}

double cpuBytesEverAllocated() {
  return static_cast<double>(everAllocated.load(std::memory_order_relaxed));
}

}  // namespace cf
