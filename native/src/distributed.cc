// Multi-process training on PyTorch's own distributed engine (c10d): a TCPStore rendezvous, one
// process group per process (Gloo on CPU, NCCL on CUDA), collectives in blocking and
// Promise-returning forms, DDP's bucketed gradient reducer (c10d::Reducer), and a synchronized
// batch norm. Version differences live in distributed_compat.h. Where c10d could not be compiled
// every entry point still exists and throws the reason the build recorded.
//
// Failures (a dead peer, a timeout) arrive from Gloo/NCCL as C++ exceptions; they are turned into
// JS Errors that name this rank (and the peer when it can be known), never into aborts.
#include "common.h"
#include "distributed_compat.h"

#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

#ifndef CF_C10D_UNAVAILABLE
#define CF_C10D_UNAVAILABLE "this build has no distributed support"
#endif

namespace cf {
namespace {

// Sets the current CUDA device of this thread (each rank uses cuda:LOCAL_RANK). Goes through
// c10's device-guard registry, so it needs no CUDA headers; it throws where CUDA is absent.
Napi::Value cudaSetDevice(const Napi::CallbackInfo& info) {
  int index = info[0].As<Napi::Number>().Int32Value();
  const auto* impl = c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA);
  impl->setDevice(c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index)));
  return info.Env().Undefined();
}

#ifdef CF_WITH_C10D

using dist::ProcessGroupPtr;
using dist::WorkPtr;

// The process-wide group (PyTorch's default group). Copies of the pointer are taken by the async
// workers and the autograd functions, so destroying the group never frees one in use.
struct Group {
  ProcessGroupPtr pg;
  c10::intrusive_ptr<c10d::Store> store;
  std::string backend;
  int rank = 0;
  int size = 1;
};
std::mutex groupMutex;
std::shared_ptr<Group> currentGroup;

std::shared_ptr<Group> group(const char* op) {
  std::lock_guard<std::mutex> lock(groupMutex);
  if (!currentGroup) {
    throw std::runtime_error(std::string("distributed.") + op +
                             ": the process group is not initialized (call distributed.initProcessGroup() first)");
  }
  return currentGroup;
}

std::string firstLine(const std::string& text) {
  auto newline = text.find('\n');
  return newline == std::string::npos ? text : text.substr(0, newline);
}

std::string errorText(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return firstLine(c10->what_without_backtrace());
  return firstLine(e.what());
}

// "rank 0 of 2 (gloo): allReduce failed: <cause> (peer: rank 1)". With two ranks the peer is the
// other one; with more, Gloo names the peer's address ("closed by peer [10.0.0.2]:4711"), which
// is quoted. A group of one has no peer to name.
std::string describeFailure(const Group& g, const std::string& op, const std::string& cause) {
  std::string message = "rank " + std::to_string(g.rank) + " of " + std::to_string(g.size) + " (" + g.backend +
                        "): " + op + " failed: " + cause;
  if (g.size == 2) {
    message += " (peer: rank " + std::to_string(1 - g.rank) + ")";
  } else if (g.size > 2) {
    static const std::regex peerAddress(R"(peer \[([^\]]+)\]:(\d+))");
    std::smatch match;
    if (std::regex_search(cause, match, peerAddress)) message += " (peer: " + match[1].str() + ":" + match[2].str() + ")";
  }
  return message;
}

// Runs `body`, turning any C++ failure into one that names the rank and the operation.
template <typename F>
auto named(const Group& g, const std::string& op, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const std::exception& e) {
    throw std::runtime_error(describeFailure(g, op, errorText(e)));
  }
}

c10d::ReduceOp reduceOpOf(const std::string& name) {
  if (name == "sum" || name == "avg") return c10d::ReduceOp::SUM;  // avg: a sum, divided afterwards
  if (name == "max") return c10d::ReduceOp::MAX;
  if (name == "min") return c10d::ReduceOp::MIN;
  throw std::invalid_argument("unknown reduce op '" + name + "' (expected 'sum', 'avg', 'max' or 'min')");
}

