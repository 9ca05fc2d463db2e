#pragma once
/// \file record.h
/// The rows the batch runner produces: one Record per matrix (or LoRA pair, diff total, bad
/// file), one GroupRecord per (checkpoint, layer group) of a series.

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "muft/analysis/diff.h"
#include "muft/analysis/metrics.h"

namespace muft::analysis {

/// What a row describes.
enum class RecordKind {
  Matrix,     ///< a weight matrix (rank 2, or rank > 2 reshaped to [dim0, rest])
  LoraA,      ///< a LoRA A factor (r × in)
  LoraB,      ///< a LoRA B factor (out × r)
  LoraDelta,  ///< the merged update s·B·A of a LoRA pair
  Total,      ///< diff: all tensors of one checkpoint together
  File,       ///< a file that could not be opened
};
/// "matrix", "lora_A", "lora_B", "lora_delta", "total", "file".
const char* kind_name(RecordKind k);

/// One result row.
struct Record {
  std::string file;    ///< checkpoint path
  std::string format;  ///< source format ("safetensors", "muft-hdf5", ...)
  std::string tensor;  ///< tensor name (LoRA delta: "<module>.lora_delta"; total: "__total__")
  RecordKind kind = RecordKind::Matrix;
  std::string group;      ///< layer group (LayerGroups::classify)
  std::string dtype;      ///< stored dtype ("F32", ...)
  std::string run;        ///< series: run directory
  double step = NAN;      ///< series: training step
  MatrixMetrics metrics;  ///< of W (spectra, series) or of ΔW (diff)
  bool is_diff = false;
  std::string base_file, base_tensor;  ///< diff: where W0 came from
  DiffMetrics diff;                    ///< diff: distances (diff.delta unused here)
  /// diff with --relative-to: distances divided by those of the reference checkpoint.
  double l2_ratio = NAN, relative_ratio = NAN, cosine_ratio = NAN;
  /// diff with --intruders: intruder dimensions of W against W0 (intruders.h; total: their sum).
  double intruders = NAN;
  /// True when the row is an error (unreadable file/tensor, missing tensor, shape mismatch).
  bool failed() const { return metrics.status == MetricStatus::Error; }
};

/// One aggregated series row: the metrics of one layer group in one checkpoint.
struct GroupRecord {
  std::string run, file, group;
  double step = NAN;
  std::size_t tensors = 0;  ///< matrices in the group with status ok
  std::size_t failed = 0;   ///< matrices in the group that failed or were undefined
  /// metric name → (mean, sample standard deviation) over the ok matrices.
  std::map<std::string, std::pair<double, double>> stats;
};

}  // namespace muft::analysis
