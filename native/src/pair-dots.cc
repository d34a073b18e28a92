// Dot products of listed row pairs, a[aRows[p]] . b[bRows[p]]: a sampled matrix product (SDDMM)
// for the few places that need a small, scattered part of a @ b^T, e.g. the distances that
// per-centroid bounds cannot rule out in k-means (Elkan).
//
// Why a hand-written kernel: ATen has no fast form of it on CPU. Gathering both rows of every
// pair (index_select, mul, sum) moves two rows of memory per pair, 4-5 GB/s on the 2-core
// benchmark VM, about 0.3 M pairs/s at d = 2048; torch.sparse.sampled_addmm ran 0.85 M pairs/s
// there. This loop reads each b row from cache and keeps the a row in L1 while consecutive pairs
// share it (callers list pairs row by row): 15 M pairs/s at d = 2048 with b from L3, 21 M from L2,
// on those 2 cores (AVX-512), 30-40% of what the same multiply-adds reach in a GEMM, which is why
// callers fall back to a GEMM once a block's pairs pass about a quarter of it.
#include "common.h"
#include "cpu-kernels.h"

#include <cstdint>
#include <string>

namespace cf {
namespace {

// The dot products of one a row x with `count` (1 to 4) b rows: x is loaded once for all of them,
// which matters because loads, not multiply-adds, bound this loop (two loads per multiply-add
// with one b row, 1.25 with four). Each product is summed in the same order whatever `count` is
// (two accumulators, for the even and the odd 16-float blocks, then the scalar tail), so that a
// pair's value does not depend on its neighbours or on how the pairs were split over threads.
template <int count>
__attribute__((always_inline)) inline void dotsOfRow(const float* x, const float* const* y, int64_t d, float* out) {
  constexpr int64_t width = 16;
  Lanes even[count], odd[count];
#pragma GCC unroll 4
  for (int c = 0; c < count; ++c) even[c] = odd[c] = Lanes{};
  int64_t i = 0;
  Lanes u, w, v;
  for (; i + 2 * width <= d; i += 2 * width) {
    CF_LOAD(u, x + i);
    CF_LOAD(w, x + i + width);
#pragma GCC unroll 4
    for (int c = 0; c < count; ++c) {
      CF_LOAD(v, y[c] + i);
      even[c] += u * v;
      CF_LOAD(v, y[c] + i + width);
      odd[c] += w * v;
    }
  }
  if (i + width <= d) {
    CF_LOAD(u, x + i);
#pragma GCC unroll 4
    for (int c = 0; c < count; ++c) {
      CF_LOAD(v, y[c] + i);
      even[c] += u * v;
    }
    i += width;
  }
#pragma GCC unroll 4
  for (int c = 0; c < count; ++c) {
    Lanes total = even[c] + odd[c];
    float sum = 0;
    for (int64_t l = 0; l < width; ++l) sum += total[l];
    for (int64_t j = i; j < d; ++j) sum += x[j] * y[c][j];
    out[c] = sum;
  }
}

// Pairs begin..end: runs of up to four consecutive pairs that share their a row go together.
CF_MULTIVERSION void pairDotsRange(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t d,
                                   const int64_t* aRows, const int64_t* bRows, float* out, int64_t begin,
                                   int64_t end) {
  int64_t p = begin;
  while (p < end) {
    const int64_t row = aRows[p];
    int64_t run = 1;
    while (run < 4 && p + run < end && aRows[p + run] == row) ++run;
    const float* x = a + row * lda;
    const float* y[4];
    for (int64_t c = 0; c < run; ++c) y[c] = b + bRows[p + c] * ldb;
    switch (run) {
      case 4: dotsOfRow<4>(x, y, d, out + p); break;
      case 3: dotsOfRow<3>(x, y, d, out + p); break;
      case 2: dotsOfRow<2>(x, y, d, out + p); break;
      default: dotsOfRow<1>(x, y, d, out + p); break;
    }
    p += run;
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
