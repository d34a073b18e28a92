// Generic operator dispatch: any ATen operator, called by qualified name and overload through the
// c10 dispatcher, with JS arguments converted by the operator's runtime schema. This one entry
// point replaces the tens of thousands of generated lines other bindings carry, and it works
// against whatever libtorch version is linked.
#include "common.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/jit/runtime/operator.h>
#include <torch/version.h>

#include <cmath>
#include <unordered_map>

namespace cf {
namespace {

// How one schema argument is converted from JS. Precomputed once per operator so that a call
// does no type inspection.
enum class Kind {
  Tensor,
  Int,       // int, SymInt, and the enums ScalarType / Layout / MemoryFormat (passed as their codes)
  Float,
  Bool,
  String,
  Scalar,
  Device,
  Generator, // only None is supported: seeded through manualSeed()
  IntList,
  FloatList,
  BoolList,
  TensorList,
  OptionalTensorList,
  Unsupported,
};

struct ArgSpec {
  std::string name;
  Kind kind;
  bool optional;
  int fixedLength;  // N of int[N] (a lone number is broadcast to N values), else 0
  c10::optional<c10::IValue> defaultValue;
};

// Unboxed calls for the most frequent signatures (elementwise and matrix ops): they skip the
// IValue stack, which is most of the per-call cost of a tiny op.
using UnaryFn = at::Tensor(const at::Tensor&);
using BinaryFn = at::Tensor(const at::Tensor&, const at::Tensor&);
using BinaryAlphaFn = at::Tensor(const at::Tensor&, const at::Tensor&, const at::Scalar&);
using ScalarFn = at::Tensor(const at::Tensor&, const at::Scalar&);
using ScalarAlphaFn = at::Tensor(const at::Tensor&, const at::Scalar&, const at::Scalar&);

struct FastPaths {
  c10::optional<c10::TypedOperatorHandle<UnaryFn>> unary;
  c10::optional<c10::TypedOperatorHandle<BinaryFn>> binary;
  c10::optional<c10::TypedOperatorHandle<BinaryAlphaFn>> binaryAlpha;
  c10::optional<c10::TypedOperatorHandle<ScalarFn>> scalar;
  c10::optional<c10::TypedOperatorHandle<ScalarAlphaFn>> scalarAlpha;
};

struct OpEntry {
  c10::OperatorHandle handle;
  std::string displayName;
  std::vector<ArgSpec> args;
  FastPaths fast;
};

std::vector<OpEntry>& operators() {
  static std::vector<OpEntry> entries;
  return entries;
}

Kind kindOf(const c10::TypePtr& type) {
  switch (type->kind()) {
    case c10::TypeKind::TensorType: return Kind::Tensor;
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
    case c10::TypeKind::ScalarTypeType:
    case c10::TypeKind::LayoutType:
    case c10::TypeKind::MemoryFormatType: return Kind::Int;
    case c10::TypeKind::FloatType: return Kind::Float;
    case c10::TypeKind::BoolType: return Kind::Bool;
    case c10::TypeKind::StringType: return Kind::String;
    case c10::TypeKind::NumberType: return Kind::Scalar;
    case c10::TypeKind::DeviceObjType: return Kind::Device;
    case c10::TypeKind::GeneratorType: return Kind::Generator;
    case c10::TypeKind::ListType: {
      const c10::TypePtr& elem = type->expectRef<c10::ListType>().getElementType();
      if (elem->kind() == c10::TypeKind::OptionalType) return Kind::OptionalTensorList;
      switch (kindOf(elem)) {
        case Kind::Int: return Kind::IntList;
        case Kind::Float: return Kind::FloatList;
        case Kind::Bool: return Kind::BoolList;
        case Kind::Tensor: return Kind::TensorList;
        default: return Kind::Unsupported;
      }
    }
    default: return Kind::Unsupported;
  }
}

ArgSpec specOf(const c10::Argument& arg) {
  ArgSpec spec;
  spec.name = arg.name();
  c10::TypePtr type = arg.type();
  spec.optional = type->kind() == c10::TypeKind::OptionalType;
  if (spec.optional) type = type->expectRef<c10::OptionalType>().getElementType();
  spec.kind = kindOf(type);
  spec.fixedLength = arg.N() ? static_cast<int>(*arg.N()) : 0;
  spec.defaultValue = arg.default_value();
  return spec;
}

[[noreturn]] void argError(Napi::Env env, const OpEntry& op, const ArgSpec& spec, const std::string& problem) {
  throw Napi::TypeError::New(env, op.displayName + ": argument '" + spec.name + "' " + problem);
}

int64_t toInt(Napi::Env env, const OpEntry& op, const ArgSpec& spec, const Napi::Value& v) {
  if (v.IsBigInt()) {
    bool lossless = true;
    return v.As<Napi::BigInt>().Int64Value(&lossless);
  }
  if (!v.IsNumber()) argError(env, op, spec, "must be an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (std::trunc(d) != d) argError(env, op, spec, "must be an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

std::vector<int64_t> toIntList(Napi::Env env, const OpEntry& op, const ArgSpec& spec, const Napi::Value& v) {
  if (v.IsNumber() || v.IsBigInt()) {
    return std::vector<int64_t>(spec.fixedLength > 0 ? spec.fixedLength : 1, toInt(env, op, spec, v));
  }
  if (!v.IsArray()) argError(env, op, spec, "must be an integer or an array of integers");
  Napi::Array array = v.As<Napi::Array>();
  std::vector<int64_t> out(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) out[i] = toInt(env, op, spec, array.Get(i));
  return out;
}

c10::IValue toIValue(Napi::Env env, const OpEntry& op, const ArgSpec& spec, const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) {
    if (v.IsUndefined() && spec.defaultValue) return *spec.defaultValue;
    if (spec.optional) return c10::IValue();
    if (spec.defaultValue) return *spec.defaultValue;
    argError(env, op, spec, "is required");
  }
  switch (spec.kind) {
    case Kind::Tensor:
      if (!v.IsNumber()) argError(env, op, spec, "must be a Tensor");
      return unwrapTensor(v, spec.name.c_str());
    case Kind::Int: return toInt(env, op, spec, v);
    case Kind::Float:
      if (!v.IsNumber()) argError(env, op, spec, "must be a number");
      return v.As<Napi::Number>().DoubleValue();
    case Kind::Bool:
      if (!v.IsBoolean()) argError(env, op, spec, "must be a boolean");
      return v.As<Napi::Boolean>().Value();
    case Kind::String:
      if (!v.IsString()) argError(env, op, spec, "must be a string");
      return v.As<Napi::String>().Utf8Value();
    case Kind::Scalar: {
      // As in Python, an integral number is an integer Scalar: `x + 2` keeps an int tensor int.
      if (v.IsBoolean()) return c10::Scalar(v.As<Napi::Boolean>().Value());
      if (v.IsBigInt()) return c10::Scalar(toInt(env, op, spec, v));
      if (!v.IsNumber()) argError(env, op, spec, "must be a number");
      double d = v.As<Napi::Number>().DoubleValue();
      if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9007199254740992.0) {
        return c10::Scalar(static_cast<int64_t>(d));
      }
      return c10::Scalar(d);
    }
    case Kind::Device:
      if (!v.IsString()) argError(env, op, spec, "must be a device string such as 'cpu' or 'cuda:0'");
      return c10::Device(v.As<Napi::String>().Utf8Value());
    case Kind::Generator: argError(env, op, spec, "does not accept a generator (seed with manualSeed)");
    case Kind::IntList: return toIntList(env, op, spec, v);
    case Kind::FloatList: {
      if (v.IsNumber()) return std::vector<double>(std::max(spec.fixedLength, 1), v.As<Napi::Number>().DoubleValue());
      if (!v.IsArray()) argError(env, op, spec, "must be an array of numbers");
      Napi::Array array = v.As<Napi::Array>();
      std::vector<double> out(array.Length());
      for (uint32_t i = 0; i < array.Length(); ++i) out[i] = array.Get(i).As<Napi::Number>().DoubleValue();
      return out;
    }
    case Kind::BoolList: {
      if (!v.IsArray()) argError(env, op, spec, "must be an array of booleans");
      Napi::Array array = v.As<Napi::Array>();
      c10::List<bool> out;
      for (uint32_t i = 0; i < array.Length(); ++i) out.push_back(array.Get(i).ToBoolean().Value());
      return out;
    }
    case Kind::TensorList: {
      if (!v.IsArray()) argError(env, op, spec, "must be an array of Tensors");
      Napi::Array array = v.As<Napi::Array>();
      c10::List<at::Tensor> out;
      out.reserve(array.Length());
      for (uint32_t i = 0; i < array.Length(); ++i) out.push_back(unwrapTensor(array.Get(i), spec.name.c_str()));
      return out;
    }
    case Kind::OptionalTensorList: {
      if (!v.IsArray()) argError(env, op, spec, "must be an array of Tensors or nulls");
      Napi::Array array = v.As<Napi::Array>();
      c10::List<c10::optional<at::Tensor>> out;
      out.reserve(array.Length());
      for (uint32_t i = 0; i < array.Length(); ++i) {
        Napi::Value item = array.Get(i);
        if (item.IsNull() || item.IsUndefined()) {
          out.push_back(c10::nullopt);
        } else {
          out.push_back(unwrapTensor(item, spec.name.c_str()));
        }
      }
      return out;
    }
    case Kind::Unsupported: break;
  }
  argError(env, op, spec, "has a type this binding cannot pass; leave it at its default");
}

Napi::Value fromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) return wrapTensor(env, v.toTensor());
  if (v.isNone()) return env.Null();
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isScalar()) {
    c10::Scalar s = v.toScalar();
    if (s.isBoolean()) return Napi::Boolean::New(env, s.toBool());
    if (s.isIntegral(false)) return Napi::Number::New(env, static_cast<double>(s.toLong()));
    return Napi::Number::New(env, s.toDouble());
  }
  if (v.isTuple()) {
    const auto& elements = v.toTupleRef().elements();
    Napi::Array out = Napi::Array::New(env, elements.size());
    for (size_t i = 0; i < elements.size(); ++i) out.Set(static_cast<uint32_t>(i), fromIValue(env, elements[i]));
    return out;
  }
  if (v.isList()) {
    c10::List<c10::IValue> list = v.toList();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) out.Set(static_cast<uint32_t>(i), fromIValue(env, list.get(i)));
    return out;
  }
  throw Napi::Error::New(env, "cannot convert a " + v.tagKind() + " result to JS");
}

