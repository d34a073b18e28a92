// The tensor handle table's layout. tensors.cc owns the table (making and releasing handles, the
// memory accounting); the per-op entry points (dispatch.cc `call`, tensors.cc `dispose`) look
// handles up inline through this header, with the table they were registered with.
#pragma once

#include <napi.h>

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace cf {

struct Slot {
  at::Tensor tensor;
  uint32_t generation = 1;
};

// Handle = the int32 whose bits are (generation << 25) | (table tag << 22) | slot index. An int32
// is a V8 small integer: making one allocates nothing and reading one is a register move, where
// the larger handles this table had before cost a HeapNumber for every tensor (and another for
// the field of the Tensor object holding it). Generations start at 1, so small integers are never
// valid handles, and a slot's generation grows on every release, so a stale handle is reported
// rather than naming the slot's next tensor; it wraps to 1 after 127 releases of one slot. That
// check is a second line: Tensor objects never pass a disposed handle (they check their own state
// first, which is what gives "Tensor used after dispose()" for them and makes their dispose
// idempotent), so only a raw handle kept by code inside src/torch past 127 reuses of its slot
// could be misread.
constexpr uint32_t kSlotBits = 22;  // 4M live handles per thread
constexpr uint32_t kTagBits = 3;
constexpr uint32_t kGenerationBits = 32 - kSlotBits - kTagBits;
constexpr uint32_t kSlotSpace = uint32_t{1} << kSlotBits;
constexpr uint32_t kTagSpace = uint32_t{1} << kTagBits;
constexpr uint32_t kGenerationLimit = uint32_t{1} << kGenerationBits;

// One table per JS thread (the main thread and each worker that loads the addon): handles are
// only ever created and used by the thread that runs the JS holding them, so the hot path needs
// no lock. Each table has a tag that is part of its handles, so a raw handle smuggled to another
// thread is reported instead of naming that thread's tensor (threads 8 table creations apart
// share a tag).
struct HandleTable {
  std::vector<Slot> slots;
  std::vector<uint32_t> freeSlots;
  uint32_t tag = 0;
  int64_t liveTensors = 0;
  int64_t reclaimedByGc = 0;
  // Only the first thread's table (the main thread's) reports the CPU allocator's count to its
  // isolate: the count is process-wide, and reporting it to several isolates would multiply it.
  bool reportsAllocator = false;
  int64_t reportedBytes = 0;  // what V8 has been told
};

enum class Lookup { Live, Released, OtherThread };

// Finds the slot a handle names. `Released` covers disposed handles and numbers that were never
// handles; `OtherThread` a handle of another thread's table.
inline Lookup find(HandleTable& t, double handle, Slot*& slot) {
  if (!(handle >= -2147483648.0 && handle <= 2147483647.0)) return Lookup::Released;
  auto value = static_cast<int32_t>(handle);
  if (static_cast<double>(value) != handle) return Lookup::Released;
  auto bits = static_cast<uint32_t>(value);
  uint32_t index = bits & (kSlotSpace - 1);
  uint32_t tag = (bits >> kSlotBits) & (kTagSpace - 1);
  uint32_t generation = bits >> (kSlotBits + kTagBits);
  if (tag != t.tag) return Lookup::OtherThread;
  if (index >= t.slots.size()) return Lookup::Released;
  slot = &t.slots[index];
  return slot->generation == generation && slot->tensor.defined() ? Lookup::Live : Lookup::Released;
}

// The error for a handle `find` did not find live (used after dispose, or of another thread).
[[noreturn]] void throwNotLive(napi_env env, Lookup found, const char* what);

// The tensor behind a handle of table `t`, as tensorOf (common.h) without reaching the table
// through the thread: the per-op entry points get it as their callback data.
inline const at::Tensor& tensorIn(napi_env env, HandleTable& t, double handle, const char* what) {
  Slot* slot = nullptr;
  Lookup found = find(t, handle, slot);
  if (found != Lookup::Live) throwNotLive(env, found, what);
  return slot->tensor;
}

// A new handle in table `t` for `tensor` (null for an undefined tensor), as wrapTensor (common.h).
napi_value wrapTensorIn(napi_env env, HandleTable& t, at::Tensor tensor);

// The calling thread's table (attachHandleTable made it), for registering the per-op entry points.
HandleTable& currentHandleTable(napi_env env);

}  // namespace cf
