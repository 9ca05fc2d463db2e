#pragma once
/// \file hdf5_lock.h
/// The serial HDF5 library is not thread-safe. Every HDF5 call muft makes holds
/// this process-wide mutex: the readers of muft::checkpoint and muft's HDF5
/// layer (hdf5.h, used by every HDF5 writer) take it through h5::Lock. Code that
/// calls HDF5 directly (tests) should take an h5::Lock too when it may run
/// concurrently with a TensorSource read.

#include <mutex>

namespace muft::checkpoint {

/// The one mutex that serializes HDF5 calls in this process (recursive, so a
/// helper may lock it again while its caller holds it).
std::recursive_mutex& hdf5_mutex();

}  // namespace muft::checkpoint
