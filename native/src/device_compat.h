// The one place where the autocast and CUDA-allocator natives (amp.cc, cuda.cc) straddle libtorch
// versions. PyTorch 2.4 replaced the per-device autocast functions (set_cpu_enabled,
// set_autocast_gpu_dtype, ...) by ones taking a DeviceType and deprecated the old names; newer
// releases drop them. Everything else these natives use (Context's cuDNN/TF32 switches, the
// caching allocator's inline wrappers) kept its name from 1.13 to 2.x.
#pragma once

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define CLUSTERFIT_AUTOCAST_BY_DEVICE_TYPE 1
#endif

namespace cf {
namespace compat {

inline bool autocastEnabled(at::DeviceType device) {
#ifdef CLUSTERFIT_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::is_autocast_enabled(device);
#else
  return device == at::kCPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}

inline void setAutocastEnabled(at::DeviceType device, bool enabled) {
#ifdef CLUSTERFIT_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_enabled(device, enabled);
#else
  if (device == at::kCPU) {
    at::autocast::set_cpu_enabled(enabled);
  } else {
    at::autocast::set_enabled(enabled);
  }
#endif
}

inline at::ScalarType autocastDtype(at::DeviceType device) {
#ifdef CLUSTERFIT_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::get_autocast_dtype(device);
#else
  return device == at::kCPU ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
#endif
}

inline void setAutocastDtype(at::DeviceType device, at::ScalarType dtype) {
#ifdef CLUSTERFIT_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_dtype(device, dtype);
#else
  if (device == at::kCPU) {
    at::autocast::set_autocast_cpu_dtype(dtype);
  } else {
    at::autocast::set_autocast_gpu_dtype(dtype);
  }
#endif
}

}  // namespace compat
}  // namespace cf
