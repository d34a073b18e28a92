// Stand-in for the distributed-autograd header that c10d/reducer.hpp includes. Debian's
// libtorch-dev does not ship torch/csrc/distributed/autograd/, and reducer.hpp needs only two
// names from it: ContextPtr (held as a shared_ptr, so the Reducer's layout does not depend on
// the pointee) and DistAutogradContext::GradCallback (checked in a static_assert). The build adds
// this folder to the include path only where the real header is missing (see build-native.mjs).
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>

namespace torch {
namespace distributed {
namespace autograd {

class DistAutogradContext {
 public:
  using GradCallback = std::function<bool(at::Tensor&)>;
};

using ContextPtr = std::shared_ptr<DistAutogradContext>;

}  // namespace autograd
}  // namespace distributed
}  // namespace torch
