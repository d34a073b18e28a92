// Autograd entry points that the dispatcher cannot serve: backward, gradients, and the
// thread-local grad / inference modes.
#include "common.h"

#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/variable.h>

#include <memory>
#include <vector>

namespace cf {
namespace {

std::vector<at::Tensor> tensorsArg(const Napi::Value& value, const char* what, bool allowNull) {
  if (!value.IsArray()) throw Napi::TypeError::New(value.Env(), std::string(what) + " must be an array of Tensors");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<at::Tensor> out(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value item = array.Get(i);
    if (allowNull && (item.IsNull() || item.IsUndefined())) continue;
    out[i] = unwrapTensor(item, what);
  }
  return out;
}

// backward(tensors[], grads[] (null = ones for a scalar), retainGraph, createGraph)
Napi::Value backward(const Napi::CallbackInfo& info) {
  std::vector<at::Tensor> tensors = tensorsArg(info[0], "backward tensors", false);
  std::vector<at::Tensor> grads = tensorsArg(info[1], "backward gradients", true);
  bool createGraph = info[3].ToBoolean().Value();
  c10::optional<bool> retainGraph;
  if (info[2].IsBoolean()) retainGraph = info[2].As<Napi::Boolean>().Value();
  torch::autograd::backward(tensors, grads, retainGraph, createGraph);
  return info.Env().Undefined();
}

// grad(outputs[], inputs[], gradOutputs[], retainGraph, createGraph, allowUnused) -> (Tensor|null)[]
Napi::Value grad(const Napi::CallbackInfo& info) {
  std::vector<at::Tensor> outputs = tensorsArg(info[0], "grad outputs", false);
  std::vector<at::Tensor> inputs = tensorsArg(info[1], "grad inputs", false);
  std::vector<at::Tensor> gradOutputs = tensorsArg(info[2], "grad gradOutputs", true);
  c10::optional<bool> retainGraph;
  if (info[3].IsBoolean()) retainGraph = info[3].As<Napi::Boolean>().Value();
  bool createGraph = info[4].ToBoolean().Value();
  bool allowUnused = info[5].ToBoolean().Value();
  auto grads = torch::autograd::grad(outputs, inputs, gradOutputs, retainGraph, createGraph, allowUnused);
  Napi::Array out = Napi::Array::New(info.Env(), grads.size());
  for (size_t i = 0; i < grads.size(); ++i) out.Set(static_cast<uint32_t>(i), wrapTensor(info.Env(), grads[i]));
  return out;
}

Napi::Value getGrad(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), unwrapTensor(info[0], "grad").grad());
}

// setGrad(tensor, grad | null): null releases the gradient (PyTorch's zero_grad(set_to_none=True)).
Napi::Value setGrad(const Napi::CallbackInfo& info) {
  at::Tensor t = unwrapTensor(info[0], "setGrad");
  if (info[1].IsNull() || info[1].IsUndefined()) {
    t.mutable_grad() = at::Tensor();
  } else {
    t.mutable_grad() = unwrapTensor(info[1], "setGrad");
  }
  return info.Env().Undefined();
}

Napi::Value requiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), unwrapTensor(info[0], "requiresGrad").requires_grad());
}

Napi::Value isLeaf(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), unwrapTensor(info[0], "isLeaf").is_leaf());
}

Napi::Value gradFnName(const Napi::CallbackInfo& info) {
  const auto& fn = unwrapTensor(info[0], "gradFn").grad_fn();
  if (!fn) return info.Env().Null();
  return Napi::String::New(info.Env(), fn->name());
}

Napi::Value setGradEnabled(const Napi::CallbackInfo& info) {
  c10::GradMode::set_enabled(info[0].ToBoolean().Value());
  return info.Env().Undefined();
}

Napi::Value isGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}

// Inference mode is an RAII guard in libtorch. The JS side enters and exits it in strict LIFO
// order (try/finally), so a stack of guards reproduces the C++ scoping exactly.
std::vector<std::unique_ptr<c10::InferenceMode>>& inferenceGuards() {
  // Per thread, like the mode itself: a worker's guards must not pop the main thread's.
  thread_local std::vector<std::unique_ptr<c10::InferenceMode>> guards;
  return guards;
}

Napi::Value enterInferenceMode(const Napi::CallbackInfo& info) {
  inferenceGuards().push_back(std::make_unique<c10::InferenceMode>(true));
  return info.Env().Undefined();
}

Napi::Value exitInferenceMode(const Napi::CallbackInfo& info) {
  auto& guards = inferenceGuards();
  if (guards.empty()) throw Napi::Error::New(info.Env(), "exitInferenceMode without a matching enterInferenceMode");
  guards.pop_back();
  return info.Env().Undefined();
}

Napi::Value isInferenceMode(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::InferenceMode::is_enabled());
}

Napi::Value isInference(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), unwrapTensor(info[0], "isInference").is_inference());
}

}  // namespace

void registerAutogradFunctions(Napi::Env env, Napi::Object exports) {
  exportFunction<backward>(env, exports, "backward");
  exportFunction<grad>(env, exports, "grad");
  exportFunction<getGrad>(env, exports, "getGrad");
  exportFunction<setGrad>(env, exports, "setGrad");
  exportFunction<requiresGrad>(env, exports, "requiresGrad");
  exportFunction<isLeaf>(env, exports, "isLeaf");
  exportFunction<gradFnName>(env, exports, "gradFnName");
  exportFunction<setGradEnabled>(env, exports, "setGradEnabled");
  exportFunction<isGradEnabled>(env, exports, "isGradEnabled");
  exportFunction<enterInferenceMode>(env, exports, "enterInferenceMode");
  exportFunction<exitInferenceMode>(env, exports, "exitInferenceMode");
  exportFunction<isInferenceMode>(env, exports, "isInferenceMode");
  exportFunction<isInference>(env, exports, "isInference");
}

}  // namespace cf
