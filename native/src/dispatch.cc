// Generic operator dispatch: any ATen operator, called by qualified name and overload through the
// c10 dispatcher, with JS arguments converted by the operator's runtime schema. This one entry
// point replaces the tens of thousands of generated lines other bindings carry, and it works
// against whatever libtorch version is linked.
#include "common.h"
#include "handles.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
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
  c10::optional<c10::Scalar> defaultScalar;  // the default of a Scalar argument, ready for the unboxed path
};

// Unboxed calls for the most frequent signatures (elementwise and matrix ops): they skip the
// IValue stack, which is most of the per-call cost of a tiny op.
using UnaryFn = at::Tensor(const at::Tensor&);
using BinaryFn = at::Tensor(const at::Tensor&, const at::Tensor&);
using BinaryAlphaFn = at::Tensor(const at::Tensor&, const at::Tensor&, const at::Scalar&);
using ScalarFn = at::Tensor(const at::Tensor&, const at::Scalar&);
using ScalarAlphaFn = at::Tensor(const at::Tensor&, const at::Scalar&, const at::Scalar&);
using DtypeFn = at::Tensor(const at::Tensor&, c10::optional<at::ScalarType>);  // sum, mean

enum class FastKind { None, Unary, Binary, BinaryAlpha, Scalar, ScalarAlpha, Dtype };

struct FastPaths {
  FastKind kind = FastKind::None;
  // The dispatch keys a call skips when no tensor argument requires grad (see belowAutogradUnless).
  c10::DispatchKeySet skipped = c10::autograd_dispatch_keyset;
  c10::optional<c10::TypedOperatorHandle<UnaryFn>> unary;
  c10::optional<c10::TypedOperatorHandle<BinaryFn>> binary;
  c10::optional<c10::TypedOperatorHandle<BinaryAlphaFn>> binaryAlpha;
  c10::optional<c10::TypedOperatorHandle<ScalarFn>> scalar;
  c10::optional<c10::TypedOperatorHandle<ScalarAlphaFn>> scalarAlpha;
  c10::optional<c10::TypedOperatorHandle<DtypeFn>> dtype;
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
  if (spec.kind == Kind::Scalar && spec.defaultValue && spec.defaultValue->isScalar()) {
    spec.defaultScalar = spec.defaultValue->toScalar();
  }
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

// As in Python, an integral number is an integer Scalar: `x + 2` keeps an int tensor int.
c10::Scalar numberScalar(double d) {
  if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9007199254740992.0) {
    return c10::Scalar(static_cast<int64_t>(d));
  }
  return c10::Scalar(d);
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
      return unwrapTensor(v, spec.name.c_str());  // copied into the IValue
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
    case Kind::Scalar:
      if (v.IsBoolean()) return c10::Scalar(v.As<Napi::Boolean>().Value());
      if (v.IsBigInt()) return c10::Scalar(toInt(env, op, spec, v));
      if (!v.IsNumber()) argError(env, op, spec, "must be a number");
      return numberScalar(v.As<Napi::Number>().DoubleValue());
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

Napi::Value fromIValue(Napi::Env env, HandleTable& table, const c10::IValue& v) {
  if (v.isTensor()) return Napi::Value(env, wrapTensorIn(env, table, v.toTensor()));
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
    for (size_t i = 0; i < elements.size(); ++i) out.Set(static_cast<uint32_t>(i), fromIValue(env, table, elements[i]));
    return out;
  }
  if (v.isList()) {
    c10::List<c10::IValue> list = v.toList();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) out.Set(static_cast<uint32_t>(i), fromIValue(env, table, list.get(i)));
    return out;
  }
  throw Napi::Error::New(env, "cannot convert a " + v.tagKind() + " result to JS");
}

// Most arguments an operator call takes (dispatch.ts MAX_ARGS).
constexpr size_t kMaxArgs = 9;

// The JS arguments of `call(id, ...args)`, read with one napi_get_cb_info into a stack array, and
// the calling thread's handle table, which the function was registered with.
// `argc` counts what JS passed, undefineds included: an undefined argument means "not given"
// (the TS layer passes as many values as its caller gave, never an array).
struct Args {
  Napi::Env env;
  napi_value argv[kMaxArgs + 1];
  size_t argc = kMaxArgs + 1;
  HandleTable* table = nullptr;

