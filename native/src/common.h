// Shared declarations of the native addon. The addon is deliberately generic: it knows tensors,
// the c10 dispatcher and autograd, never ClusterFit.
#pragma once

#include <napi.h>

#include <ATen/ATen.h>

#include <string>

namespace cf {

// One JS-visible reference to an at::Tensor. Disposing drops exactly this reference; the storage
// lives on while other tensors (views, module parameters, autograd) still hold it.
struct TensorBox {
  at::Tensor tensor;
  const void* storageKey = nullptr;  // storage this box was registered under, for byte accounting
};

// Wraps `tensor` in a new JS handle (an External); an undefined tensor becomes null.
Napi::Value wrapTensor(Napi::Env env, at::Tensor tensor);

// The tensor behind a JS handle. Throws a TypeError naming `what` for a non-handle and an Error
// for a handle that was disposed.
const at::Tensor& unwrapTensor(const Napi::Value& value, const char* what);

// True when `value` is a tensor handle (disposed or not).
bool isTensorHandle(const Napi::Value& value);

// Converts a libtorch error into a JS Error: the first line is the message, the rest (libtorch's
// context lines) goes to `error.detail`.
Napi::Error toJsError(Napi::Env env, const char* what);

// Every native entry point is wrapped with this so that no C++ exception can reach N-API (which
// would abort the process): libtorch errors become JS Errors carrying libtorch's message.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw toJsError(info.Env(), e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw toJsError(info.Env(), e.what());
  } catch (...) {
    throw Napi::Error::New(info.Env(), "clusterfit native: unknown C++ exception");
  }
}

// Registration of each module's functions on the addon's exports.
void registerTensorFunctions(Napi::Env env, Napi::Object exports);
void registerDispatchFunctions(Napi::Env env, Napi::Object exports);
void registerAutogradFunctions(Napi::Env env, Napi::Object exports);
void registerRuntimeFunctions(Napi::Env env, Napi::Object exports);

template <Napi::Value (*F)(const Napi::CallbackInfo&)>
void exportFunction(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New(env, guarded<F>, name));
}

}  // namespace cf