// Collectives need dense contiguous tensors; a strided argument is served through a contiguous
// copy written back after the operation, so every collective is in place as in PyTorch.
struct InPlace {
  at::Tensor target;
  at::Tensor buffer;
  explicit InPlace(const at::Tensor& t) : target(t), buffer(t.is_contiguous() ? t : t.contiguous()) {}
  void finish(bool average, int worldSize) {
    // Collectives write data, not math: a parameter (a leaf that requires grad) may be reduced
    // in place, as with torch.distributed, so autograd must not see these writes.
    at::NoGradGuard noGrad;
    if (average) {
      if (!at::isFloatingType(buffer.scalar_type())) {
        buffer.div_(worldSize, "floor");
      } else {
        buffer.div_(worldSize);
      }
    }
    if (!buffer.is_same(target)) target.copy_(buffer);
  }
};

// What a collective leaves to do once its Work is done, on whatever thread waits for it.
struct Pending {
  std::shared_ptr<Group> group;
  std::string op;
  WorkPtr work;
  std::vector<InPlace> inPlace;
  bool average = false;
  std::vector<at::Tensor> results;  // returned to JS (all-gather)
  void wait() {
    named(*group, op, [&] {
      work->wait();
      for (auto& t : inPlace) t.finish(average, group->size);
      return 0;
    });
  }
};

Napi::Value resultsToJs(Napi::Env env, const Pending& p) {
  if (p.results.empty()) return env.Undefined();
  Napi::Array out = Napi::Array::New(env, p.results.size());
  for (size_t i = 0; i < p.results.size(); ++i) out.Set(static_cast<uint32_t>(i), wrapTensor(env, p.results[i]));
  return out;
}

// Waits for a collective on libuv's thread pool and settles a Promise, so the event loop keeps
// running (timers, signals, other I/O) while the bytes travel.
class CollectiveWorker : public Napi::AsyncWorker {
 public:
  CollectiveWorker(Napi::Env env, Pending pending)
      : Napi::AsyncWorker(env, "clusterfit:collective"),
        deferred_(Napi::Promise::Deferred::New(env)),
        pending_(std::move(pending)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      pending_.wait();
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(resultsToJs(Env(), pending_)); }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Pending pending_;
};

// Blocks (info[last] === false) or returns a Promise (true).
Napi::Value finish(const Napi::CallbackInfo& info, Pending pending, bool async) {
  if (!async) {
    pending.wait();
    return resultsToJs(info.Env(), pending);
  }
  auto* worker = new CollectiveWorker(info.Env(), std::move(pending));
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

std::vector<at::Tensor> tensorList(const Napi::Value& value, const char* what) {
  if (!value.IsArray()) throw Napi::TypeError::New(value.Env(), std::string(what) + " must be an array of Tensors");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) out.push_back(unwrapTensor(array.Get(i), what));
  return out;
}

std::chrono::milliseconds msArg(const Napi::Value& v) {
  return std::chrono::milliseconds(static_cast<int64_t>(v.As<Napi::Number>().Int64Value()));
}

// distInit(backend, rank, worldSize, masterAddr, masterPort, timeoutMs, rendezvousTimeoutMs): the
// rendezvous may wait longer than a collective (ranks start at different times on a busy machine).
Napi::Value distInit(const Napi::CallbackInfo& info) {
  std::string backend = info[0].As<Napi::String>().Utf8Value();
  int rank = info[1].As<Napi::Number>().Int32Value();
  int size = info[2].As<Napi::Number>().Int32Value();
  std::string host = info[3].As<Napi::String>().Utf8Value();
  int port = info[4].As<Napi::Number>().Int32Value();
  auto timeout = msArg(info[5]);
  auto rendezvousTimeout = msArg(info[6]);
  {
    std::lock_guard<std::mutex> lock(groupMutex);
    if (currentGroup) throw std::runtime_error("distributed.initProcessGroup: the process group is already initialized");
  }
  auto g = std::make_shared<Group>();
  g->backend = backend;
  g->rank = rank;
  g->size = size;
  std::string where = "rendezvous at " + host + ":" + std::to_string(port);
  auto deadline = std::chrono::steady_clock::now() + rendezvousTimeout;
  g->store = named(*g, where, [&] { return dist::makeStore(host, port, rank == 0, size, rendezvousTimeout); });
  named(*g, where, [&] { dist::waitForRanks(*g->store, rank, size, deadline, rendezvousTimeout); });
  g->pg = named(*g, "creating the " + backend + " process group",
                [&] { return dist::makeProcessGroup(backend, g->store, rank, size, timeout); });
  std::lock_guard<std::mutex> lock(groupMutex);
  currentGroup = g;
  return info.Env().Undefined();
}

