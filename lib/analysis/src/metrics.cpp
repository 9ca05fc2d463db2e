/// \file metrics.cpp
/// Per-matrix spectral metrics from the singular values given by spectrum.cpp.

#include "muft/analysis/metrics.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace muft::analysis {

const char* svd_method_name(SvdMethod m) {
  switch (m) {
    case SvdMethod::Gram:
      return "gram";
    case SvdMethod::Exact:
      return "exact";
    case SvdMethod::Fast:
      return "fast";
  }
  return "?";
}

SvdMethod parse_svd_method(const std::string& s) {
  if (s == "gram") return SvdMethod::Gram;
  if (s == "exact") return SvdMethod::Exact;
  if (s == "fast") return SvdMethod::Fast;
  throw std::invalid_argument("unknown SVD method '" + s + "', expected gram, exact or fast");
}

const char* status_name(MetricStatus s) {
  switch (s) {
    case MetricStatus::Ok:
      return "ok";
    case MetricStatus::Empty:
      return "empty";
    case MetricStatus::Zero:
      return "zero";
    case MetricStatus::NonFinite:
      return "non_finite";
    case MetricStatus::NotConverged:
      return "not_converged";
    case MetricStatus::Error:
      return "error";
  }
  return "?";
}

bool MetricOptions::IsValid(std::string* error) const {
  std::string why;
  if (!(rank_tol < 1)) {
    why = "rank tolerance must be < 1 (relative to sigma_1), or negative for the default";
  } else if (esd.enabled && method == SvdMethod::Fast) {
    why = "the ESD metrics need the full spectrum: drop --fast";
  } else if (lanczos.IsValid(&why)) {
    esd.IsValid(&why);
  }
  if (!why.empty() && error) *error = why;
  return why.empty();
}

double MetricOptions::effective_rank_tol(int64_t rows, int64_t cols) const {
  if (rank_tol >= 0) return rank_tol;
  const double eps = std::numeric_limits<double>::epsilon();
  const double k = static_cast<double>(std::max(rows, cols));
  return method == SvdMethod::Exact ? k * eps : 10.0 * std::sqrt(k * eps);
}

void fill_from_singular_values(const Eigen::VectorXd& sv, const MetricOptions& opts,
                               MatrixMetrics& m) {
  const int64_t r = std::min(m.rows, m.cols);
  const double s1 = sv.size() > 0 ? sv[0] : 0.0;
  m.spectral_norm = s1;
  if (!(s1 > 0)) {
    m.status = MetricStatus::Zero;
    m.reason = "zero matrix: stable rank, entropy and effective rank undefined";
    m.nuclear_norm = 0;
    m.numerical_rank = 0;
    m.rank_tol = 0;
    return;
  }
  double sum_s = 0, sum_s2 = 0;
  for (Eigen::Index i = 0; i < sv.size(); ++i) {
    sum_s += sv[i];
    sum_s2 += sv[i] * sv[i];
  }
  double h2 = 0, h1 = 0;
  for (Eigen::Index i = 0; i < sv.size(); ++i) {
    const double p = sv[i] * sv[i] / sum_s2;
    if (p > 0) h2 -= p * std::log(p);
    const double q = sv[i] / sum_s;
    if (q > 0) h1 -= q * std::log(q);
  }
  m.nuclear_norm = sum_s;
  m.stable_rank = m.frobenius_norm * m.frobenius_norm / (s1 * s1);
  if (r > 1) {
    m.svd_entropy = h2 / std::log(static_cast<double>(r));
  } else if (m.reason.empty()) {
    m.reason = "svd_entropy undefined for min(rows, cols) = 1";
  }
  m.effective_rank = std::exp(h1);
  const double tol = opts.effective_rank_tol(m.rows, m.cols) * s1;
  int64_t count = 0;
  for (Eigen::Index i = 0; i < sv.size(); ++i) count += sv[i] > tol ? 1 : 0;
  m.numerical_rank = static_cast<double>(count);
  m.rank_tol = tol;
  if (opts.keep_spectrum) m.singular_values.assign(sv.data(), sv.data() + sv.size());
  if (opts.esd.enabled) {
    std::vector<double> eig(static_cast<std::size_t>(sv.size()));
    for (Eigen::Index i = 0; i < sv.size(); ++i) eig[i] = sv[i] * sv[i];
    m.esd = esd_metrics(std::move(eig), m.rows, m.cols, tol * tol, opts.esd);
    if (!m.esd.note.empty()) m.reason += (m.reason.empty() ? "esd: " : "; esd: ") + m.esd.note;
  }
}

