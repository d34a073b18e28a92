#include "common.h"

namespace cf {

Napi::Error toJsError(Napi::Env env, const char* what) {
  std::string message(what == nullptr ? "unknown error" : what);
  std::string detail;
  auto newline = message.find('\n');
  if (newline != std::string::npos) {
    detail = message.substr(newline + 1);
    message.resize(newline);
  }
  Napi::Error error = Napi::Error::New(env, message);
  if (!detail.empty()) error.Set("detail", Napi::String::New(env, detail));
  return error;
}

}  // namespace cf

static Napi::Object initAddon(Napi::Env env, Napi::Object exports) {
  cf::attachHandleTable(env);
  cf::registerTensorFunctions(env, exports);
  cf::registerDispatchFunctions(env, exports);
  cf::registerAutogradFunctions(env, exports);
  cf::registerRuntimeFunctions(env, exports);
  cf::registerGemmFunctions(env, exports);
  cf::registerPairDotsFunctions(env, exports);
  cf::registerFindAtMostFunctions(env, exports);
  cf::registerAmpFunctions(env, exports);
  cf::registerCudaFunctions(env, exports);
  cf::registerDistributedFunctions(env, exports);
  return exports;
}

NODE_API_MODULE(clusterfit_native, initAddon)