const OpEntry& entryArg(const Napi::CallbackInfo& info) {
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  auto& ops = operators();
  if (id >= ops.size()) throw Napi::RangeError::New(info.Env(), "unknown operator id " + std::to_string(id));
  return ops[id];
}

// Arguments given: trailing undefineds do not count (the TS layer passes a fixed number of
// arguments, leaving the rest undefined, which avoids allocating an array per call).
size_t givenArgs(const Napi::CallbackInfo& info) {
  size_t n = info.Length();
  while (n > 1 && info[n - 1].IsUndefined()) --n;
  return n - 1;
}

torch::jit::Stack buildStack(const Napi::CallbackInfo& info, const OpEntry& op) {
  size_t given = givenArgs(info);
  if (given > op.args.size()) {
    throw Napi::TypeError::New(info.Env(), op.displayName + " takes at most " + std::to_string(op.args.size()) +
                                               " arguments but got " + std::to_string(given));
  }
  torch::jit::Stack stack;
  stack.reserve(op.args.size());
  for (size_t i = 0; i < op.args.size(); ++i) {
    Napi::Value v = i < given ? info[i + 1] : info.Env().Undefined();
    stack.push_back(toIValue(info.Env(), op, op.args[i], v));
  }
  return stack;
}

std::string overloadsOf(const std::string& name) {
  std::string out;
  for (const auto& op : torch::jit::getAllOperatorsFor(c10::Symbol::fromQualString(name))) {
    out += "\n  " + c10::toString(op->schema());
  }
  return out.empty() ? " (none: no operator has this name)" : out;
}

