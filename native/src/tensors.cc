// Tensor handles, their memory accounting, and moving data between JS typed arrays and tensors.
#include "common.h"
#include "cpu-allocator.h"
#include "handles.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <atomic>
#include <unordered_set>
#include <unistd.h>

namespace cf {
namespace {

// V8 is told about external memory in steps of this size rather than per change: the hint only
// steers when V8 collects garbage, and a call per tiny tensor would cost as much as the op.
constexpr int64_t kHintStep = 4 << 20;

// The calling thread's table, for the entry points that are not registered with it (the per-op
// ones are: reaching a thread_local from a dlopen'ed library costs a __tls_get_addr call).
thread_local HandleTable* currentTable = nullptr;

HandleTable& table(Napi::Env env) {
  if (currentTable == nullptr) throw Napi::Error::New(env, "clusterfit native: no tensor table on this thread");
  return *currentTable;
}

// Tells V8 how much CPU memory libtorch holds (every allocation, the autograd graph's included),
// once the change is worth a call, so that V8's heuristics collect dropped handles in step with
// the native memory they keep alive. Called whenever a handle is made or released.
void syncExternalMemory(napi_env env, HandleTable& t) {
  if (!t.reportsAllocator) return;
  int64_t delta = countedCpuBytes() - t.reportedBytes;
  if (delta < kHintStep && delta > -kHintStep) return;
  t.reportedBytes += delta;
  Napi::MemoryManagement::AdjustExternalMemory(Napi::Env(env), delta);
}

double handleNumber(napi_env env, napi_value value, const char* what) {
  double handle;
  if (napi_get_value_double(env, value, &handle) != napi_ok) {
    throw Napi::TypeError::New(env, std::string("expected a Tensor for ") + what);
  }
  return handle;
}

void release(napi_env env, HandleTable& t, double handle, bool byGc) {
  Slot* slot = nullptr;
  if (find(t, handle, slot) != Lookup::Live) return;  // disposing twice is allowed
  slot->generation = slot->generation + 1 == kGenerationLimit ? 1 : slot->generation + 1;
  t.freeSlots.push_back(static_cast<uint32_t>(slot - t.slots.data()));
  t.liveTensors -= 1;
  if (byGc) t.reclaimedByGc += 1;
  slot->tensor.reset();  // may free the storage; the slot is already consistent
  syncExternalMemory(env, t);
}

at::ScalarType scalarTypeArg(const Napi::Value& value) {
  int code = value.As<Napi::Number>().Int32Value();
  if (code < 0 || code >= static_cast<int>(at::ScalarType::NumOptions)) {
    throw Napi::RangeError::New(value.Env(), "unknown dtype code " + std::to_string(code));
  }
  return static_cast<at::ScalarType>(code);
}

std::vector<int64_t> intsArg(const Napi::Value& value, const char* what) {
  if (!value.IsArray()) throw Napi::TypeError::New(value.Env(), std::string(what) + " must be an array of integers");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<int64_t> out(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value v = array.Get(i);
    if (!v.IsNumber()) throw Napi::TypeError::New(value.Env(), std::string(what) + " must be an array of integers");
    out[i] = v.As<Napi::Number>().Int64Value();
  }
  return out;
}

Napi::Array intsToJs(Napi::Env env, c10::IntArrayRef values) {
  Napi::Array out = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(values[i])));
  return out;
}

// fromBuffer(view: ArrayBufferView, shape: number[], dtype: number) -> handle
// Copies the bytes: JS may reuse or detach the buffer afterwards.
Napi::Value fromBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() && !info[0].IsDataView()) {
    throw Napi::TypeError::New(env, "fromBuffer: expected a typed array");
  }
  Napi::ArrayBuffer buffer;
  size_t offset = 0, length = 0;
  if (info[0].IsTypedArray()) {
    auto view = info[0].As<Napi::TypedArray>();
    buffer = view.ArrayBuffer();
    offset = view.ByteOffset();
    length = view.ByteLength();
  } else {
    auto view = info[0].As<Napi::DataView>();
    buffer = view.ArrayBuffer();
    offset = view.ByteOffset();
    length = view.ByteLength();
  }
  std::vector<int64_t> shape = intsArg(info[1], "shape");
  at::ScalarType dtype = scalarTypeArg(info[2]);
  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(dtype));
  size_t expected = out.numel() * out.element_size();
  if (expected != length) {
    throw Napi::RangeError::New(env, "fromBuffer: shape " + c10::str(at::IntArrayRef(shape)) + " of " +
                                         c10::toString(dtype) + " needs " + std::to_string(expected) +
                                         " bytes but the buffer holds " + std::to_string(length));
  }
  if (length > 0) std::memcpy(out.data_ptr(), static_cast<uint8_t*>(buffer.Data()) + offset, length);
  return wrapTensor(env, std::move(out));
}