Napi::Value distDestroy(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(groupMutex);
  currentGroup.reset();
  return info.Env().Undefined();
}

Napi::Value distIsInitialized(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(groupMutex);
  return Napi::Boolean::New(info.Env(), static_cast<bool>(currentGroup));
}

// distAllReduce(tensor, op, async)
Napi::Value distAllReduce(const Napi::CallbackInfo& info) {
  Pending p{group("allReduce"), "allReduce"};
  std::string op = info[1].As<Napi::String>().Utf8Value();
  c10d::AllreduceOptions options;
  options.reduceOp = reduceOpOf(op);
  p.average = op == "avg";
  p.inPlace.emplace_back(unwrapTensor(info[0], "allReduce tensor"));
  std::vector<at::Tensor> tensors{p.inPlace[0].buffer};
  p.work = named(*p.group, p.op, [&] { return p.group->pg->allreduce(tensors, options); });
  return finish(info, std::move(p), info[2].ToBoolean().Value());
}

// distBroadcast(tensor, src, async)
Napi::Value distBroadcast(const Napi::CallbackInfo& info) {
  Pending p{group("broadcast"), "broadcast"};
  c10d::BroadcastOptions options;
  options.rootRank = info[1].As<Napi::Number>().Int32Value();
  p.inPlace.emplace_back(unwrapTensor(info[0], "broadcast tensor"));
  std::vector<at::Tensor> tensors{p.inPlace[0].buffer};
  p.work = named(*p.group, p.op, [&] { return p.group->pg->broadcast(tensors, options); });
  return finish(info, std::move(p), info[2].ToBoolean().Value());
}

// distAllGather(tensor, async) -> Tensor[] (one per rank, rank order)
Napi::Value distAllGather(const Napi::CallbackInfo& info) {
  Pending p{group("allGather"), "allGather"};
  at::Tensor input = unwrapTensor(info[0], "allGather tensor").contiguous();
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int r = 0; r < p.group->size; ++r) outputs[0].push_back(at::empty_like(input));
  std::vector<at::Tensor> inputs{input};
  p.results = outputs[0];
  p.work = named(*p.group, p.op, [&] { return p.group->pg->allgather(outputs, inputs); });
  return finish(info, std::move(p), info[1].ToBoolean().Value());
}

// distReduceScatter(output, inputs[], op): output = reduce(inputs[rank] of every rank). Gloo has
// no reduce-scatter in every version, so there it is an all-reduce of the stacked inputs.
Napi::Value distReduceScatter(const Napi::CallbackInfo& info) {
  Pending p{group("reduceScatter"), "reduceScatter"};
  at::Tensor output = unwrapTensor(info[0], "reduceScatter output");
  std::vector<at::Tensor> inputs = tensorList(info[1], "reduceScatter inputs");
  std::string op = info[2].As<Napi::String>().Utf8Value();
  if (static_cast<int>(inputs.size()) != p.group->size) {
    throw std::invalid_argument("distributed.reduceScatter: expected one input per rank (" +
                                std::to_string(p.group->size) + "), got " + std::to_string(inputs.size()));
  }
  for (const auto& t : inputs) {
    if (!t.sizes().equals(output.sizes())) {
      throw std::invalid_argument("distributed.reduceScatter: every input must have the output's shape");
    }
  }
  p.average = op == "avg";
  if (p.group->backend == "nccl") {
    c10d::ReduceScatterOptions options;
    options.reduceOp = reduceOpOf(op);
    p.inPlace.emplace_back(output);
    std::vector<at::Tensor> outs{p.inPlace[0].buffer};
    std::vector<std::vector<at::Tensor>> ins{inputs};
    p.work = named(*p.group, p.op, [&] { return p.group->pg->reduce_scatter(outs, ins, options); });
    p.wait();
    return info.Env().Undefined();
  }
  c10d::AllreduceOptions options;
  options.reduceOp = reduceOpOf(op);
  std::vector<at::Tensor> stacked{at::stack(inputs)};
  p.work = named(*p.group, p.op, [&] { return p.group->pg->allreduce(stacked, options); });
  p.wait();
  InPlace mine(output);
  mine.buffer.copy_(stacked[0][p.group->rank]);
  mine.finish(p.average, p.group->size);
  return info.Env().Undefined();
}

