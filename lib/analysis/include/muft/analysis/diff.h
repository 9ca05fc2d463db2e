#pragma once
/// \file diff.h
/// Distances between a fine-tuned matrix W and its base W0 (arXiv 2605.10468, Table 17).

#include <cstdint>

#include "muft/analysis/metrics.h"

namespace muft::analysis {

/// Distances of W from W0 plus the spectral metrics of ΔW = W − W0.
struct DiffMetrics {
  double l2_distance = NAN;        ///< ‖W − W0‖_F
  double relative_distance = NAN;  ///< ‖W − W0‖_F / ‖W0‖_F (NaN when W0 = 0)
  /// 1 − ⟨W, W0⟩/(‖W‖_F‖W0‖_F), evaluated as (‖ΔW‖² − (‖W‖ − ‖W0‖)²)/(2‖W‖‖W0‖), which keeps
  /// full relative accuracy when W is close to W0 (NaN when either norm is 0).
  double cosine_distance = NAN;
  double norm = NAN;       ///< ‖W‖_F
  double base_norm = NAN;  ///< ‖W0‖_F
  MatrixMetrics delta;     ///< metrics of ΔW (status/reason say whether the diff is usable)
};

/// Running sums for the distances over many tensors ("total" rows).
struct DiffTotals {
  double delta_sq = 0;  ///< Σ ‖ΔW‖_F²
  double norm_sq = 0;   ///< Σ ‖W‖_F²
  double base_sq = 0;   ///< Σ ‖W0‖_F²
  int64_t tensors = 0;
  /// Adds one tensor's DiffMetrics; returns false (and adds nothing) when its distance or
  /// norms are not finite.
  bool add(const DiffMetrics& d);
  /// The distances of the concatenation of all added tensors (delta metrics left empty).
  DiffMetrics total() const;
};

/// Distances from three squared norms (shared by the dense, LoRA and total paths).
DiffMetrics distances_from_norms(double delta_sq, double norm_sq, double base_sq);

/// Diff of two row-major (rows, cols) matrices of the same shape; ΔW is formed in double.
template <class T>
DiffMetrics compute_diff(const T* w, const T* w0, int64_t rows, int64_t cols,
                         const MetricOptions& opts);

}  // namespace muft::analysis
