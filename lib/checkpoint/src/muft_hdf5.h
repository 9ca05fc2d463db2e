#pragma once
// Private: the dataset-level conventions of muft checkpoints (dtype attribute, escaped link
// names, CRC-32 per dataset), shared by checkpoint.cpp (write/read/verify) and the muft-HDF5
// TensorSource. Callers hold an h5::Lock.

#include <string>
#include <vector>

#include "hdf5_util.h"
#include "muft/checkpoint/checkpoint.h"
#include "muft/checkpoint/hdf5.h"

namespace muft::checkpoint::detail {

/// Name and version stored in the root attribute `muft_format`.
inline constexpr const char* kFormatName = "muft-checkpoint";
inline constexpr int kFormatVersion = 1;
/// Dataset attribute holding the CRC-32 of the dataset's bytes (uint32).
inline constexpr const char* kChecksumAttribute = "crc32";

/// Checks the root attribute `muft_format` of an open file; throws with a
/// one-line reason when absent, malformed or of a newer major version.
void check_muft_format(hid_t file, const std::string& path);

/// Element type of a tensor dataset written by muft: its `dtype` attribute,
/// cross-checked against the stored HDF5 type (inferred when the attribute is absent).
DType muft_dataset_dtype(hid_t dset, const std::string& path, const std::string& what);

/// The stored checksum of a dataset, if it has one.
struct StoredChecksum {
  bool present = false;
  uint32_t value = 0;
};
StoredChecksum read_stored_checksum(hid_t dset, const std::string& path);
/// Throws std::runtime_error naming the file and tensor when `stored` is present and differs
/// from the CRC-32 of the n bytes at data.
void check_checksum(const StoredChecksum& stored, const void* data, std::size_t n,
                    const std::string& path, const std::string& tensor,
                    const std::string& group_name);

/// Reads one dataset of a muft group back into raw bytes and checks its stored checksum;
/// *checked (when given) says whether it had one.
NamedTensor read_muft_dataset(hid_t group, const std::string& link, const std::string& path,
                              const std::string& group_name, bool* checked = nullptr);

/// Throws std::invalid_argument unless t can be written: a name, and as many bytes as its shape
/// and dtype need.
void validate_tensor(const NamedTensor& t, const std::string& path, const std::string& group_name);
/// Writes one (validated) tensor as dataset `escape_link_name(t.name)` of group, with its
/// `dtype` and `crc32` attributes.
void write_muft_dataset(const h5::Group& group, const NamedTensor& t);

/// How much of a checkpoint read_checkpoint_file reads.
enum class ReadMode {
  Metadata,  ///< step, config, metrics
  Full,      ///< everything
  Verify,    ///< every dataset, one at a time, checked and dropped (counts into *check)
};
/// Reads an open muft checkpoint file (`path` for messages).
Checkpoint read_checkpoint_file(hid_t file, const std::string& path, ReadMode mode,
                                CheckpointCheck* check = nullptr);

}  // namespace muft::checkpoint::detail