// distBarrier(async)
Napi::Value distBarrier(const Napi::CallbackInfo& info) {
  Pending p{group("barrier"), "barrier"};
  p.work = named(*p.group, p.op, [&] { return p.group->pg->barrier(); });
  return finish(info, std::move(p), info[0].ToBoolean().Value());
}

// distBroadcastCoalesced(tensors[], src, bufferBytes): DDP's module-state sync, in flat buffers.
Napi::Value distBroadcastCoalesced(const Napi::CallbackInfo& info) {
  auto g = group("broadcastCoalesced");
  std::vector<at::Tensor> tensors = tensorList(info[0], "broadcastCoalesced tensors");
  int src = info[1].As<Napi::Number>().Int32Value();
  auto bufferBytes = static_cast<size_t>(info[2].As<Napi::Number>().Int64Value());
  if (tensors.empty()) return info.Env().Undefined();
  named(*g, "broadcastCoalesced", [&] {
    // Module state is updated in place, so autograd must not see these writes.
    at::NoGradGuard noGrad;
    c10d::broadcast_coalesced(g->pg, tensors, bufferBytes, src);
    return 0;
  });
  return info.Env().Undefined();
}

// ---- DDP --------------------------------------------------------------------------------------

struct DdpState {
  std::shared_ptr<Group> group;
  std::unique_ptr<c10d::Reducer> reducer;
};
std::map<int, DdpState> reducers;
int nextReducerId = 1;

DdpState& reducerOf(const Napi::Value& id) {
  auto it = reducers.find(id.As<Napi::Number>().Int32Value());
  if (it == reducers.end()) throw std::runtime_error("DistributedDataParallel: this wrapper was destroyed");
  return it->second;
}

// ddpCreate(params[], bucketBytesCap, firstBucketBytesCap, findUnusedParameters) -> id
Napi::Value ddpCreate(const Napi::CallbackInfo& info) {
  auto g = group("DistributedDataParallel");
  std::vector<at::Tensor> params = tensorList(info[0], "DistributedDataParallel parameters");
  auto cap = static_cast<int64_t>(info[1].As<Napi::Number>().Int64Value());
  auto firstCap = static_cast<int64_t>(info[2].As<Napi::Number>().Int64Value());
  bool findUnused = info[3].ToBoolean().Value();
  if (params.empty()) throw std::invalid_argument("DistributedDataParallel: the module has no parameters to train");
  DdpState state{g, nullptr};
  state.reducer = named(*g, "DistributedDataParallel setup", [&] {
    std::vector<bool> expectSparse(params.size(), false);
    std::vector<size_t> limits{static_cast<size_t>(firstCap), static_cast<size_t>(cap)};
    auto assignment = c10d::compute_bucket_assignment_by_size(params, limits, expectSparse);
    auto buckets = std::get<0>(assignment);
    auto perBucketLimits = std::get<1>(assignment);
    // Gradients arrive roughly in reverse order of definition, so buckets are reduced that way,
    // as PyTorch's DDP does.
    std::reverse(buckets.begin(), buckets.end());
    std::reverse(perBucketLimits.begin(), perBucketLimits.end());
    return dist::makeReducer(params, buckets, perBucketLimits, g->pg, cap, findUnused, firstCap);
  });
  int id = nextReducerId++;
  reducers.emplace(id, std::move(state));
  return Napi::Number::New(info.Env(), id);
}

// ddpPrepareForward(id, syncGradients) -> whether the buckets were rebuilt
Napi::Value ddpPrepareForward(const Napi::CallbackInfo& info) {
  DdpState& s = reducerOf(info[0]);
  bool sync = info[1].ToBoolean().Value();
  bool rebuilt = named(*s.group, "DistributedDataParallel forward", [&] {
    if (sync) s.reducer->prepare_for_forward();
    // After the first backward the Reducer knows the order gradients arrive in and re-buckets
    // once (a broadcast from rank 0, so every rank agrees).
    return s.reducer->rebuild_buckets();
  });
  return Napi::Boolean::New(info.Env(), rebuilt);
}

