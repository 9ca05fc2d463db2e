#pragma once
/// \file checkpoint.h
/// muft's own HDF5 checkpoint (layout in docs/formats.md): written by the
/// trainer, read by the trainer (resume), the analyzer and the sweep collector.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "muft/checkpoint/tensor_source.h"

namespace muft::checkpoint {

/// One named tensor held in memory as raw little-endian bytes of its dtype.
struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  DType dtype = DType::F32;
  std::vector<unsigned char> bytes;  ///< numel * dtype_size(dtype) bytes
};

/// Everything a muft checkpoint holds.
struct Checkpoint {
  int64_t step = 0;
  nlohmann::json config = nlohmann::json::object();   ///< full resolved config
  nlohmann::json metrics = nlohmann::json::object();  ///< metrics at this step
  std::vector<NamedTensor> parameters;                ///< model parameters (group /parameters)
  /// Optimizer state (group /optimizer), names like "adam/exp_avg/<param>".
  std::vector<NamedTensor> optimizer_state;
  std::vector<unsigned char> rng_state;  ///< opaque RNG bytes (dataset /rng_state)
  /// Set by read_checkpoint: true when every dataset carried a CRC-32 checksum and all matched
  /// (a mismatch is an error instead); false when some dataset had none, as in checkpoints
  /// written before muft stored checksums: their data could not be verified. Left false by
  /// read_checkpoint_metadata (no data read); ignored by write_checkpoint, which always stores
  /// a checksum with every dataset.
  bool verified = false;
};

/// Writes atomically: to PATH.tmp.<pid>, then rename(2) over PATH; every dataset carries the
/// CRC-32 of its bytes (attribute `crc32`, docs/formats.md). The same Checkpoint always gives
/// the same bytes. On any failure (full disk, file size limit, missing directory) it throws one
/// std::runtime_error naming PATH and the reason, removes the temporary file and leaves no HDF5
/// identifier open; an existing PATH is left as it was. Invalid tensors (byte count, empty or
/// duplicate names) are std::invalid_argument.
void write_checkpoint(const std::string& path, const Checkpoint& ckpt);
/// Reads everything back and checks every stored checksum; throws std::runtime_error on a file
/// that is not a muft checkpoint and on a checksum mismatch (naming the file and the tensor).
Checkpoint read_checkpoint(const std::string& path);
/// Reads only step, config and metrics (tensor vectors and rng_state left
/// empty): cheap, for collecting results from many runs. Same errors as read_checkpoint.
Checkpoint read_checkpoint_metadata(const std::string& path);

/// Outcome of verify_checkpoint.
struct CheckpointCheck {
  /// True when read_checkpoint(path) would succeed: a readable muft checkpoint whose every
  /// stored checksum matches its data.
  bool ok = false;
  std::size_t datasets = 0;    ///< datasets read (parameters, optimizer state, rng_state)
  std::size_t unverified = 0;  ///< of those, datasets without a stored checksum (old writers)
  std::string error;           ///< why not ok: one line naming the file (and the tensor)
  /// True when ok and every dataset was covered by a checksum.
  bool verified() const { return ok && unverified == 0; }
};
/// Reads every dataset of a checkpoint one at a time (memory: the largest tensor) and compares
/// it with its stored checksum, without building a Checkpoint. Never throws for a bad file: the
/// trainer uses it to find the newest good checkpoint of a run.
CheckpointCheck verify_checkpoint(const std::string& path);

}  // namespace muft::checkpoint
