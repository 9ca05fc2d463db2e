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
};

/// Writes atomically: to PATH.tmp.<pid>, then rename(2) over PATH.
void write_checkpoint(const std::string& path, const Checkpoint& ckpt);
/// Reads everything back; throws std::runtime_error on a file that is not a muft checkpoint.
Checkpoint read_checkpoint(const std::string& path);
/// Reads only step, config and metrics (tensor vectors and rng_state left
/// empty): cheap, for collecting results from many runs. Same errors as read_checkpoint.
Checkpoint read_checkpoint_metadata(const std::string& path);

}  // namespace muft::checkpoint
