/// \file diff.cpp
/// Distances between checkpoints: dense ΔW and the running totals.

#include "muft/analysis/diff.h"

#include <cmath>
#include <vector>

namespace muft::analysis {

DiffMetrics distances_from_norms(double delta_sq, double norm_sq, double base_sq) {
  DiffMetrics d;
  const double a = std::sqrt(norm_sq), b = std::sqrt(base_sq), dd = std::sqrt(delta_sq);
  d.l2_distance = dd;
  d.norm = a;
  d.base_norm = b;
  d.relative_distance = b > 0 ? dd / b : NAN;
  // ⟨W, W0⟩ = (a² + b² − ‖Δ‖²)/2, so 1 − ⟨W, W0⟩/(ab) = (‖Δ‖² − (a − b)²)/(2ab).
  d.cosine_distance = (a > 0 && b > 0) ? (delta_sq - (a - b) * (a - b)) / (2 * a * b) : NAN;
  return d;
}

bool DiffTotals::add(const DiffMetrics& d) {
  if (!std::isfinite(d.l2_distance) || !std::isfinite(d.norm) || !std::isfinite(d.base_norm)) {
    return false;
  }
  delta_sq += d.l2_distance * d.l2_distance;
  norm_sq += d.norm * d.norm;
  base_sq += d.base_norm * d.base_norm;
  ++tensors;
  return true;
}

DiffMetrics DiffTotals::total() const {
  DiffMetrics d = distances_from_norms(delta_sq, norm_sq, base_sq);
  d.delta.status = MetricStatus::Ok;
  return d;
}

template <class T>
DiffMetrics compute_diff(const T* w, const T* w0, int64_t rows, int64_t cols,
                         const MetricOptions& opts) {
  const int64_t n = rows * cols;
  std::vector<double> delta(static_cast<std::size_t>(n));
  double na = 0, nb = 0;
  for (int64_t i = 0; i < rows; ++i) {
    double ra = 0, rb = 0;
    for (int64_t j = i * cols; j < (i + 1) * cols; ++j) {
      const double a = static_cast<double>(w[j]), b = static_cast<double>(w0[j]);
      delta[j] = a - b;
      ra += a * a;
      rb += b * b;
    }
    na += ra;
    nb += rb;
  }
  MatrixMetrics dm = compute_metrics(delta.data(), rows, cols, opts);
  const double dsq = dm.frobenius_norm * dm.frobenius_norm;
  DiffMetrics d = distances_from_norms(dsq, na, nb);
  d.delta = std::move(dm);
  if (!std::isfinite(na) || !std::isfinite(nb)) {
    d.l2_distance = d.relative_distance = d.cosine_distance = NAN;
  } else if (d.delta.status == MetricStatus::Zero) {
    // W == W0 exactly: distances are 0, only the spectral shape of ΔW is undefined.
    d.cosine_distance = (na > 0 && nb > 0) ? 0.0 : NAN;
  }
  return d;
}

template DiffMetrics compute_diff<float>(const float*, const float*, int64_t, int64_t,
                                         const MetricOptions&);
template DiffMetrics compute_diff<double>(const double*, const double*, int64_t, int64_t,
                                          const MetricOptions&);

}  // namespace muft::analysis