template <class T>
MatrixMetrics compute_metrics(const T* data, int64_t rows, int64_t cols,
                              const MetricOptions& opts) {
  std::string why;
  if (!opts.IsValid(&why)) throw std::invalid_argument(why);
  MatrixMetrics m;
  m.rows = rows;
  m.cols = cols;
  if (rows <= 0 || cols <= 0) {
    m.status = MetricStatus::Empty;
    m.reason = "empty matrix (" + std::to_string(rows) + "x" + std::to_string(cols) + ")";
    return m;
  }
  // One pass: finiteness, max |w|, Σw² (per-row partial sums keep the rounding ~ (m+n)·ε).
  double sumsq = 0, maxabs = 0;
  int64_t bad = 0;
  for (int64_t i = 0; i < rows; ++i) {
    const T* row = data + i * cols;
    double s = 0;
    for (int64_t j = 0; j < cols; ++j) {
      const double v = static_cast<double>(row[j]);
      if (!std::isfinite(v)) {
        ++bad;
        continue;
      }
      s += v * v;
      maxabs = std::max(maxabs, std::fabs(v));
    }
    sumsq += s;
  }
  if (bad > 0) {
    m.status = MetricStatus::NonFinite;
    m.reason = std::to_string(bad) + " non-finite entries (NaN/Inf)";
    return m;
  }
  m.max_abs = maxabs;
  m.frobenius_norm = std::sqrt(sumsq);
  if (sumsq == 0) {
    fill_from_singular_values(Eigen::VectorXd::Zero(1), opts, m);
    m.spectral_norm = 0;
    return m;
  }
  try {
    if (opts.method == SvdMethod::Fast) {
      KernelStatus ks = KernelStatus::Successful;
      const double s1 = top_singular_value(data, rows, cols, opts.lanczos, &ks);
      m.spectral_norm = s1;
      m.stable_rank = sumsq / (s1 * s1);
      m.reason = "fast mode: spectrum-based metrics not computed";
      if (ks != KernelStatus::Successful) {
        m.status = MetricStatus::NotConverged;
        m.reason = "Lanczos for sigma_1 did not converge; value is the last estimate";
      }
      return m;
    }
    auto spectrum = [&](const T* x) {
      return opts.method == SvdMethod::Gram ? gram_singular_values(x, rows, cols)
                                            : exact_singular_values(x, rows, cols);
    };
    const Eigen::VectorXd sv = spectrum(data);
    fill_from_singular_values(sv, opts, m);
    if (opts.esd.randomize && m.status == MetricStatus::Ok) {
      // WeightWatcher's randomization: the same entries in a random order destroy the
      // correlations but keep the entry distribution (and the Frobenius norm).
      std::vector<T> shuffled(data, data + rows * cols);
      shuffle_entries(shuffled.data(), rows * cols, opts.esd.seed);
      const Eigen::VectorXd rsv = spectrum(shuffled.data());
      std::vector<double> eig(static_cast<std::size_t>(sv.size())),
          reig(static_cast<std::size_t>(rsv.size()));
      for (Eigen::Index i = 0; i < sv.size(); ++i) eig[i] = sv[i] * sv[i];
      for (Eigen::Index i = 0; i < rsv.size(); ++i) reig[i] = rsv[i] * rsv[i];
      esd_randomized(eig, reig, rows, cols, m.esd);
    }
  } catch (const std::exception& e) {
    m.status = MetricStatus::Error;
    m.reason = e.what();
  }
  return m;
}

MatrixMetrics compute_metrics(const Eigen::Ref<const Eigen::MatrixXd>& W,
                              const MetricOptions& opts) {
  // A col-major W is the row-major buffer of Wᵀ: same metrics, rows/cols swapped back.
  const Eigen::MatrixXd Wc = W;
  MatrixMetrics m = compute_metrics(Wc.data(), Wc.cols(), Wc.rows(), opts);
  std::swap(m.rows, m.cols);  // the default rank tolerance depends on max(m, n) only
  return m;
}

template MatrixMetrics compute_metrics<float>(const float*, int64_t, int64_t, const MetricOptions&);
template MatrixMetrics compute_metrics<double>(const double*, int64_t, int64_t,
                                               const MetricOptions&);

}  // namespace muft::analysis