  Args(napi_env e, napi_callback_info info) : env(e) {
    void* data = nullptr;
    NAPI_THROW_IF_FAILED_VOID(e, napi_get_cb_info(e, info, &argc, argv, nullptr, &data));
    table = static_cast<HandleTable*>(data);
    if (argc > kMaxArgs + 1) {
      throw Napi::TypeError::New(e, "an operator call takes at most " + std::to_string(kMaxArgs) + " arguments");
    }
    if (argc == 0) throw Napi::TypeError::New(e, "an operator call needs an operator id");
  }

  // Operator argument i (0 = the first after the id), undefined when not passed.
  Napi::Value operator[](size_t i) const { return i + 1 < argc ? Napi::Value(env, argv[i + 1]) : env.Undefined(); }

  // Operator arguments given: trailing undefineds do not count.
  size_t given() const {
    size_t n = argc - 1;
    while (n > 0 && (*this)[n - 1].IsUndefined()) --n;
    return n;
  }
};

const OpEntry& entryArg(const Args& args) {
  uint32_t id = Napi::Value(args.env, args.argv[0]).As<Napi::Number>().Uint32Value();
  auto& ops = operators();
  if (id >= ops.size()) throw Napi::RangeError::New(args.env, "unknown operator id " + std::to_string(id));
  return ops[id];
}

// Operator arguments given, after checking there are not more than the schema has. Trailing
// undefineds are only inspected when JS passed more values than the schema has arguments.
size_t checkedGiven(const Args& args, const OpEntry& op) {
  if (args.argc - 1 <= op.args.size()) return args.argc - 1;
  size_t given = args.given();
  if (given > op.args.size()) {
    throw Napi::TypeError::New(args.env, op.displayName + " takes at most " + std::to_string(op.args.size()) +
                                             " arguments but got " + std::to_string(given));
  }
  return given;
}