template <class Fn>
c10::optional<c10::TypedOperatorHandle<Fn>> typedIfMatches(const c10::OperatorHandle& handle) {
  try {
    return handle.typed<Fn>();
  } catch (const c10::Error&) {
    return c10::nullopt;  // the C++ signature differs (e.g. SymInt): the boxed path serves it
  }
}

// Picks an unboxed path when the schema is one of the fast shapes: Tensor and Scalar arguments
// only, one Tensor result, no mutation (in-place ops return a reference and take the boxed path).
FastPaths fastPathsFor(const c10::OperatorHandle& handle, const std::vector<ArgSpec>& args) {
  FastPaths fast;
  const c10::FunctionSchema& schema = handle.schema();
  if (schema.is_mutable() || schema.returns().size() != 1 ||
      schema.returns()[0].type()->kind() != c10::TypeKind::TensorType) {
    return fast;
  }
  std::string shape;
  for (const ArgSpec& arg : args) {
    if (arg.optional) return fast;
    if (arg.kind == Kind::Tensor) shape += 'T';
    else if (arg.kind == Kind::Scalar) shape += 'S';
    else return fast;
  }
  if (shape == "T") fast.unary = typedIfMatches<UnaryFn>(handle);
  else if (shape == "TT") fast.binary = typedIfMatches<BinaryFn>(handle);
  else if (shape == "TTS") fast.binaryAlpha = typedIfMatches<BinaryAlphaFn>(handle);
  else if (shape == "TS") fast.scalar = typedIfMatches<ScalarFn>(handle);
  else if (shape == "TSS") fast.scalarAlpha = typedIfMatches<ScalarAlphaFn>(handle);
  return fast;
}

