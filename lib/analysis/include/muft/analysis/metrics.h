#pragma once
/// \file metrics.h
/// Spectral metrics of one weight matrix (arXiv 2605.10468, Appendix F.1 and Figure 2 right).

#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "muft/analysis/esd.h"
#include "muft/analysis/spectrum.h"

namespace muft::analysis {

/// How the singular values are obtained (see spectrum.h for the accuracy of each).
enum class SvdMethod {
  Gram,   ///< eigenvalues of the smaller Gram matrix (default: fast, BLAS-3)
  Exact,  ///< bidiagonal SVD (dgesdd / BDCSVD)
  Fast,   ///< σ₁ only by Lanczos: norms and stable rank; spectrum-based metrics are NaN
};
/// "gram", "exact" or "fast".
const char* svd_method_name(SvdMethod m);
/// Parses "gram" / "exact" / "fast"; throws std::invalid_argument otherwise.
SvdMethod parse_svd_method(const std::string& s);

/// Outcome of a metric computation. Anything but Ok leaves the undefined metrics NaN and says
/// why in MatrixMetrics::reason.
enum class MetricStatus { Ok, Empty, Zero, NonFinite, NotConverged, Error };
/// "ok", "empty", "zero", "non_finite", "not_converged", "error".
const char* status_name(MetricStatus s);

/// What to compute and how.
struct MetricOptions {
  SvdMethod method = SvdMethod::Gram;  ///< algorithm for the singular values
  /// Numerical rank counts σᵢ > rank_tol·σ₁. A negative value picks the default of the method:
  /// exact: max(m, n)·ε (numpy.linalg.matrix_rank's rule); gram: 10·sqrt(max(m, n)·ε), above the
  /// Gram noise floor sqrt(k·ε)·σ₁ on singular values.
  double rank_tol = -1;
  bool keep_spectrum = false;  ///< copy all singular values into MatrixMetrics::singular_values
  LanczosOptions lanczos;      ///< used by SvdMethod::Fast
  EsdOptions esd;              ///< heavy-tailed ESD metrics (off by default; need a spectrum)
  /// True when the options make sense; otherwise writes why into *error.
  bool IsValid(std::string* error) const;
  /// The relative rank tolerance actually used for a (rows, cols) matrix.
  double effective_rank_tol(int64_t rows, int64_t cols) const;
};

/// Metrics of one matrix W (m×n), r = min(m, n), σ₁ ≥ … ≥ σ_r ≥ 0.
struct MatrixMetrics {
  int64_t rows = 0, cols = 0;
  double frobenius_norm = NAN;  ///< ‖W‖_F, summed in double from the entries
  double spectral_norm = NAN;   ///< σ₁ = ‖W‖₂
  double nuclear_norm = NAN;    ///< Σ σᵢ
  double max_abs = NAN;         ///< max |Wᵢⱼ|
  double stable_rank = NAN;     ///< ‖W‖_F² / σ₁²
  /// Normalized SVD entropy −Σ pᵢ log pᵢ / log r, pᵢ = σᵢ²/Σσⱼ² (in [0, 1]; NaN when r = 1).
  double svd_entropy = NAN;
  double effective_rank = NAN;  ///< exp(−Σ qᵢ log qᵢ), qᵢ = σᵢ/Σσⱼ (Roy & Vetterli)
  double numerical_rank = NAN;  ///< #{σᵢ > rank_tol}, as a double so that NaN can say "unknown"
  double rank_tol = NAN;        ///< the absolute tolerance used for numerical_rank
  MetricStatus status = MetricStatus::Ok;
  std::string reason;                   ///< empty when status is Ok and nothing was left out
  std::vector<double> singular_values;  ///< descending; filled only with keep_spectrum
  EsdMetrics esd;                       ///< filled only with MetricOptions::esd.enabled
};

/// Metrics of the row-major (rows, cols) matrix `data`, accumulated in double. Never throws for
/// numerical reasons: zero, empty or non-finite input gives NaN metrics with a status. With
/// opts.esd.randomize the spectrum of an entry-shuffled copy (one more copy of the matrix) gives
/// the rand_* ESD metrics.
/// Throws std::invalid_argument on invalid options.
template <class T>
MatrixMetrics compute_metrics(const T* data, int64_t rows, int64_t cols, const MetricOptions& opts);

/// Convenience overload for an Eigen matrix (any storage order is handled by copying).
MatrixMetrics compute_metrics(const Eigen::Ref<const Eigen::MatrixXd>& W,
                              const MetricOptions& opts);

/// Fills the spectrum-based metrics (σ₁, nuclear norm, stable rank, entropy, effective rank,
/// numerical rank, and with opts.esd.enabled the ESD metrics of λᵢ = σᵢ² except the rand_*
/// ones) of `m` from descending singular values `sv` (padded implicitly with zeros up to
/// r = min(m.rows, m.cols)); m.frobenius_norm must already be set (it is used for the stable
/// rank). Used by compute_metrics and by the LoRA core-matrix path.
void fill_from_singular_values(const Eigen::VectorXd& sv, const MetricOptions& opts,
                               MatrixMetrics& m);

}  // namespace muft::analysis