torch::jit::Stack buildStack(const Args& args, const OpEntry& op) {
  checkedGiven(args, op);
  torch::jit::Stack stack;
  stack.reserve(op.args.size());
  for (size_t i = 0; i < op.args.size(); ++i) stack.push_back(toIValue(args.env, op, op.args[i], args[i]));
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
  for (size_t i = 0; i < args.size(); ++i) {
    const ArgSpec& arg = args[i];
    // The real type: a ScalarType argument reads as `int` in the schema's JIT type.
    const c10::TypePtr& type = schema.arguments()[i].real_type();
    bool optionalDtype = arg.optional && type->expectRef<c10::OptionalType>().getElementType()->kind() ==
                                             c10::TypeKind::ScalarTypeType;
    if (optionalDtype) shape += 'D';
    else if (arg.optional) return fast;
    else if (arg.kind == Kind::Tensor) shape += 'T';
    else if (arg.kind == Kind::Scalar) shape += 'S';
    else return fast;
  }
  if (shape == "T" && (fast.unary = typedIfMatches<UnaryFn>(handle))) fast.kind = FastKind::Unary;
  if (shape == "TT" && (fast.binary = typedIfMatches<BinaryFn>(handle))) fast.kind = FastKind::Binary;
  if (shape == "TTS" && (fast.binaryAlpha = typedIfMatches<BinaryAlphaFn>(handle))) fast.kind = FastKind::BinaryAlpha;
  if (shape == "TS" && (fast.scalar = typedIfMatches<ScalarFn>(handle))) fast.kind = FastKind::Scalar;
  if (shape == "TSS" && (fast.scalarAlpha = typedIfMatches<ScalarAlphaFn>(handle))) fast.kind = FastKind::ScalarAlpha;
  if (shape == "TD" && (fast.dtype = typedIfMatches<DtypeFn>(handle))) fast.kind = FastKind::Dtype;
  bool returnsView = schema.returns()[0].alias_info() != nullptr;
  if (!returnsView && handle.hasKernelForDispatchKey(c10::DispatchKey::Autograd)) {
    fast.skipped = c10::autograd_dispatch_keyset_with_ADInplaceOrView;
  }
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

// Tensor argument i for the unboxed path: a number is looked up directly; anything else takes the
// general conversion for its error message.
const at::Tensor& tensorAt(const Args& args, const OpEntry& op, size_t i) {
  double handle;
  if (i + 1 < args.argc && napi_get_value_double(args.env, args.argv[i + 1], &handle) == napi_ok) {
    return tensorIn(args.env, *args.table, handle, op.args[i].name.c_str());
  }
  Napi::Value v = args[i];
  if (v.IsUndefined() || v.IsNull()) argError(args.env, op, op.args[i], "is required");
  argError(args.env, op, op.args[i], "must be a Tensor");
}

at::Scalar scalarAt(const Args& args, const OpEntry& op, size_t i) {
  const ArgSpec& spec = op.args[i];
  if (i + 1 >= args.argc) {
    if (spec.defaultScalar) return *spec.defaultScalar;
  } else {
    double d;
    if (napi_get_value_double(args.env, args.argv[i + 1], &d) == napi_ok) return numberScalar(d);
    napi_valuetype type;
    if (spec.defaultScalar && napi_typeof(args.env, args.argv[i + 1], &type) == napi_ok && type == napi_undefined) {
      return *spec.defaultScalar;
    }
  }
  return toIValue(args.env, op, spec, args[i]).toScalar();
}

c10::optional<at::ScalarType> dtypeAt(const Args& args, const OpEntry& op, size_t i) {
  // Not passed (`x.sum()`): the schema's default, None for every `ScalarType? dtype=None`, without
  // converting an undefined JS value (two N-API type checks and an IValue).
  const c10::optional<c10::IValue>& fallback = op.args[i].defaultValue;
  if (i + 1 >= args.argc && (!fallback || fallback->isNone())) return c10::nullopt;
  c10::IValue v = toIValue(args.env, op, op.args[i], args[i]);
  if (v.isNone()) return c10::nullopt;
  int64_t code = v.toInt();
  if (code < 0 || code >= static_cast<int64_t>(at::ScalarType::NumOptions)) {
    argError(args.env, op, op.args[i], "is not a dtype code: " + std::to_string(code));
  }
  return static_cast<at::ScalarType>(code);
}

// Runs an unboxed call below the Autograd dispatch keys when no tensor argument requires grad.
// PyTorch 1.13 leaves this as a wish (c10/core/DispatchKey.h, "Dream: skip VariableType kernel when
// requires_grad=false"); for one call we can decide it here. The Autograd kernel (VariableType)
// then adds only its own cost: it computes `requires_grad` from the inputs and GradMode
// (autograd/functions/utils.h `compute_requires_grad`), makes a grad_fn and records history only
// when that is true, checks in-place use of leaves and views only when it is true
// (VariableTypeUtils.h `check_inplace`), sets forward-mode gradients only for inputs that have one,
// and redispatches below itself under AutoDispatchBelowADInplaceOrView. With no input requiring
// grad none of that changes the result:
// - forward-mode AD: a tensor only gets a forward gradient inside a dual level, which only C++
//   (`torch::autograd::forward_ad::enter_dual_level`) opens; no operator or native here does;
// - requires_grad: the result of an op whose inputs do not require grad never does;
// - views and version counters: ADInplaceOrView makes views (CreationMeta from GradMode and
//   InferenceMode, neither touched here) and bumps versions. For an op returning a view, or one
//   without its own Autograd kernel (CompositeImplicitAutograd, whose inner ops would otherwise
//   pass through ADInplaceOrView), only the Autograd keys are skipped and ADInplaceOrView runs as
//   before. For any other op it is a fallthrough, and VariableType would have excluded it for the
//   kernel's inner calls (the views a reduction makes of its output, say), so it is skipped too,
//   which is what VariableType's own redispatch does;
// - inference mode: it excludes the Autograd keys already, its results are inference tensors
//   either way, and the guard restores the previous key set on exit (an exception included);
// - named tensors (VariableTypeManual's detach propagates names) cannot be made through this
//   binding: every Dimname argument is a string list, which the generic dispatch refuses.
// Only the fast path does it: its ops return one tensor and never mutate, where the boxed path
// also serves in-place and out= ops and the Autograd-only kernels (set_, resize_, copy_, ...), and
// pays for the IValue stack, beside which the saving is small. The checks cost about 2 ns per
// call and the guard about 8 ns (perf, `add` and `sum` loops); the Autograd kernel and the extra
// redispatch it replaces cost 60-100 ns.
template <class Call>
at::Tensor belowAutogradUnless(bool anyRequiresGrad, const FastPaths& f, const Call& call) {
  if (anyRequiresGrad) return call();
  c10::impl::ExcludeDispatchKeyGuard guard(f.skipped);
  return call();
}

// The unboxed call for this op's signature. Arguments are converted in order, so that errors name
// the first bad one. The tensors are references into the handle table, which stays unchanged
// until the result is wrapped.
at::Tensor callFast(const Args& args, const OpEntry& op) {
  const FastPaths& f = op.fast;
  const at::Tensor& self = tensorAt(args, op, 0);
  switch (f.kind) {
    case FastKind::Unary: return belowAutogradUnless(self.requires_grad(), f, [&] { return f.unary->call(self); });
    case FastKind::Binary: {
      const at::Tensor& other = tensorAt(args, op, 1);
      return belowAutogradUnless(self.requires_grad() || other.requires_grad(), f,
                                 [&] { return f.binary->call(self, other); });
    }
    case FastKind::BinaryAlpha: {
      const at::Tensor& other = tensorAt(args, op, 1);
      at::Scalar alpha = scalarAt(args, op, 2);
      return belowAutogradUnless(self.requires_grad() || other.requires_grad(), f,
                                 [&] { return f.binaryAlpha->call(self, other, alpha); });
    }
    case FastKind::Scalar: {
      at::Scalar other = scalarAt(args, op, 1);
      return belowAutogradUnless(self.requires_grad(), f, [&] { return f.scalar->call(self, other); });
    }
    case FastKind::ScalarAlpha: {
      at::Scalar first = scalarAt(args, op, 1);
      at::Scalar second = scalarAt(args, op, 2);
      return belowAutogradUnless(self.requires_grad(), f, [&] { return f.scalarAlpha->call(self, first, second); });
    }
    case FastKind::Dtype: {
      c10::optional<at::ScalarType> dtype = dtypeAt(args, op, 1);
      return belowAutogradUnless(self.requires_grad(), f, [&] { return f.dtype->call(self, dtype); });
    }
    case FastKind::None: break;
  }
  throw Napi::Error::New(args.env, op.displayName + ": no unboxed call");
}

// call(id, ...args) -> result: a Tensor handle, a number, or an array for several returns. A plain
// N-API callback: it is the per-op entry point, and every avoided N-API call shows in a tiny op.
napi_value call(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const OpEntry& op = entryArg(args);
  if (op.fast.kind != FastKind::None) {
    checkedGiven(args, op);
    return wrapTensorIn(args.env, *args.table, callFast(args, op));
  }
  torch::jit::Stack stack = buildStack(args, op);
  op.handle.callBoxed(stack);
  if (stack.empty()) return args.env.Undefined();
  if (stack.size() == 1) return fromIValue(args.env, *args.table, stack[0]);
  Napi::Array out = Napi::Array::New(args.env, stack.size());
  for (size_t i = 0; i < stack.size(); ++i) {
    out.Set(static_cast<uint32_t>(i), fromIValue(args.env, *args.table, stack[i]));
  }
  return out;
}

// callDiscard(id, ...args): for in-place ops, whose result is an input again; making a new
// handle for it would only be disposed at once.
napi_value callDiscard(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const OpEntry& op = entryArg(args);
  torch::jit::Stack stack = buildStack(args, op);
  op.handle.callBoxed(stack);
  return nullptr;
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
  exportRawFunction<call>(env, exports, "call", &currentHandleTable(env));
  exportRawFunction<callDiscard>(env, exports, "callDiscard", &currentHandleTable(env));
  exportFunction<opSchema>(env, exports, "opSchema");
}

}  // namespace cf