// ddpPrepareBackward(id, outputs[]): outputs are searched for unused parameters when enabled.
Napi::Value ddpPrepareBackward(const Napi::CallbackInfo& info) {
  DdpState& s = reducerOf(info[0]);
  std::vector<at::Tensor> outputs = tensorList(info[1], "DistributedDataParallel outputs");
  named(*s.group, "DistributedDataParallel forward", [&] {
    s.reducer->prepare_for_backward(outputs);
    return 0;
  });
  return info.Env().Undefined();
}

Napi::Value ddpDestroy(const Napi::CallbackInfo& info) {
  reducers.erase(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

// ---- SyncBatchNorm ----------------------------------------------------------------------------

// Batch norm whose statistics cover the batch of every rank. Forward all-gathers each rank's
// (mean, variance or invstd, count) and combines them; backward all-reduces the two per-channel
// sums the input gradient needs. Weight and bias gradients stay local: DDP averages them. On CUDA
// it uses PyTorch's own SyncBatchNorm kernels; elsewhere the same math in generic ops.
struct SyncBatchNormFunction : public torch::autograd::Function<SyncBatchNormFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input, const at::Tensor& weight,
                            const at::Tensor& bias, const at::Tensor& runningMean, const at::Tensor& runningVar,
                            double momentum, double eps) {
    auto g = group("SyncBatchNorm");
    at::Tensor x = input.contiguous();
    const int64_t channels = x.size(1);
    const int64_t count = x.numel() / channels;
    std::vector<int64_t> shape(x.dim(), 1);
    shape[1] = channels;
    at::Tensor mean, invstd;
    at::Tensor counts;
    if (x.is_cuda()) {
      auto stats = at::batch_norm_stats(x, eps);
      at::Tensor local = at::cat({std::get<0>(stats), std::get<1>(stats),
                                  at::full({1}, static_cast<double>(count), std::get<0>(stats).options())});
      at::Tensor all = gatherStats(*g, local);
      counts = all.select(1, 2 * channels);
      auto combined = at::batch_norm_gather_stats_with_counts(x, all.narrow(1, 0, channels),
                                                              all.narrow(1, channels, channels), runningMean,
                                                              runningVar, momentum, eps, counts);
      mean = std::get<0>(combined);
      invstd = std::get<1>(combined);
    } else {
      std::vector<int64_t> dims;
      for (int64_t d = 0; d < x.dim(); ++d) {
        if (d != 1) dims.push_back(d);
      }
      at::Tensor xf = x.to(at::kFloat);
      auto varMean = at::var_mean(xf, dims, /*unbiased=*/false, /*keepdim=*/false);
      at::Tensor local = at::cat({std::get<1>(varMean), std::get<0>(varMean),
                                  at::full({1}, static_cast<double>(count), xf.options())});
      at::Tensor all = gatherStats(*g, local);  // [world, 2C+1]
      counts = all.select(1, 2 * channels);
      at::Tensor n = counts.unsqueeze(1);
      at::Tensor total = counts.sum();
      at::Tensor means = all.narrow(1, 0, channels);
      at::Tensor vars = all.narrow(1, channels, channels);
      mean = (means * n).sum(0) / total;
      // Each rank's variance about the global mean: its own plus the shift of its mean.
      at::Tensor var = ((vars + (means - mean).pow(2)) * n).sum(0) / total;
      invstd = (var + eps).rsqrt();
      if (runningMean.defined()) runningMean.mul_(1 - momentum).add_(mean.to(runningMean.dtype()), momentum);
      if (runningVar.defined()) {
        at::Tensor unbiased = var * total / (total - 1);
        runningVar.mul_(1 - momentum).add_(unbiased.to(runningVar.dtype()), momentum);
      }
    }
    at::Tensor output;
    if (x.is_cuda()) {
      output = at::batch_norm_elemt(x, weight, bias, mean, invstd, eps);
    } else {
      at::Tensor scale = invstd.to(x.dtype());
      if (weight.defined()) scale = scale * weight;
      at::Tensor shift = -mean.to(x.dtype()) * scale;
      if (bias.defined()) shift = shift + bias;
      output = x * scale.view(shape) + shift.view(shape);
    }
    ctx->save_for_backward({x, weight, mean, invstd, counts});
    return output;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list gradOutputs) {
    auto g = group("SyncBatchNorm backward");
    auto saved = ctx->get_saved_variables();
    at::Tensor x = saved[0], weight = saved[1], mean = saved[2], invstd = saved[3], counts = saved[4];
    at::Tensor dy = gradOutputs[0].contiguous();
    const int64_t channels = x.size(1);
    std::vector<int64_t> shape(x.dim(), 1);
    shape[1] = channels;
    at::Tensor gradInput, gradWeight, gradBias;
    if (x.is_cuda()) {
      auto reduced = at::batch_norm_backward_reduce(dy, x, mean, invstd, weight, true, weight.defined(),
                                                    weight.defined());
      at::Tensor sums = at::cat({std::get<0>(reduced), std::get<1>(reduced)});
      allReduceSum(*g, sums);
      gradInput = at::batch_norm_backward_elemt(dy, x, mean, invstd, weight, sums.narrow(0, 0, channels),
                                                sums.narrow(0, channels, channels), counts.to(at::kInt));
      gradWeight = std::get<2>(reduced);
      gradBias = std::get<3>(reduced);
    } else {
      std::vector<int64_t> dims;
      for (int64_t d = 0; d < x.dim(); ++d) {
        if (d != 1) dims.push_back(d);
      }
      at::Tensor xmu = x - mean.to(x.dtype()).view(shape);
      at::Tensor sumDy = dy.sum(dims).to(at::kFloat);
      at::Tensor sumDyXmu = (dy * xmu).sum(dims).to(at::kFloat);
      if (weight.defined()) {
        gradWeight = (sumDyXmu * invstd).to(weight.dtype());
        gradBias = sumDy.to(weight.dtype());
      }
      at::Tensor sums = at::cat({sumDy, sumDyXmu});
      allReduceSum(*g, sums);
      at::Tensor total = counts.sum();
      at::Tensor meanDy = sums.narrow(0, 0, channels) / total;
      at::Tensor meanDyXmu = sums.narrow(0, channels, channels) / total;
      at::Tensor scale = invstd;
      if (weight.defined()) scale = scale * weight.to(at::kFloat);
      at::Tensor projection = (meanDyXmu * invstd * invstd).to(x.dtype()).view(shape);
      gradInput = (dy - meanDy.to(x.dtype()).view(shape) - xmu * projection) * scale.to(x.dtype()).view(shape);
    }
    return {gradInput, gradWeight, gradBias, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }

  static at::Tensor gatherStats(const Group& g, const at::Tensor& local) {
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int r = 0; r < g.size; ++r) outputs[0].push_back(at::empty_like(local));
    std::vector<at::Tensor> inputs{local};
    named(g, "SyncBatchNorm statistics all-gather", [&] {
      g.pg->allgather(outputs, inputs)->wait();
      return 0;
    });
    return at::stack(outputs[0]);
  }

  static void allReduceSum(const Group& g, at::Tensor& t) {
    std::vector<at::Tensor> tensors{t};
    named(g, "SyncBatchNorm gradient all-reduce", [&] {
      g.pg->allreduce(tensors)->wait();
      return 0;
    });
  }
};