// resolveOp(name: string, overload: string) -> id
Napi::Value resolveOp(const Napi::CallbackInfo& info) {
  static std::unordered_map<std::string, uint32_t> ids;
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info[1].As<Napi::String>().Utf8Value();
  std::string key = name + "." + overload;
  auto found = ids.find(key);
  if (found != ids.end()) return Napi::Number::New(info.Env(), found->second);
  auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!handle) {
    throw Napi::Error::New(info.Env(), "operator " + key + " is not in this libtorch (" TORCH_VERSION
                                           "); its overloads are:" + overloadsOf(name));
  }
  OpEntry entry{*handle, overload.empty() ? name : key, {}};
  for (const auto& arg : handle->schema().arguments()) entry.args.push_back(specOf(arg));
  entry.fast = fastPathsFor(entry.handle, entry.args);
  auto& ops = operators();
  uint32_t id = static_cast<uint32_t>(ops.size());
  ops.push_back(std::move(entry));
  ids.emplace(key, id);
  return Napi::Number::New(info.Env(), id);
}

Napi::Value argAt(const Napi::CallbackInfo& info, size_t i) {
  return i + 1 < info.Length() ? info[i + 1] : info.Env().Undefined();
}

at::Tensor tensorAt(const Napi::CallbackInfo& info, const OpEntry& op, size_t i) {
  Napi::Value v = argAt(info, i);
  if (v.IsUndefined() || v.IsNull()) argError(info.Env(), op, op.args[i], "is required");
  if (!v.IsNumber()) argError(info.Env(), op, op.args[i], "must be a Tensor");
  return unwrapTensor(v, op.args[i].name.c_str());
}

