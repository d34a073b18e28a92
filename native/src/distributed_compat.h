// The one place where c10d's C++ API differs between PyTorch versions (Debian's 1.13 here, 2.x
// wheels on GPU machines). Every CF_* switch below comes from a compile probe in
// scripts/build-native.mjs, which compiles the very call forms used here, so a new PyTorch that
// changes one of them shows up as a probe result (buildInfo().distributed), not as a build break.
//
//   CF_WITH_C10D            c10d's store, process group and reducer headers compile
//   CF_HAS_C10D_GLOO        ProcessGroupGloo (needs Gloo's headers: Debian libgloo-dev)
//   CF_HAS_C10D_NCCL        ProcessGroupNCCL (CUDA libtorch plus nccl.h and the CUDA headers)
//   CF_PG_IS_BACKEND        >= 2.0: Gloo/NCCL are c10d::Backend objects inside a ProcessGroup
//   CF_PG_HAS_OPTIONS       2.0 .. ~2.5: that ProcessGroup is constructed with ProcessGroup::Options
//   CF_REDUCER_CTOR=1..4    which c10d::Reducer constructor exists (see makeReducer)
//   CF_TCPSTORE_HAS_LIBUV   TCPStoreOptions::useLibUV exists (>= 2.1; libuv is the default from 2.4)
#pragma once

