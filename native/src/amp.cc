// Mixed precision: autocast's thread-local state (which device types cast, to which dtype, the
// nesting count and the cast cache), and whether an operator has a kernel for a device, so the
// TS GradScaler can use ATen's fused AMP kernels where they exist (CUDA; CPU from PyTorch 2.x)
// and fall back to the same arithmetic in plain ops where they do not (CPU in 1.13).
#include "common.h"
#include "device_compat.h"

#include <ATen/core/dispatch/Dispatcher.h>

namespace cf {
namespace {

// Autocast exists for the CPU and CUDA dispatch keys; other device names are a caller's mistake.
at::DeviceType autocastDevice(const Napi::Value& value) {
  std::string name = value.As<Napi::String>().Utf8Value();
  if (name == "cpu") return at::kCPU;
  if (name == "cuda") return at::kCUDA;
  throw Napi::TypeError::New(value.Env(), "autocast: the device type must be 'cpu' or 'cuda', got '" + name + "'");
}

Napi::Value autocastIsEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), compat::autocastEnabled(autocastDevice(info[0])));
}

Napi::Value autocastSetEnabled(const Napi::CallbackInfo& info) {
  compat::setAutocastEnabled(autocastDevice(info[0]), info[1].As<Napi::Boolean>().Value());
  return info.Env().Undefined();
}

Napi::Value autocastGetDtype(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<int>(compat::autocastDtype(autocastDevice(info[0]))));
}

Napi::Value autocastSetDtype(const Napi::CallbackInfo& info) {
  int code = info[1].As<Napi::Number>().Int32Value();
  auto dtype = static_cast<at::ScalarType>(code);
  if (dtype != at::kHalf && dtype != at::kBFloat16) {
    throw Napi::TypeError::New(info.Env(), "autocast: the dtype must be float16 or bfloat16");
  }
  compat::setAutocastDtype(autocastDevice(info[0]), dtype);
  return info.Env().Undefined();
}

Napi::Value autocastIsCacheEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::autocast::is_autocast_cache_enabled());
}

Napi::Value autocastSetCacheEnabled(const Napi::CallbackInfo& info) {
  at::autocast::set_autocast_cache_enabled(info[0].As<Napi::Boolean>().Value());
  return info.Env().Undefined();
}

// As Python's torch.autocast: the cast cache (weights cast once per forward) is cleared when the
// outermost autocast scope exits, which the nesting count tells.
Napi::Value autocastIncrementNesting(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::autocast::increment_nesting());
}

Napi::Value autocastDecrementNesting(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::autocast::decrement_nesting());
}

Napi::Value autocastClearCache(const Napi::CallbackInfo& info) {
  at::autocast::clear_cache();
  return info.Env().Undefined();
}

// True when operator `name.overload` has a kernel registered for the device type's backend key
// (a CompositeImplicit op counts as having one).
Napi::Value opHasKernel(const Napi::CallbackInfo& info) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info[1].As<Napi::String>().Utf8Value();
  std::string device = info[2].As<Napi::String>().Utf8Value();
  auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!handle) return Napi::Boolean::New(info.Env(), false);
  c10::DispatchKey key = device == "cuda" ? c10::DispatchKey::CUDA : c10::DispatchKey::CPU;
  bool has = handle->hasKernelForDispatchKey(key) ||
             handle->hasKernelForDispatchKey(c10::DispatchKey::CompositeImplicitAutograd) ||
             handle->hasKernelForDispatchKey(c10::DispatchKey::CompositeExplicitAutograd);
  return Napi::Boolean::New(info.Env(), has);
}

}  // namespace

void registerAmpFunctions(Napi::Env env, Napi::Object exports) {
  exportFunction<autocastIsEnabled>(env, exports, "autocastIsEnabled");
  exportFunction<autocastSetEnabled>(env, exports, "autocastSetEnabled");
  exportFunction<autocastGetDtype>(env, exports, "autocastGetDtype");
  exportFunction<autocastSetDtype>(env, exports, "autocastSetDtype");
  exportFunction<autocastIsCacheEnabled>(env, exports, "autocastIsCacheEnabled");
  exportFunction<autocastSetCacheEnabled>(env, exports, "autocastSetCacheEnabled");
  exportFunction<autocastIncrementNesting>(env, exports, "autocastIncrementNesting");
  exportFunction<autocastDecrementNesting>(env, exports, "autocastDecrementNesting");
  exportFunction<autocastClearCache>(env, exports, "autocastClearCache");
  exportFunction<opHasKernel>(env, exports, "opHasKernel");
}

}  // namespace cf
