#pragma once
// Private: reading and writing muft checkpoint datasets, shared by
// checkpoint.cpp (read_checkpoint / write_checkpoint) and the muft-HDF5
// TensorSource. Callers hold an Hdf5Lock.

#include <string>
#include <vector>

#include "hdf5_util.h"
#include "muft/checkpoint/checkpoint.h"

namespace muft::checkpoint::detail {

/// Name and version stored in the root attribute `muft_format`.
inline constexpr const char* kFormatName = "muft-checkpoint";
inline constexpr int kFormatVersion = 1;

/// Checks the root attribute `muft_format` of an open file; throws with a
/// one-line reason when absent, malformed or of a newer major version.
void check_muft_format(hid_t file, const std::string& path);

/// Element type of a tensor dataset written by muft: its `dtype` attribute,
/// cross-checked against the stored HDF5 type (inferred when the attribute is absent).
DType muft_dataset_dtype(hid_t dset, const std::string& path, const std::string& what);

/// Reads one dataset of a muft group back into raw bytes.
NamedTensor read_muft_dataset(hid_t group, const std::string& link, const std::string& path,
                              const std::string& group_name);

/// Writes one tensor as dataset `escape_link_name(t.name)` of group.
void write_muft_dataset(hid_t group, const NamedTensor& t, const std::string& path,
                        const std::string& group_name);

}  // namespace muft::checkpoint::detail
