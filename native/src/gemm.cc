// A float32 matrix product on CPU through oneDNN's sgemm, for the few places where one GEMM is
// nearly all of the time (e.g. nearest-neighbour distances), and which kernels the system BLAS runs.
//
// Why not aten::addmm: on CPU it calls the system BLAS, and OpenBLAS picks its kernels from the
// CPU model it recognises. On virtual machines with a generic model name it falls back to its
// oldest (SSE3 "Prescott") kernels: measured on a 2-core AVX-512 Xeon VM, 30-45 GFLOP/s against
// 200-250 GFLOP/s for oneDNN's sgemm, which picks its kernels from the instruction set (cpuid)
// instead. libtorch carries oneDNN for its convolutions (Debian's links libdnnl.so.2), so the
// function is looked up at run time: the addon builds and runs without it, and callers fall back
// to addmm_ when it is missing.
#include "common.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdint>
#include <string>

namespace cf {
namespace {

// dnnl_sgemm from oneDNN's C API (dnnl.h), unchanged from oneDNN 1.0 to 3.x: row-major
// C = alpha * op(A) * op(B) + beta * C, 'N' or 'T' per operand, returning dnnl_success (0).
using Sgemm = int (*)(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                      int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

Sgemm findSgemm() {
  // Node loads addons without RTLD_GLOBAL, so libtorch's dependencies are not in the global
  // scope: ask for the already-loaded library by name first (RTLD_NOLOAD never loads anything).
  for (const char* library : {"libdnnl.so.3", "libdnnl.so.2", "libdnnl.so.1"}) {
    if (void* handle = dlopen(library, RTLD_LAZY | RTLD_NOLOAD)) {
      if (void* symbol = dlsym(handle, "dnnl_sgemm")) return reinterpret_cast<Sgemm>(symbol);
    }
  }
  return reinterpret_cast<Sgemm>(dlsym(RTLD_DEFAULT, "dnnl_sgemm"));
}

Sgemm sgemm() {
  static const Sgemm found = findSgemm();
  return found;
}

// How a 2-d float32 tensor is laid out for a row-major GEMM: as itself ('N') or as the
// transpose of a row-major matrix ('T'), with its leading dimension. False when it is neither.
bool rowMajorLayout(const at::Tensor& t, char& trans, int64_t& ld) {
  if (t.stride(1) == 1 && t.stride(0) >= std::max<int64_t>(1, t.size(1))) {
    trans = 'N';
    ld = t.stride(0);
    return true;
  }
  if (t.stride(0) == 1 && t.stride(1) >= std::max<int64_t>(1, t.size(0))) {
    trans = 'T';
    ld = t.stride(1);
    return true;
  }
  return false;
}

// fastAddmm_(self, mat1, mat2, beta, alpha) -> boolean: self = beta * self + alpha * mat1 @ mat2
// with oneDNN, or false (self untouched) when that does not apply: no oneDNN, not CPU float32
// matrices, a layout sgemm cannot take, or autograd would be needed.
Napi::Value fastAddmm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Sgemm gemm = sgemm();
  if (gemm == nullptr) return Napi::Boolean::New(env, false);
  // Copies: each unwrap may invalidate the reference the previous one returned.
  const at::Tensor self = unwrapTensor(info[0], "fastAddmm_ self");
  const at::Tensor a = unwrapTensor(info[1], "fastAddmm_ mat1");
  const at::Tensor b = unwrapTensor(info[2], "fastAddmm_ mat2");
  const float beta = info[3].As<Napi::Number>().FloatValue();
  const float alpha = info[4].As<Napi::Number>().FloatValue();
  for (const at::Tensor* t : {&self, &a, &b}) {
    if (t->dim() != 2 || t->scalar_type() != at::kFloat || !t->device().is_cpu() || t->requires_grad() ||
        t->numel() == 0) {
      return Napi::Boolean::New(env, false);
    }
  }
  const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  if (b.size(0) != k || self.size(0) != m || self.size(1) != n) return Napi::Boolean::New(env, false);
  char transA, transB, transC;
  int64_t lda, ldb, ldc;
  if (!rowMajorLayout(a, transA, lda) || !rowMajorLayout(b, transB, ldb) || !rowMajorLayout(self, transC, ldc) ||
      transC != 'N') {
    return Napi::Boolean::New(env, false);
  }
  int status = gemm(transA, transB, m, n, k, alpha, a.data_ptr<float>(), lda, b.data_ptr<float>(), ldb, beta,
                    self.data_ptr<float>(), ldc);
  if (status != 0) throw Napi::Error::New(env, "fastAddmm_: oneDNN sgemm failed with status " + std::to_string(status));
  // The write bypassed ATen: tell autograd the tensor changed, as an in-place op would.
  self.unsafeGetTensorImpl()->bump_version();
  return Napi::Boolean::New(env, true);
}

Napi::Value hasFastGemm(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), sgemm() != nullptr);
}

// The kernel family OpenBLAS chose for this CPU (openblas_get_corename, e.g. "Haswell"), or
// undefined when libtorch's BLAS is not an OpenBLAS loaded in this process.
Napi::Value blasCoreName(const Napi::CallbackInfo& info) {
  for (const char* library : {"libopenblas.so.0", "libopenblasp.so.0", "libblas.so.3"}) {
    if (void* handle = dlopen(library, RTLD_LAZY | RTLD_NOLOAD)) {
      if (void* symbol = dlsym(handle, "openblas_get_corename")) {
        const char* name = reinterpret_cast<const char* (*)()>(symbol)();
        if (name != nullptr) return Napi::String::New(info.Env(), name);
      }
    }
  }
  return info.Env().Undefined();
}

}  // namespace

void registerGemmFunctions(Napi::Env env, Napi::Object exports) {
  exportFunction<fastAddmm>(env, exports, "fastAddmm_");
  exportFunction<hasFastGemm>(env, exports, "hasFastGemm");
  exportFunction<blasCoreName>(env, exports, "blasCoreName");
}

}  // namespace cf
