#pragma once
// Private: a guard in front of HDF5's global heap. HDF5 1.10.8 keeps the values of
// variable-length strings (every string attribute muft writes) in "global heap collections"
// and decodes a damaged collection into an endless loop (a free-space object of size 0) or a
// copy far out of bounds (an object larger than its collection) — found by fuzzing
// (tests/fuzz/hdf5_fuzz.cpp; inputs in tests/fuzz/corpus/hdf5/). The readers of muft
// checkpoints run this check before HDF5 reads any string of the file.

#include <cstddef>
#include <string>

namespace muft::checkpoint::detail {

/// Throws std::runtime_error naming `path` and the offset when the file image holds a global
/// heap collection (signature "GCOL", version 1) whose objects HDF5 could not walk safely:
/// an object of size 0, or objects running past the end of the collection or of the file.
void check_global_heaps(const unsigned char* data, std::size_t size, const std::string& path);
/// The same for a file on disk (memory-mapped read-only); a file that cannot be mapped is left
/// to HDF5's own open, which reports it.
void check_global_heaps_file(const std::string& path);

}  // namespace muft::checkpoint::detail
