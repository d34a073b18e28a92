// Tensor handles, their memory accounting, and moving data between JS typed arrays and tensors.
#include "common.h"

#include <cmath>
#include <cstring>
#include <mutex>
#include <unordered_set>

namespace cf {
namespace {

struct Slot {
  at::Tensor tensor;
  uint32_t generation = 1;
  int64_t hintedBytes = 0;  // CPU bytes this slot reported to V8 as external memory
};

// Handle = generation * kSlotSpace + index. Generations start at 1, so small integers are never
// valid handles, and a slot's generation grows on every release, so a stale handle never names
// the slot's next tensor.
constexpr double kSlotSpace = 4194304.0;  // 2^22 slots

// V8 is told about external memory in steps of this size rather than per tensor: the hint only
// steers when V8 collects garbage, and a call per tiny tensor would cost as much as the op.
constexpr int64_t kHintStep = 1 << 20;

struct HandleTable {
  std::mutex mutex;
  std::vector<Slot> slots;
  std::vector<uint32_t> freeSlots;
  int64_t liveTensors = 0;
  int64_t reclaimedByGc = 0;
  int64_t unreportedBytes = 0;  // external-memory change not yet passed to V8
};

HandleTable& table() {
  static HandleTable instance;
  return instance;
}

// The bytes of a tensor's storage when this handle is its only owner (a fresh op result): the
// memory that disposing the handle frees. Shared storages are not hinted again.
int64_t ownedCpuBytes(const at::Tensor& tensor) {
  if (!tensor.has_storage() || !tensor.device().is_cpu()) return 0;
  const c10::Storage& storage = tensor.storage();
  return storage.use_count() == 1 ? static_cast<int64_t>(storage.nbytes()) : 0;
}

// Passes accumulated external-memory changes to V8 once they are worth a call. Must be called
// without the table lock held: V8 may start a garbage collection from it.
void hintV8(Napi::Env env, int64_t delta) {
  HandleTable& t = table();
  int64_t pending;
  {
    std::lock_guard<std::mutex> lock(t.mutex);
    t.unreportedBytes += delta;
    if (t.unreportedBytes < kHintStep && t.unreportedBytes > -kHintStep) return;
    pending = t.unreportedBytes;
    t.unreportedBytes = 0;
  }
  Napi::MemoryManagement::AdjustExternalMemory(env, pending);
}

// The slot a handle names, or null when it was released (or never existed).
Slot* slotOf(HandleTable& t, const Napi::Value& value, const char* what) {
  if (!value.IsNumber()) throw Napi::TypeError::New(value.Env(), std::string("expected a Tensor for ") + what);
  double handle = value.As<Napi::Number>().DoubleValue();
  double generation = std::floor(handle / kSlotSpace);
  double index = handle - generation * kSlotSpace;
  if (!(index >= 0 && index < static_cast<double>(t.slots.size()))) return nullptr;
  Slot& slot = t.slots[static_cast<size_t>(index)];
  return slot.generation == generation && slot.tensor.defined() ? &slot : nullptr;
}

void release(Napi::Env env, const Napi::Value& handle, bool byGc) {
  HandleTable& t = table();
  int64_t freed = 0;
  at::Tensor dropped;  // destroyed after the lock is released: freeing memory can take a while
  {
    std::lock_guard<std::mutex> lock(t.mutex);
    Slot* slot = slotOf(t, handle, "dispose");
    if (slot == nullptr) return;  // disposing twice is allowed
    freed = slot->hintedBytes;
    slot->hintedBytes = 0;
    dropped = std::move(slot->tensor);
    slot->tensor.reset();
    slot->generation += 1;
    t.freeSlots.push_back(static_cast<uint32_t>(slot - t.slots.data()));
    t.liveTensors -= 1;
    if (byGc) t.reclaimedByGc += 1;
  }
  if (freed > 0) hintV8(env, -freed);
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

// toBuffer(handle) -> ArrayBuffer holding the tensor's elements, contiguous, in its dtype.
Napi::Value toBuffer(const Napi::CallbackInfo& info) {
  at::Tensor t = unwrapTensor(info[0], "toBuffer");
  at::Tensor host = t.detach().to(at::kCPU).contiguous();
  size_t nbytes = host.numel() * host.element_size();
  Napi::ArrayBuffer out = Napi::ArrayBuffer::New(info.Env(), nbytes);
  if (nbytes > 0) std::memcpy(out.Data(), host.data_ptr(), nbytes);
  return out;
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

// dispose(handle, byGc?): drops the handle's reference; `byGc` counts a safety-net release.
Napi::Value dispose(const Napi::CallbackInfo& info) {
  release(info.Env(), info[0], info[1].ToBoolean().Value());
  return info.Env().Undefined();
}

Napi::Value isDisposed(const Napi::CallbackInfo& info) {
  HandleTable& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  return Napi::Boolean::New(info.Env(), slotOf(t, info[0], "isDisposed") == nullptr);
}

// Two handles that hold the same tensor object (not merely the same storage).
Napi::Value sameTensor(const Napi::CallbackInfo& info) {
  const at::Tensor& a = unwrapTensor(info[0], "sameTensor");
  const at::Tensor& b = unwrapTensor(info[1], "sameTensor");
  return Napi::Boolean::New(info.Env(), a.is_same(b));
}

// Exact figures, computed on demand by visiting every live handle (each storage counted once):
// this keeps creating and disposing handles free of bookkeeping.
Napi::Value memoryStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HandleTable& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
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
  return out;
}

}  // namespace

Napi::Value wrapTensor(Napi::Env env, at::Tensor tensor) {
  if (!tensor.defined()) return env.Null();
  HandleTable& t = table();
  int64_t added = 0;
  double handle = 0;
  {
    std::lock_guard<std::mutex> lock(t.mutex);
    uint32_t index;
    if (t.freeSlots.empty()) {
      index = static_cast<uint32_t>(t.slots.size());
      if (index >= kSlotSpace) throw Napi::Error::New(env, "too many live tensors (4M handles): dispose tensors or use tidy()");
      t.slots.emplace_back();
    } else {
      index = t.freeSlots.back();
      t.freeSlots.pop_back();
    }
    Slot& slot = t.slots[index];
    slot.tensor = std::move(tensor);
    added = slot.hintedBytes = ownedCpuBytes(slot.tensor);
    t.liveTensors += 1;
    handle = slot.generation * kSlotSpace + index;
  }
  if (added > 0) hintV8(env, added);
  return Napi::Number::New(env, handle);
}

at::Tensor unwrapTensor(const Napi::Value& value, const char* what) {
  HandleTable& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  Slot* slot = slotOf(t, value, what);
  if (slot == nullptr) throw Napi::Error::New(value.Env(), std::string("Tensor used after dispose() (in ") + what + ")");
  return slot->tensor;
}

void registerTensorFunctions(Napi::Env env, Napi::Object exports) {
  exportFunction<fromBuffer>(env, exports, "fromBuffer");
  exportFunction<toBuffer>(env, exports, "toBuffer");
  exportFunction<shape>(env, exports, "shape");
  exportFunction<strides>(env, exports, "strides");
  exportFunction<storageOffset>(env, exports, "storageOffset");
  exportFunction<dtype>(env, exports, "dtype");
  exportFunction<device>(env, exports, "device");
  exportFunction<isContiguous>(env, exports, "isContiguous");
  exportFunction<dispose>(env, exports, "dispose");
  exportFunction<isDisposed>(env, exports, "isDisposed");
  exportFunction<sameTensor>(env, exports, "sameTensor");
  exportFunction<memoryStats>(env, exports, "memoryStats");
}

}  // namespace cf
