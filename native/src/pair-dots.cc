// Dot products of listed row pairs, a[aRows[p]] . b[bRows[p]]: a sampled matrix product (SDDMM)
// for the few places that need a small, scattered part of a @ b^T, e.g. the distances that
// per-centroid bounds cannot rule out in k-means (Elkan).
//
// Why a hand-written kernel: ATen has no fast form of it on CPU. Gathering both rows of every
// pair (index_select, mul, sum) moves two rows of memory per pair, 4-5 GB/s on the 2-core
// benchmark VM, about 0.3 M pairs/s at d = 2048; torch.sparse.sampled_addmm ran 0.85 M pairs/s
// there. This loop reads each b row from cache and keeps the a row in L1 while consecutive pairs
// share it (callers list pairs row by row): 10 M pairs/s at d = 2048 with b from L3, 16 M from L2,
// on those 2 cores (AVX-512), 20-30% of what the same multiply-adds reach in a GEMM, which is why
// callers fall back to a GEMM once a block's pairs pass about a quarter of it.
#include "common.h"
#include "cpu-kernels.h"

#include <cstdint>
#include <string>

namespace cf {
namespace {

// Four independent accumulators (named, so that they stay in registers at -O2), so that
// consecutive fused multiply-adds do not wait on each other.
CF_MULTIVERSION void pairDotsRange(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t d,
                                   const int64_t* aRows, const int64_t* bRows, float* out, int64_t begin,
                                   int64_t end) {
  constexpr int64_t width = 16;
  for (int64_t p = begin; p < end; ++p) {
    const float* x = a + aRows[p] * lda;
    const float* y = b + bRows[p] * ldb;
    Lanes acc0 = {}, acc1 = {}, acc2 = {}, acc3 = {};
    int64_t i = 0;
    Lanes u0, u1, u2, u3, v0, v1, v2, v3;
    for (; i + 4 * width <= d; i += 4 * width) {
      CF_LOAD(u0, x + i);
      CF_LOAD(v0, y + i);
      CF_LOAD(u1, x + i + width);
      CF_LOAD(v1, y + i + width);
      CF_LOAD(u2, x + i + 2 * width);
      CF_LOAD(v2, y + i + 2 * width);
      CF_LOAD(u3, x + i + 3 * width);
      CF_LOAD(v3, y + i + 3 * width);
      acc0 += u0 * v0;
      acc1 += u1 * v1;
      acc2 += u2 * v2;
      acc3 += u3 * v3;
    }
    for (; i + width <= d; i += width) {
      CF_LOAD(u0, x + i);
      CF_LOAD(v0, y + i);
      acc0 += u0 * v0;
    }
    Lanes total = (acc0 + acc1) + (acc2 + acc3);
    float sum = 0;
    for (int64_t l = 0; l < width; ++l) sum += total[l];
    for (; i < d; ++i) sum += x[i] * y[i];
    out[p] = sum;
  }
}

void checkMatrix(const at::Tensor& t, const char* name) {
  if (t.dim() != 2 || t.scalar_type() != at::kFloat || !t.device().is_cpu() || t.stride(1) != 1) {
    throw std::invalid_argument(std::string("pairDots: ") + name +
                                " must be a 2-d float32 CPU tensor with contiguous rows, got " +
                                std::to_string(t.dim()) + "-d " + std::string(c10::toString(t.scalar_type())) +
                                " on " + t.device().str() + " (pass " + name + ".contiguous())");
  }
}

void checkRows(const at::Tensor& rows, int64_t count, const char* name) {
  if (rows.dim() != 1 || rows.scalar_type() != at::kLong || !rows.device().is_cpu()) {
    throw std::invalid_argument(std::string("pairDots: ") + name + " must be a 1-d int64 CPU tensor");
  }
  if (rows.numel() == 0) return;
  auto [low, high] = at::aminmax(rows);
  int64_t lo = low.item<int64_t>(), hi = high.item<int64_t>();
  if (lo < 0 || hi >= count) {
    throw std::out_of_range(std::string("pairDots: ") + name + " holds row " + std::to_string(lo < 0 ? lo : hi) +
                            ", outside 0.." + std::to_string(count - 1));
  }
}

// pairDots(a, b, aRows, bRows) -> float32 tensor of aRows.numel() dot products.
Napi::Value pairDots(const Napi::CallbackInfo& info) {
  // Copies: each unwrap may invalidate the reference the previous one returned.
  const at::Tensor a = unwrapTensor(info[0], "pairDots a");
  const at::Tensor b = unwrapTensor(info[1], "pairDots b");
  const at::Tensor aRows = unwrapTensor(info[2], "pairDots aRows").contiguous();
  const at::Tensor bRows = unwrapTensor(info[3], "pairDots bRows").contiguous();
  checkMatrix(a, "a");
  checkMatrix(b, "b");
  if (a.size(1) != b.size(1)) {
    throw std::invalid_argument("pairDots: a has " + std::to_string(a.size(1)) + " columns and b " +
                                std::to_string(b.size(1)) + "; the rows must have the same length");
  }
  checkRows(aRows, a.size(0), "aRows");
  checkRows(bRows, b.size(0), "bRows");
  if (aRows.numel() != bRows.numel()) {
    throw std::invalid_argument("pairDots: aRows has " + std::to_string(aRows.numel()) + " entries and bRows " +
                                std::to_string(bRows.numel()) + "; give one of each per pair");
  }
  const int64_t count = aRows.numel();
  at::Tensor out = at::empty({count}, a.options());
  const float* pa = a.data_ptr<float>();
  const float* pb = b.data_ptr<float>();
  const int64_t* ia = aRows.data_ptr<int64_t>();
  const int64_t* ib = bRows.data_ptr<int64_t>();
  float* po = out.data_ptr<float>();
  const int64_t d = a.size(1), lda = a.stride(0), ldb = b.stride(0);
  // Each thread's range at least 64K multiply-adds: about what starting a thread costs.
  splitAcrossThreads(count, (int64_t{1} << 16) / std::max<int64_t>(1, d), [&](int64_t part, int64_t parts) {
    pairDotsRange(pa, lda, pb, ldb, d, ia, ib, po, count * part / parts, count * (part + 1) / parts);
  });
  return wrapTensor(info.Env(), out);
}

}  // namespace

void registerPairDotsFunctions(Napi::Env env, Napi::Object exports) {
  exportFunction<pairDots>(env, exports, "pairDots");
}

}  // namespace cf