// toBuffer(handle) -> ArrayBuffer holding the tensor's elements, contiguous, in its dtype. The
// bytes are allocated here and handed to V8 as an external buffer: V8 aborts the whole process
// when an ArrayBuffer it allocates itself cannot be (napi_create_arraybuffer), where a failed
// malloc here is a RangeError the caller can report.
Napi::Value toBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor t = unwrapTensor(info[0], "toBuffer");
  at::Tensor host = t.detach().to(at::kCPU).contiguous();
  size_t nbytes = host.numel() * host.element_size();
  if (nbytes == 0) return Napi::ArrayBuffer::New(env, 0);
  void* data = std::malloc(nbytes);
  if (data == nullptr) {
    throw Napi::RangeError::New(env, "toBuffer: cannot allocate " + std::to_string(nbytes) +
                                         " bytes for the tensor's data (out of memory)");
  }
  std::memcpy(data, host.data_ptr(), nbytes);
  return Napi::ArrayBuffer::New(env, data, nbytes, [](Napi::Env, void* bytes) { std::free(bytes); });
}

// readFile(handle, fd, position, length) -> bytes read: `length` bytes of the open file `fd` from
// byte `position`, read straight into the start of a contiguous CPU tensor's memory (a .npy file's
// data: no JavaScript buffer, no second copy, each page touched once). Fewer bytes come back only at
// the end of the file; a failed read is an Error with the system's reason (the caller names the file).
Napi::Value readFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor& t = unwrapTensor(info[0], "readFile");
  if (!t.device().is_cpu() || !t.is_contiguous()) {
    throw Napi::TypeError::New(env, "readFile: the tensor must be contiguous and on the CPU");
  }
  for (size_t i = 1; i <= 3; ++i) {
    if (!info[i].IsNumber()) throw Napi::TypeError::New(env, "readFile: fd, position and length must be numbers");
  }
  const int fd = info[1].As<Napi::Number>().Int32Value();
  const double position = info[2].As<Napi::Number>().DoubleValue();
  const double length = info[3].As<Napi::Number>().DoubleValue();
  const double capacity = static_cast<double>(t.numel()) * static_cast<double>(t.element_size());
  if (!(position >= 0 && position <= 9007199254740991.0 && position == std::floor(position)) ||
      !(length >= 0 && length <= capacity && length == std::floor(length))) {
    throw Napi::RangeError::New(env, "readFile: position and length must be whole numbers of bytes, the length "
                                     "at most the tensor's " + std::to_string(static_cast<int64_t>(capacity)));
  }
  auto* data = static_cast<uint8_t*>(t.data_ptr());
  const auto total = static_cast<int64_t>(length);
  const auto start = static_cast<int64_t>(position);
  int64_t done = 0;
  while (done < total) {
    // At most 1 GiB a call: Linux reads at most about 2 GiB at once anyway.
    const auto piece = static_cast<size_t>(std::min<int64_t>(total - done, int64_t{1} << 30));
    const ssize_t n = ::pread(fd, data + done, piece, static_cast<off_t>(start + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Napi::Error::New(env, std::string("read failed: ") + std::strerror(errno));
    }
    if (n == 0) break;
    done += n;
  }
  return Napi::Number::New(env, static_cast<double>(done));
}

Napi::Value shape(const Napi::CallbackInfo& info) {
  return intsToJs(info.Env(), unwrapTensor(info[0], "shape").sizes());
}

Napi::Value strides(const Napi::CallbackInfo& info) {
  return intsToJs(info.Env(), unwrapTensor(info[0], "strides").strides());
}

Napi::Value storageOffset(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(unwrapTensor(info[0], "storageOffset").storage_offset()));
}

