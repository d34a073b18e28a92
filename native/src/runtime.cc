// Process-wide runtime settings: seeds, threads, devices, and what this build was made against.
#include "common.h"

#include <torch/cuda.h>
#include <torch/utils.h>
#include <torch/version.h>

namespace cf {
namespace {

Napi::Value manualSeed(const Napi::CallbackInfo& info) {
  // Seeds the CPU generator and, where CUDA is present, every device's generator.
  at::manual_seed(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
  return info.Env().Undefined();
}

Napi::Value setNumThreads(const Napi::CallbackInfo& info) {
  int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1) throw Napi::RangeError::New(info.Env(), "setNumThreads: the thread count must be at least 1");
  at::set_num_threads(n);
  return info.Env().Undefined();
}

Napi::Value getNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value cudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(torch::cuda::device_count()));
}

Napi::Value cudaSynchronize(const Napi::CallbackInfo& info) {
  int64_t device = info[0].IsNumber() ? info[0].As<Napi::Number>().Int64Value() : -1;
  torch::cuda::synchronize(device);
  return info.Env().Undefined();
}

Napi::Value buildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("torchVersion", TORCH_VERSION);
#ifdef CLUSTERFIT_WITH_CUDA
  out.Set("cuda", true);
#else
  out.Set("cuda", false);
#endif
  out.Set("parallelInfo", at::get_parallel_info());
  out.Set("distributed", distributedBuildInfo(env));
  return out;
}

// ScalarType codes, so the TS layer never hard-codes c10's enum values.
Napi::Value scalarTypes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
#define CF_SCALAR_TYPE(_, name) out.Set(#name, static_cast<int>(at::ScalarType::name));
  AT_FORALL_SCALAR_TYPES_WITH_COMPLEX_AND_QINTS(CF_SCALAR_TYPE)
#undef CF_SCALAR_TYPE
  return out;
}

}  // namespace

void registerRuntimeFunctions(Napi::Env env, Napi::Object exports) {
  exportFunction<manualSeed>(env, exports, "manualSeed");
  exportFunction<setNumThreads>(env, exports, "setNumThreads");
  exportFunction<getNumThreads>(env, exports, "getNumThreads");
  exportFunction<cudaDeviceCount>(env, exports, "cudaDeviceCount");
  exportFunction<cudaSynchronize>(env, exports, "cudaSynchronize");
  exportFunction<buildInfo>(env, exports, "buildInfo");
  exportFunction<scalarTypes>(env, exports, "scalarTypes");
}

}  // namespace cf