// syncBatchNorm(input, weight|null, bias|null, runningMean|null, runningVar|null, momentum, eps)
Napi::Value syncBatchNorm(const Napi::CallbackInfo& info) {
  auto optional = [&](size_t i, const char* what) {
    return info[i].IsNull() || info[i].IsUndefined() ? at::Tensor() : unwrapTensor(info[i], what);
  };
  at::Tensor input = unwrapTensor(info[0], "SyncBatchNorm input");
  at::Tensor weight = optional(1, "SyncBatchNorm weight");
  at::Tensor bias = optional(2, "SyncBatchNorm bias");
  at::Tensor runningMean = optional(3, "SyncBatchNorm running_mean");
  at::Tensor runningVar = optional(4, "SyncBatchNorm running_var");
  double momentum = info[5].As<Napi::Number>().DoubleValue();
  double eps = info[6].As<Napi::Number>().DoubleValue();
  if (input.dim() < 2) throw std::invalid_argument("SyncBatchNorm: expected an input with a channel dimension");
  at::Tensor out = SyncBatchNormFunction::apply(input, weight, bias, runningMean, runningVar, momentum, eps);
  return wrapTensor(info.Env(), out);
}

Napi::Value distUnavailableReason(const Napi::CallbackInfo& info) { return info.Env().Null(); }