Napi::Value dtype(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<int>(unwrapTensor(info[0], "dtype").scalar_type()));
}

Napi::Value device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), unwrapTensor(info[0], "device").device().str());
}

// isContiguous(handle, memoryFormat code): a property of the tensor, not an operator.
Napi::Value isContiguous(const Napi::CallbackInfo& info) {
  auto format = static_cast<at::MemoryFormat>(info[1].As<Napi::Number>().Int32Value());
  return Napi::Boolean::New(info.Env(), unwrapTensor(info[0], "isContiguous").is_contiguous(format));
}

// The table a per-op entry point was registered with (its callback data).
HandleTable& registeredTable(void* data) { return *static_cast<HandleTable*>(data); }

// dispose(handle, byGc?): drops the handle's reference; `byGc` counts a safety-net release. A plain
// N-API callback, like `call`: it runs once per op result.
napi_value dispose(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  void* data = nullptr;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  if (argc < 1) throw Napi::TypeError::New(env, "dispose: expected a Tensor handle");
  bool byGc = argc > 1 && Napi::Value(env, argv[1]).ToBoolean().Value();
  release(env, registeredTable(data), handleNumber(env, argv[0], "dispose"), byGc);
  return nullptr;
}

// disposeMany(handles: Float64Array, count): drops the first `count` handles, as `dispose` does one
// by one. A tidy scope frees all its tensors at once on exit: one N-API call for the lot instead of
// one per tensor (each call's transition costs about as much as a tiny op's JS side).
napi_value disposeMany(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  void* table = nullptr;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &table);
  bool isTypedArray = false;
  if (argc == 2) napi_is_typedarray(env, argv[0], &isTypedArray);
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  if (isTypedArray) napi_get_typedarray_info(env, argv[0], &type, &length, &data, nullptr, nullptr);
  uint32_t count = 0;
  if (type != napi_float64_array || napi_get_value_uint32(env, argv[1], &count) != napi_ok || count > length) {
    throw Napi::TypeError::New(env, "disposeMany: expected a Float64Array of handles and a count within it");
  }
  const double* handles = static_cast<const double*>(data);
  HandleTable& t = registeredTable(table);
  for (uint32_t i = 0; i < count; ++i) release(env, t, handles[i], false);
  return nullptr;
}

Napi::Value isDisposed(const Napi::CallbackInfo& info) {
  Slot* slot = nullptr;
  Lookup found = find(table(info.Env()), handleNumber(info.Env(), info[0], "isDisposed"), slot);
  return Napi::Boolean::New(info.Env(), found != Lookup::Live);
}

// Two handles that hold the same tensor object (not merely the same storage).
Napi::Value sameTensor(const Napi::CallbackInfo& info) {
  const at::Tensor& a = unwrapTensor(info[0], "sameTensor");
  const at::Tensor& b = unwrapTensor(info[1], "sameTensor");
  return Napi::Boolean::New(info.Env(), a.is_same(b));
}

// Exact figures for this thread's handles, computed on demand by visiting every live handle (each
// storage counted once): this keeps creating and disposing handles free of bookkeeping.
Napi::Value memoryStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HandleTable& t = table(env);
  std::unordered_set<const c10::StorageImpl*> seen;
  int64_t cpuBytes = 0, deviceBytes = 0;
  for (const Slot& slot : t.slots) {
    if (!slot.tensor.defined() || !slot.tensor.has_storage()) continue;
    const c10::StorageImpl* impl = slot.tensor.storage().unsafeGetStorageImpl();
    if (impl == nullptr || !seen.insert(impl).second) continue;
    (impl->device().is_cpu() ? cpuBytes : deviceBytes) += static_cast<int64_t>(impl->nbytes());
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("liveTensors", Napi::Number::New(env, static_cast<double>(t.liveTensors)));
  out.Set("liveStorages", Napi::Number::New(env, static_cast<double>(seen.size())));
  out.Set("cpuBytes", Napi::Number::New(env, static_cast<double>(cpuBytes)));
  out.Set("deviceBytes", Napi::Number::New(env, static_cast<double>(deviceBytes)));
  out.Set("reclaimedByGc", Napi::Number::New(env, static_cast<double>(t.reclaimedByGc)));
  out.Set("allocatorCpuBytes", Napi::Number::New(env, static_cast<double>(countedCpuBytes())));
  return out;
}