at::Scalar scalarAt(const Napi::CallbackInfo& info, const OpEntry& op, size_t i) {
  return toIValue(info.Env(), op, op.args[i], argAt(info, i)).toScalar();
}

// The unboxed call for this op's signature, or an undefined tensor when it has none. Arguments
// are converted into locals first so that errors name the first bad argument (C++ leaves the
// evaluation order of call arguments unspecified).
at::Tensor callFast(const Napi::CallbackInfo& info, const OpEntry& op) {
  const FastPaths& f = op.fast;
  at::Tensor self = tensorAt(info, op, 0);
  if (f.unary) return f.unary->call(self);
  if (f.binary || f.binaryAlpha) {
    at::Tensor other = tensorAt(info, op, 1);
    if (f.binary) return f.binary->call(self, other);
    return f.binaryAlpha->call(self, other, scalarAt(info, op, 2));
  }
  at::Scalar first = scalarAt(info, op, 1);
  if (f.scalar) return f.scalar->call(self, first);
  return f.scalarAlpha->call(self, first, scalarAt(info, op, 2));
}

bool hasFastPath(const OpEntry& op) {
  const FastPaths& f = op.fast;
  return f.unary || f.binary || f.binaryAlpha || f.scalar || f.scalarAlpha;
}

// call(id, ...args) -> result: a Tensor handle, a number, or an array for several returns.
Napi::Value call(const Napi::CallbackInfo& info) {
  const OpEntry& op = entryArg(info);
  if (hasFastPath(op) && givenArgs(info) <= op.args.size()) return wrapTensor(info.Env(), callFast(info, op));
  torch::jit::Stack stack = buildStack(info, op);
  op.handle.callBoxed(stack);
  if (stack.empty()) return info.Env().Undefined();
  if (stack.size() == 1) return fromIValue(info.Env(), stack[0]);
  Napi::Array out = Napi::Array::New(info.Env(), stack.size());
  for (size_t i = 0; i < stack.size(); ++i) out.Set(static_cast<uint32_t>(i), fromIValue(info.Env(), stack[i]));
  return out;
}

// callDiscard(id, ...args): for in-place ops, whose result is an input again; making a new
// handle for it would only be disposed at once.
Napi::Value callDiscard(const Napi::CallbackInfo& info) {
  const OpEntry& op = entryArg(info);
  torch::jit::Stack stack = buildStack(info, op);
  op.handle.callBoxed(stack);
  return info.Env().Undefined();
}

// opSchema(name, overload) -> { schema, args: [{ name, type, hasDefault, kwargOnly }], returns } | null
Napi::Value opSchema(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info[1].As<Napi::String>().Utf8Value();
  auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!handle) return env.Null();
  const c10::FunctionSchema& schema = handle->schema();
  Napi::Object out = Napi::Object::New(env);
  out.Set("schema", c10::toString(schema));
  Napi::Array args = Napi::Array::New(env, schema.arguments().size());
  for (size_t i = 0; i < schema.arguments().size(); ++i) {
    const auto& arg = schema.arguments()[i];
    Napi::Object a = Napi::Object::New(env);
    a.Set("name", arg.name());
    a.Set("type", arg.type()->str());
    a.Set("hasDefault", arg.default_value().has_value());
    a.Set("kwargOnly", arg.kwarg_only());
    a.Set("supported", specOf(arg).kind != Kind::Unsupported);
    args.Set(static_cast<uint32_t>(i), a);
  }
  out.Set("args", args);
  out.Set("returns", Napi::Number::New(env, static_cast<double>(schema.returns().size())));
  return out;
}

}  // namespace

void registerDispatchFunctions(Napi::Env env, Napi::Object exports) {
  exportFunction<resolveOp>(env, exports, "resolveOp");
  exportFunction<call>(env, exports, "call");
  exportFunction<callDiscard>(env, exports, "callDiscard");
  exportFunction<opSchema>(env, exports, "opSchema");
}

}  // namespace cf