#else  // no c10d in this build: every entry point says why

Napi::Value unavailable(const Napi::CallbackInfo& info) {
  throw Napi::Error::New(info.Env(), std::string("distributed: ") + CF_C10D_UNAVAILABLE);
}
Napi::Value distIsInitialized(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), false); }
Napi::Value distDestroy(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }
Napi::Value distUnavailableReason(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), CF_C10D_UNAVAILABLE);
}
#define distInit unavailable
#define distAllReduce unavailable
#define distBroadcast unavailable
#define distAllGather unavailable
#define distReduceScatter unavailable
#define distBarrier unavailable
#define distBroadcastCoalesced unavailable
#define ddpCreate unavailable
#define ddpPrepareForward unavailable
#define ddpPrepareBackward unavailable
#define ddpDestroy unavailable
#define syncBatchNorm unavailable

#endif  // CF_WITH_C10D

}  // namespace

// What the build's probes found, for buildInfo().distributed.
Napi::Object distributedBuildInfo(Napi::Env env) {
  Napi::Object out = Napi::Object::New(env);
  Napi::Array backends = Napi::Array::New(env);
  [[maybe_unused]] uint32_t n = 0;  // unused when no backend is compiled in
#ifdef CF_HAS_C10D_GLOO
  backends.Set(n++, "gloo");
#endif
#ifdef CF_HAS_C10D_NCCL
  backends.Set(n++, "nccl");
#endif
  out.Set("backends", backends);
#ifdef CF_WITH_C10D
  out.Set("unavailableReason", env.Null());
  out.Set("reducerConstructor", CF_REDUCER_CTOR);
#else
  out.Set("unavailableReason", CF_C10D_UNAVAILABLE);
#endif
#ifdef CF_PG_IS_BACKEND
  out.Set("processGroupIsBackend", true);
#else
  out.Set("processGroupIsBackend", false);
#endif
#ifdef CF_PG_HAS_OPTIONS
  out.Set("processGroupHasOptions", true);
#else
  out.Set("processGroupHasOptions", false);
#endif
#ifdef CF_TCPSTORE_HAS_LIBUV
  out.Set("tcpStoreHasLibuv", true);
#else
  out.Set("tcpStoreHasLibuv", false);
#endif
  return out;
}

void registerDistributedFunctions(Napi::Env env, Napi::Object exports) {
  exportFunction<cudaSetDevice>(env, exports, "cudaSetDevice");
  exportFunction<distUnavailableReason>(env, exports, "distUnavailableReason");
  exportFunction<distInit>(env, exports, "distInit");
  exportFunction<distDestroy>(env, exports, "distDestroy");
  exportFunction<distIsInitialized>(env, exports, "distIsInitialized");
  exportFunction<distAllReduce>(env, exports, "distAllReduce");
  exportFunction<distBroadcast>(env, exports, "distBroadcast");
  exportFunction<distAllGather>(env, exports, "distAllGather");
  exportFunction<distReduceScatter>(env, exports, "distReduceScatter");
  exportFunction<distBarrier>(env, exports, "distBarrier");
  exportFunction<distBroadcastCoalesced>(env, exports, "distBroadcastCoalesced");
  exportFunction<ddpCreate>(env, exports, "ddpCreate");
  exportFunction<ddpPrepareForward>(env, exports, "ddpPrepareForward");
  exportFunction<ddpPrepareBackward>(env, exports, "ddpPrepareBackward");
  exportFunction<ddpDestroy>(env, exports, "ddpDestroy");
  exportFunction<syncBatchNorm>(env, exports, "syncBatchNorm");
}

}  // namespace cf