#ifdef CF_WITH_C10D

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>
#ifdef CF_HAS_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef CF_HAS_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace cf {
namespace dist {

using ProcessGroupPtr = c10::intrusive_ptr<c10d::ProcessGroup>;
using WorkPtr = c10::intrusive_ptr<c10d::Work>;

// A TCPStore (rank 0 serves it) under PyTorch's "default_pg" prefix, as init_process_group does.
inline c10::intrusive_ptr<c10d::Store> makeStore(const std::string& host, int port, bool isServer, int worldSize,
                                                 std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(port);
  options.isServer = isServer;
  options.numWorkers = static_cast<std::size_t>(worldSize);
  // TCPStore's own wait for the workers returns after its timeout without an error in some
  // libtorch versions, and the process group then waits a second timeout: waitForRanks counts
  // the ranks itself, within the one rendezvous timeout.
  options.waitWorkers = false;
  options.timeout = timeout;
#ifdef CF_TCPSTORE_HAS_LIBUV
  // The libuv server would share symbols with Node's own libuv; the classic socket server has no
  // such risk and serves a handful of ranks just as well.
  options.useLibUV = false;
#endif
  auto tcp = c10::make_intrusive<c10d::TCPStore>(host, options);
  return c10::make_intrusive<c10d::PrefixStore>("default_pg", tcp);
}

// Every rank counts itself in; rank 0 then waits until all `worldSize` have, and fails by the
// deadline naming how many came (a rank never started, or started with another RUN_ID).
inline void waitForRanks(c10d::Store& store, int rank, int worldSize, std::chrono::steady_clock::time_point deadline,
                         std::chrono::milliseconds timeout) {
  const std::string key = "clusterfit/joined";
  int64_t joined = store.add(key, 1);
  if (rank != 0) return;
  while (joined < worldSize) {
    if (std::chrono::steady_clock::now() >= deadline) {
      throw std::runtime_error(std::to_string(joined) + " of " + std::to_string(worldSize) +
                               " ranks reached the store within " + std::to_string(timeout.count()) +
                               " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    joined = store.add(key, 0);
  }
}

#ifdef CF_HAS_C10D_GLOO
// GLOO_SOCKET_IFNAME names the interface like PyTorch; otherwise Gloo picks the address this
// host's name resolves to. (A device bound to MASTER_ADDR would work on the master node only.)
inline c10::intrusive_ptr<c10d::ProcessGroupGloo> makeGloo(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                                           int size, std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifname != nullptr && *ifname != '\0') {
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  } else {
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, options);
}
#endif

#ifdef CF_HAS_C10D_NCCL
inline c10::intrusive_ptr<c10d::ProcessGroupNCCL> makeNccl(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                                           int size, std::chrono::milliseconds timeout) {
  // NCCL's default on a timeout or a dead peer is to tear the process down from its watchdog.
  // Blocking waits make wait() throw instead, which the callers turn into JS Errors. The
  // variable was renamed in 2.2; a value the user set is kept.
  setenv("TORCH_NCCL_BLOCKING_WAIT", "1", /*overwrite=*/0);
  setenv("NCCL_BLOCKING_WAIT", "1", /*overwrite=*/0);
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, options);
}
#endif

// The process group that collectives and the Reducer talk to. `backend` is "gloo" or "nccl" and
// must have been compiled in (the caller checks).
inline ProcessGroupPtr makeProcessGroup(const std::string& backend, const c10::intrusive_ptr<c10d::Store>& store,
                                        int rank, int size, std::chrono::milliseconds timeout) {
#ifdef CF_PG_IS_BACKEND
  using BackendType = c10d::ProcessGroup::BackendType;
#ifdef CF_PG_HAS_OPTIONS
  auto group = c10::make_intrusive<c10d::ProcessGroup>(
      store, rank, size, c10::make_intrusive<c10d::ProcessGroup::Options>(backend, timeout));
#else
  auto group = c10::make_intrusive<c10d::ProcessGroup>(store, rank, size);
#endif
#ifdef CF_HAS_C10D_GLOO
  if (backend == "gloo") {
    c10::intrusive_ptr<c10d::Backend> gloo = makeGloo(store, rank, size, timeout);
    group->setDefaultBackend(BackendType::GLOO);
    // Gloo serves CPU tensors (and CUDA tensors through host copies), as in PyTorch.
    group->setBackend(c10::DeviceType::CPU, BackendType::GLOO, gloo);
    group->setBackend(c10::DeviceType::CUDA, BackendType::GLOO, gloo);
    return group;
  }
#endif
#ifdef CF_HAS_C10D_NCCL
  if (backend == "nccl") {
    c10::intrusive_ptr<c10d::Backend> nccl = makeNccl(store, rank, size, timeout);
    group->setDefaultBackend(BackendType::NCCL);
    group->setBackend(c10::DeviceType::CUDA, BackendType::NCCL, nccl);
    return group;
  }
#endif
#else  // 1.13: the backend is the process group
#ifdef CF_HAS_C10D_GLOO
  if (backend == "gloo") return makeGloo(store, rank, size, timeout);
#endif
#ifdef CF_HAS_C10D_NCCL
  if (backend == "nccl") return makeNccl(store, rank, size, timeout);
#endif
#endif
  TORCH_CHECK(false, "backend '", backend, "' is not compiled into this build");
}

// DDP's bucketed gradient reducer. `bucketIndices` and `bucketSizeLimits` come from
// c10d::compute_bucket_assignment_by_size, in the order PyTorch's DDP passes them (reversed).
inline std::unique_ptr<c10d::Reducer> makeReducer(std::vector<at::Tensor> params,
                                                  std::vector<std::vector<size_t>> bucketIndices,
                                                  std::vector<size_t> bucketSizeLimits, const ProcessGroupPtr& group,
                                                  int64_t bucketBytesCap, bool findUnusedParameters,
                                                  int64_t firstBucketBytesCap) {
  std::vector<bool> expectSparse(params.size(), false);
  std::unordered_map<size_t, std::string> names;  // only used in error messages
  const bool gradientAsBucketView = false;
#if CF_REDUCER_CTOR == 1  // 1.11 .. at least 2.6 (built against 1.13 and 2.6): per-bucket size limits
  return std::make_unique<c10d::Reducer>(std::move(params), std::move(bucketIndices), std::move(bucketSizeLimits),
                                         group, std::move(expectSparse), bucketBytesCap, findUnusedParameters,
                                         gradientAsBucketView, std::move(names), firstBucketBytesCap);
#elif CF_REDUCER_CTOR == 2  // after 2.6: per_bucket_size_limits dropped
  (void)bucketSizeLimits;
  return std::make_unique<c10d::Reducer>(std::move(params), std::move(bucketIndices), group, std::move(expectSparse),
                                         bucketBytesCap, findUnusedParameters, gradientAsBucketView,
                                         std::move(names), firstBucketBytesCap);
#elif CF_REDUCER_CTOR == 3  // + skip_all_reduce_unused_params, use_python_reducer
  (void)bucketSizeLimits;
  return std::make_unique<c10d::Reducer>(std::move(params), std::move(bucketIndices), group, std::move(expectSparse),
                                         bucketBytesCap, findUnusedParameters, gradientAsBucketView,
                                         std::move(names), firstBucketBytesCap, /*skip_all_reduce_unused_params=*/false,
                                         /*use_python_reducer=*/false);
#elif CF_REDUCER_CTOR == 4  // + bucket_bytes_cap_list (empty: every bucket uses bucketBytesCap)
  (void)bucketSizeLimits;
  return std::make_unique<c10d::Reducer>(std::move(params), std::move(bucketIndices), group, std::move(expectSparse),
                                         bucketBytesCap, findUnusedParameters, gradientAsBucketView,
                                         std::move(names), firstBucketBytesCap, /*skip_all_reduce_unused_params=*/false,
                                         /*use_python_reducer=*/false, std::vector<int64_t>{});
#else
#error "CF_REDUCER_CTOR must be 1..4 (set by scripts/build-native.mjs)"
#endif
}

}  // namespace dist
}  // namespace cf

#endif  // CF_WITH_C10D
