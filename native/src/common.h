// Shared declarations of the native addon. The addon is deliberately generic: it knows tensors,
// the c10 dispatcher and autograd, never ClusterFit.
#pragma once

#include <napi.h>

#include <ATen/ATen.h>

#include <string>

namespace cf {

// A JS handle is a small integer naming a slot of a native table that holds one at::Tensor
// reference (with a generation, so a stale handle is reported: handles.h). Small integers cost V8
// nothing to create or collect, unlike an External with a finalizer; the JS side adds a GC safety
// net only for tensors that no scope owns. Disposing drops exactly this reference: the storage lives on
// while views, module parameters or autograd still hold it. Each JS thread has its own table.
Napi::Value wrapTensor(Napi::Env env, at::Tensor tensor);

// The tensor behind a JS handle. Throws a TypeError naming `what` for a non-handle and an Error
// for a handle that was disposed or belongs to another thread. The reference stays valid until
// this thread creates or disposes a handle: copy it to keep it longer.
const at::Tensor& tensorOf(napi_env env, double handle, const char* what);
const at::Tensor& unwrapTensor(const Napi::Value& value, const char* what);

// Creates the calling thread's handle table (once per addon instance: the main thread and each
// worker that loads the addon); it is freed with the thread's Node environment.
void attachHandleTable(Napi::Env env);


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
void registerGemmFunctions(Napi::Env env, Napi::Object exports);
void registerPairDotsFunctions(Napi::Env env, Napi::Object exports);   // pair-dots.cc
void registerFindAtMostFunctions(Napi::Env env, Napi::Object exports);  // find-at-most.cc
void registerDistributedFunctions(Napi::Env env, Napi::Object exports);

// What the distributed build probes found (buildInfo().distributed).
Napi::Object distributedBuildInfo(Napi::Env env);
void registerAmpFunctions(Napi::Env env, Napi::Object exports);   // amp.cc
void registerCudaFunctions(Napi::Env env, Napi::Object exports);  // cuda.cc

// The same guard for plain N-API callbacks, used by the entry points that run once per op (`call`,
// `dispose`): node-addon-api's CallbackInfo costs an extra N-API call per invocation and a heap
// allocation when there are more than six arguments.
template <napi_value (*F)(napi_env, napi_callback_info)>
napi_value guardedRaw(napi_env env, napi_callback_info info) {
  try {
    try {
      return F(env, info);
    } catch (const Napi::Error& e) {
      e.ThrowAsJavaScriptException();
    } catch (const c10::Error& e) {
      toJsError(env, e.what_without_backtrace()).ThrowAsJavaScriptException();
    } catch (const std::exception& e) {
      toJsError(env, e.what()).ThrowAsJavaScriptException();
    } catch (...) {
      Napi::Error::New(env, "clusterfit native: unknown C++ exception").ThrowAsJavaScriptException();
    }
  } catch (...) {
    // Raising the JS error failed: this thread's environment is shutting down (a worker being
    // terminated mid-call), so no JS is left to see it. Nothing may leave a plain N-API callback
    // as a C++ exception: it would abort the whole process.
  }
  return nullptr;
}

// `data` reaches F through napi_get_cb_info: the per-op entry points get this thread's handle
// table that way (handles.h).
template <napi_value (*F)(napi_env, napi_callback_info)>
void exportRawFunction(Napi::Env env, Napi::Object exports, const char* name, void* data = nullptr) {
  napi_value fn;
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, guardedRaw<F>, data, &fn));
  exports.Set(name, fn);
}

template <Napi::Value (*F)(const Napi::CallbackInfo&)>
void exportFunction(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New(env, guarded<F>, name));
}

}  // namespace cf