// cpuBytesEverAllocated() -> number: the CPU allocation churn so far (see cpu-allocator.h).
Napi::Value cpuBytesEverAllocatedJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), cpuBytesEverAllocated());
}

void destroyTable(void* data) {
  auto* t = static_cast<HandleTable*>(data);
  if (currentTable == t) currentTable = nullptr;
  delete t;  // drops every reference the thread's JS still held
}

}  // namespace

void attachHandleTable(Napi::Env env) {
  static std::atomic<uint32_t> tables{0};
  if (currentTable != nullptr) return;  // the addon was loaded twice by this thread's JS
  auto* t = new HandleTable();
  uint32_t number = tables.fetch_add(1);
  t->tag = number & ((uint32_t{1} << kTagBits) - 1);
  t->reportsAllocator = number == 0;
  if (number == 0) installCountingCpuAllocator();
  currentTable = t;
  napi_add_env_cleanup_hook(env, destroyTable, t);
}

HandleTable& currentHandleTable(napi_env env) { return table(Napi::Env(env)); }

napi_value wrapTensorIn(napi_env env, HandleTable& t, at::Tensor tensor) {
  napi_value out;
  if (!tensor.defined()) {
    NAPI_THROW_IF_FAILED(env, napi_get_null(env, &out), nullptr);
    return out;
  }
  uint32_t index;
  if (t.freeSlots.empty()) {
    if (t.slots.size() >= kSlotSpace) {
      throw Napi::Error::New(env, "too many live tensors (4M handles): dispose tensors or use tidy()");
    }
    index = static_cast<uint32_t>(t.slots.size());
    t.slots.emplace_back();
  } else {
    index = t.freeSlots.back();
    t.freeSlots.pop_back();
  }
  Slot& slot = t.slots[index];
  slot.tensor = std::move(tensor);
  t.liveTensors += 1;
  uint32_t bits = (slot.generation << (kTagBits + kSlotBits)) | (t.tag << kSlotBits) | index;
  syncExternalMemory(env, t);
  NAPI_THROW_IF_FAILED(env, napi_create_int32(env, static_cast<int32_t>(bits), &out), nullptr);
  return out;
}

Napi::Value wrapTensor(Napi::Env env, at::Tensor tensor) {
  return Napi::Value(env, wrapTensorIn(env, table(env), std::move(tensor)));
}

void throwNotLive(napi_env env, Lookup found, const char* what) {
  if (found == Lookup::OtherThread) {
    throw Napi::Error::New(env, std::string("Tensor of another thread (in ") + what +
                                    "): tensors belong to the thread that made them; send the data instead");
  }
  throw Napi::Error::New(env, std::string("Tensor used after dispose() (in ") + what + ")");
}

const at::Tensor& tensorOf(napi_env env, double handle, const char* what) {
  return tensorIn(env, table(Napi::Env(env)), handle, what);
}

const at::Tensor& unwrapTensor(const Napi::Value& value, const char* what) {
  return tensorOf(value.Env(), handleNumber(value.Env(), value, what), what);
}

void registerTensorFunctions(Napi::Env env, Napi::Object exports) {
  exportFunction<fromBuffer>(env, exports, "fromBuffer");
  exportFunction<toBuffer>(env, exports, "toBuffer");
  exportFunction<readFile>(env, exports, "readFile");
  exportFunction<shape>(env, exports, "shape");
  exportFunction<strides>(env, exports, "strides");
  exportFunction<storageOffset>(env, exports, "storageOffset");
  exportFunction<dtype>(env, exports, "dtype");
  exportFunction<device>(env, exports, "device");
  exportFunction<isContiguous>(env, exports, "isContiguous");
  exportRawFunction<dispose>(env, exports, "dispose", &currentHandleTable(env));
  exportRawFunction<disposeMany>(env, exports, "disposeMany", &currentHandleTable(env));
  exportFunction<isDisposed>(env, exports, "isDisposed");
  exportFunction<sameTensor>(env, exports, "sameTensor");
  exportFunction<memoryStats>(env, exports, "memoryStats");
  exportFunction<cpuBytesEverAllocatedJs>(env, exports, "cpuBytesEverAllocated");
}

}  // namespace cf
