// CUDA speed switches and memory facts: cuDNN autotuning (torch.backends.cudnn.benchmark), TF32 for
// matrix products and convolutions (torch.backends.cuda.matmul.allow_tf32, cudnn.allow_tf32), and
// the caching allocator's statistics (torch.cuda.max_memory_allocated and friends).
//
// The switches are process-wide flags of ATen's Context and exist in every build. The allocator
// statistics need c10/cuda's headers, which need the CUDA runtime's headers: a build that found
// them defines CLUSTERFIT_WITH_CUDA_HEADERS; one that did not reports the statistics as absent.
#include "common.h"
#include "device_compat.h"

#include <ATen/Context.h>
#include <torch/cuda.h>

#if defined(CLUSTERFIT_WITH_CUDA) && defined(CLUSTERFIT_WITH_CUDA_HEADERS)
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace cf {
namespace {

Napi::Value backendFlags(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& context = at::globalContext();
  Napi::Object out = Napi::Object::New(env);
  out.Set("cudnnBenchmark", context.benchmarkCuDNN());
  out.Set("cudnnDeterministic", context.deterministicCuDNN());
  out.Set("allowTF32Matmul", context.allowTF32CuBLAS());
  out.Set("allowTF32Conv", context.allowTF32CuDNN());
  return out;
}

// Sets the flags present in the object, leaves the others as they are.
Napi::Value setBackendFlags(const Napi::CallbackInfo& info) {
  Napi::Object flags = info[0].As<Napi::Object>();
  auto& context = at::globalContext();
  auto flag = [&](const char* name) { return flags.Get(name).As<Napi::Boolean>().Value(); };
  if (flags.Has("cudnnBenchmark")) context.setBenchmarkCuDNN(flag("cudnnBenchmark"));
  if (flags.Has("cudnnDeterministic")) context.setDeterministicCuDNN(flag("cudnnDeterministic"));
  if (flags.Has("allowTF32Matmul")) context.setAllowTF32CuBLAS(flag("allowTF32Matmul"));
  if (flags.Has("allowTF32Conv")) context.setAllowTF32CuDNN(flag("allowTF32Conv"));
  return info.Env().Undefined();
}

// The caching allocator's byte counts for one device (current and peak, allocated and reserved),
// or undefined where this build cannot read them (no CUDA, or built without CUDA headers).
Napi::Value cudaMemoryStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#if defined(CLUSTERFIT_WITH_CUDA) && defined(CLUSTERFIT_WITH_CUDA_HEADERS)
  int device = info[0].As<Napi::Number>().Int32Value();
  if (device < 0 || device >= static_cast<int>(torch::cuda::device_count())) {
    throw Napi::RangeError::New(env, "cudaMemoryStats: no CUDA device " + std::to_string(device));
  }
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device);
  // Index 0 of each statistic array is the aggregate over small and large pools, in every version.
  Napi::Object out = Napi::Object::New(env);
  out.Set("allocatedBytes", static_cast<double>(stats.allocated_bytes[0].current));
  out.Set("peakAllocatedBytes", static_cast<double>(stats.allocated_bytes[0].peak));
  out.Set("reservedBytes", static_cast<double>(stats.reserved_bytes[0].current));
  out.Set("peakReservedBytes", static_cast<double>(stats.reserved_bytes[0].peak));
  return out;
#else
  return env.Undefined();
#endif
}

Napi::Value cudaResetPeakMemoryStats(const Napi::CallbackInfo& info) {
#if defined(CLUSTERFIT_WITH_CUDA) && defined(CLUSTERFIT_WITH_CUDA_HEADERS)
  c10::cuda::CUDACachingAllocator::resetPeakStats(info[0].As<Napi::Number>().Int32Value());
  return Napi::Boolean::New(info.Env(), true);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

Napi::Value cudaEmptyCache(const Napi::CallbackInfo& info) {
#if defined(CLUSTERFIT_WITH_CUDA) && defined(CLUSTERFIT_WITH_CUDA_HEADERS)
  c10::cuda::CUDACachingAllocator::emptyCache();
  return Napi::Boolean::New(info.Env(), true);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

}  // namespace

void registerCudaFunctions(Napi::Env env, Napi::Object exports) {
  exportFunction<backendFlags>(env, exports, "backendFlags");
  exportFunction<setBackendFlags>(env, exports, "setBackendFlags");
  exportFunction<cudaMemoryStats>(env, exports, "cudaMemoryStats");
  exportFunction<cudaResetPeakMemoryStats>(env, exports, "cudaResetPeakMemoryStats");
  exportFunction<cudaEmptyCache>(env, exports, "cudaEmptyCache");
}

}  // namespace cf
