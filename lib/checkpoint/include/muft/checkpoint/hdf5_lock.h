#pragma once
/// \file hdf5_lock.h
/// The serial HDF5 library is not thread-safe. Every HDF5 call made by
/// muft::checkpoint holds this process-wide mutex; other modules that call
/// HDF5 directly (result writers, tests) should hold it too when they may run
/// concurrently with a TensorSource read.

#include <mutex>

namespace muft::checkpoint {

/// The one mutex that serializes HDF5 calls in this process (recursive, so a
/// helper may lock it again while its caller holds it).
std::recursive_mutex& hdf5_mutex();

}  // namespace muft::checkpoint
