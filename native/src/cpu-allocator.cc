// libtorch's CPU allocator with a byte count, so that the host GC can be told about all native
// memory, not only the storages that JS handles name directly. A dropped loss handle holds its
// whole autograd graph (the activations saved for backward): only the allocator sees those
// bytes. R's torch counts them the same way to call R's GC (lantern's Allocator.cpp); here the
// count is reported to V8 as external memory (tensors.cc), which makes V8 collect dropped handles
// (and their finalizers free the graphs) in step with the native memory they keep alive.
//
// It allocates exactly as c10's default CPU allocator does (c10::alloc_cpu, 64-byte aligned) with
// the size in a header before the data, so that the data pointer is also the deleter's context
// and raw_allocate/raw_deleter keep working.
#include "cpu-allocator.h"

#include <c10/core/CPUAllocator.h>
#if __has_include(<c10/core/impl/alloc_cpu.h>)
#include <c10/core/impl/alloc_cpu.h>  // alloc_cpu / free_cpu since libtorch 1.13
#endif
#include <torch/version.h>

#include <atomic>

namespace cf {
namespace {

std::atomic<int64_t> allocatedBytes{0};
std::atomic<uint64_t> everAllocated{0};

// c10's alignment for CPU data; the header takes one aligned block so the data stays aligned.
constexpr size_t kHeaderBytes = 64;

void countedFree(void* data) {
  if (data == nullptr) return;
  char* base = static_cast<char*>(data) - kHeaderBytes;
  allocatedBytes.fetch_sub(*reinterpret_cast<int64_t*>(base), std::memory_order_relaxed);
  c10::free_cpu(base);
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
    char* base = static_cast<char*>(c10::alloc_cpu(nbytes + kHeaderBytes));
    *reinterpret_cast<int64_t*>(base) = static_cast<int64_t>(nbytes);
    allocatedBytes.fetch_add(static_cast<int64_t>(nbytes), std::memory_order_relaxed);
    everAllocated.fetch_add(nbytes, std::memory_order_relaxed);
    void* data = base + kHeaderBytes;
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
}

int64_t countedCpuBytes() {
  return allocatedBytes.load(std::memory_order_relaxed);
}

double cpuBytesEverAllocated() {
  return static_cast<double>(everAllocated.load(std::memory_order_relaxed));
}

}  // namespace cf
