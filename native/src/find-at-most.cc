// findAtMost_(values, decrease, limit, skip): subtracts decrease[j] from every values[i][j] in
// place and lists the entries that are then at most limit[i], except column skip[i], as flat
// indices i * K + j in row-major order. It is nonzero((values -= decrease) <= limit[:, None]) with
// one column per row left out, fused into one pass.
//
// Why a hand-written kernel: per-centroid k-means bounds (src/cluster/elkan.ts) keep an N x K
// matrix that every iteration lowers, compares and scans while only 1-6% of it is listed. As
// separate ATen ops (sub_, le, scatter_, sum, nonzero, then a row minimum) that is six passes over
// N x K; the bookkeeping then outweighed the distances it spared at d = 256 (synthetic 100k x 256,
// K = 1000: 0.29 s an iteration against 0.16 s for one bound per point). This is one read and one
// write of each entry, 16 at a time.
#include "common.h"
#include "cpu-kernels.h"

#include <cstdint>
#include <string>
#include <vector>

namespace cf {
namespace {

CF_MULTIVERSION void findAtMostRows(float* values, int64_t k, const float* decrease, const float* limit,
                                    const int64_t* skip, int64_t begin, int64_t end, std::vector<int64_t>& found) {
  constexpr int64_t width = 16;
  for (int64_t i = begin; i < end; ++i) {
    float* row = values + i * k;
    const float bound = limit[i];
    Lanes boundLanes = bound - Lanes{};
    int64_t j = 0;
    for (; j + width <= k; j += width) {
      Lanes v, dec;
      CF_LOAD(v, row + j);
      CF_LOAD(dec, decrease + j);
      v -= dec;
      CF_STORE(row + j, v);
      // Nearly every block has no entry at most the bound: test all 16 at once.
      auto below = v <= boundLanes;
      int any = 0;
      for (int64_t l = 0; l < width; ++l) any |= below[l];
      if (any) {
        for (int64_t l = 0; l < width; ++l) {
          if (below[l] && j + l != skip[i]) found.push_back(i * k + j + l);
        }
      }
    }
    for (; j < k; ++j) {
      row[j] -= decrease[j];
      if (row[j] <= bound && j != skip[i]) found.push_back(i * k + j);
    }
  }
}

void check(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument("findAtMost_: " + message);
}

Napi::Value findAtMost(const Napi::CallbackInfo& info) {
  // Copies: each unwrap may invalidate the reference the previous one returned.
  const at::Tensor values = unwrapTensor(info[0], "findAtMost_ values");
  const at::Tensor decrease = unwrapTensor(info[1], "findAtMost_ decrease").contiguous();
  const at::Tensor limit = unwrapTensor(info[2], "findAtMost_ limit").contiguous();
  const at::Tensor skip = unwrapTensor(info[3], "findAtMost_ skip").contiguous();
  check(values.dim() == 2 && values.scalar_type() == at::kFloat && values.device().is_cpu() && values.is_contiguous(),
        "values must be a contiguous 2-d float32 CPU tensor");
  check(!values.requires_grad(), "values must not require grad (it is changed in place)");
  const int64_t n = values.size(0), k = values.size(1);
  auto isVector = [](const at::Tensor& t, at::ScalarType type, int64_t length) {
    return t.dim() == 1 && t.scalar_type() == type && t.device().is_cpu() && t.size(0) == length;
  };
  check(isVector(decrease, at::kFloat, k), "decrease must be a float32 CPU vector of " + std::to_string(k) + " (columns)");
  check(isVector(limit, at::kFloat, n), "limit must be a float32 CPU vector of " + std::to_string(n) + " (rows)");
  check(isVector(skip, at::kLong, n), "skip must be an int64 CPU vector of " + std::to_string(n) + " (rows)");
  float* pv = values.data_ptr<float>();
  const float* pd = decrease.data_ptr<float>();
  const float* pl = limit.data_ptr<float>();
  const int64_t* ps = skip.data_ptr<int64_t>();
  std::vector<std::vector<int64_t>> found(std::max(1, at::get_num_threads()));
  // Each thread's rows at least 256K entries.
  splitAcrossThreads(n, (int64_t{1} << 18) / std::max<int64_t>(1, k), [&](int64_t part, int64_t parts) {
    findAtMostRows(pv, k, pd, pl, ps, n * part / parts, n * (part + 1) / parts, found[part]);
  });
  size_t total = 0;
  for (const auto& some : found) total += some.size();
  at::Tensor out = at::empty({static_cast<int64_t>(total)}, at::kLong);
  int64_t* po = out.data_ptr<int64_t>();
  for (const auto& some : found) po = std::copy(some.begin(), some.end(), po);
  // The write bypassed ATen: tell autograd the tensor changed, as an in-place op would.
  values.unsafeGetTensorImpl()->bump_version();
  return wrapTensor(info.Env(), out);
}

}  // namespace

void registerFindAtMostFunctions(Napi::Env env, Napi::Object exports) {
  exportFunction<findAtMost>(env, exports, "findAtMost_");
}

}  // namespace cf
