// libtorch's CPU allocator, counted: see cpu-allocator.cc.
#pragma once

#include <cstdint>

namespace cf {

// Installs the counting allocator as libtorch's CPU allocator (once; later calls do nothing).
void installCountingCpuAllocator();

// Bytes currently allocated through it, by every thread: tensors, autograd's saved activations,
// optimizer state, temporaries of running kernels.
int64_t countedCpuBytes();

// Bytes ever allocated through it: the allocation churn that R's torch measures its GC budget in.
double cpuBytesEverAllocated();

}  // namespace cf
