/// \file esd.cpp
/// Heavy-tailed ESD metrics (esd.h): the power-law fit with the KS-minimizing x_min, the
/// Marchenko–Pastur bulk, the Jensen–Shannon distance to a shuffled copy, and the shuffle.

#include "muft/analysis/esd.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace muft::analysis {
namespace {

/// SplitMix64 (Steele, Lea & Flood 2014): a fixed, portable 64-bit sequence from a seed.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, bound), bound > 0, without modulo bias (Lemire 2019, with rejection).
  uint64_t below(uint64_t bound) {
    unsigned __int128 m = static_cast<unsigned __int128>(next()) * bound;
    auto low = static_cast<uint64_t>(m);
    if (low < bound) {
      const uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(next()) * bound;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

 private:
  uint64_t state_;
};

/// The eigenvalues as M = min(rows, cols) non-negative values, ascending (missing ones are 0).
std::vector<double> ascending_padded(std::vector<double> eig, int64_t rows, int64_t cols) {
  const auto m = static_cast<std::size_t>(std::max<int64_t>(0, std::min(rows, cols)));
  for (double& v : eig) v = v > 0 ? v : 0.0;  // also maps NaN to 0; callers pass finite values
  if (eig.size() < m) eig.resize(m, 0.0);
  std::sort(eig.begin(), eig.end());
  return eig;
}

/// KS distance of candidate i (x sorted ascending, logs in lx), stopping early once the
/// running maximum shows it cannot beat (best_d, best_i) under "smaller D, then smaller i".
/// Returns {D or the partial maximum, completed}.
std::pair<double, bool> ks_distance(const std::vector<double>& lx, std::size_t i, double alpha,
                                    double best_d, std::size_t best_i) {
  const std::size_t n_all = lx.size();
  const double n = static_cast<double>(n_all - i);
  const double e = 1.0 - alpha, l0 = lx[i];
  double d = 0;
  for (std::size_t j = 0; i + j < n_all; ++j) {
    const double fitted = 1.0 - std::exp(e * (lx[i + j] - l0));
    const double dev = std::fabs(fitted - static_cast<double>(j) / n);
    if (dev > d) {
      d = dev;
      if (d > best_d || (d == best_d && i > best_i)) return {d, false};
    }
  }
  return {d, true};
}

}  // namespace

bool EsdOptions::IsValid(std::string* error) const {
  std::string why;
  if (randomize && !enabled) {
    why = "--randomize compares the ESD with a shuffled copy: it needs --esd";
  } else if (!(floor >= 0) || !std::isfinite(floor)) {
    why = "ESD eigenvalue floor must be finite and >= 0";
  } else if (min_eigenvalues < 2) {
    why = "the power-law fit needs at least 2 eigenvalues";
  }
  if (!why.empty() && error) *error = why;
  return why.empty();
}

PowerLawFit fit_power_law(std::vector<double> x) {
  if (x.size() < 2) throw std::invalid_argument("power-law fit needs at least 2 samples");
  for (double v : x) {
    if (!(v > 0) || !std::isfinite(v)) {
      throw std::invalid_argument("power-law fit needs positive finite samples");
    }
  }
  std::sort(x.begin(), x.end());
  const std::size_t n_all = x.size();
  std::vector<double> lx(n_all), suffix(n_all + 1, 0.0);
  for (std::size_t i = 0; i < n_all; ++i) lx[i] = std::log(x[i]);
  for (std::size_t i = n_all; i-- > 0;) suffix[i] = suffix[i + 1] + lx[i];
  // α̂ of every candidate x_min = x[i], i < n_all − 1.
  std::vector<double> alpha(n_all - 1);
  for (std::size_t i = 0; i + 1 < n_all; ++i) {
    const double n = static_cast<double>(n_all - i);
    alpha[i] = 1.0 + n / (suffix[i] - n * lx[i]);
  }
  auto usable = [&](std::size_t i) { return std::isfinite(alpha[i]) && alpha[i] > 1.0; };
  PowerLawFit fit;
  fit.n_samples = static_cast<int64_t>(n_all);
  // Candidates without a finite α > 1 (all tail samples equal) keep D = 1, as in WeightWatcher.
  double best_d = 1.0;
  std::size_t best_i = 0;
  bool found = false;
  auto consider = [&](std::size_t i) {
    if (!usable(i)) return;
    const auto [d, complete] =
        ks_distance(lx, i, alpha[i], found ? best_d : std::numeric_limits<double>::infinity(),
                    found ? best_i : n_all);
    if (!complete) return;
    ++fit.candidates_completed;
    if (!found || d < best_d || (d == best_d && i < best_i)) {
      best_d = d;
      best_i = i;
      found = true;
    }
  };
  // A coarse pass first finds a small D, so that most candidates of the full pass stop early.
  const std::size_t stride = std::max<std::size_t>(1, (n_all - 1) / 32);
  for (std::size_t i = 0; i + 1 < n_all; i += stride) consider(i);
  for (std::size_t i = 0; i + 1 < n_all; ++i) {
    if (i % stride != 0) consider(i);
  }
  if (!found) {
    // Every candidate degenerate: WeightWatcher's argmin over all-ones D picks the first.
    fit.xmin = x[0];
    fit.ks_distance = 1.0;
    fit.alpha = alpha[0];
    fit.n_tail = static_cast<int64_t>(n_all);
    return fit;
  }
  const double n = static_cast<double>(n_all - best_i);
  fit.alpha = alpha[best_i];
  fit.xmin = x[best_i];
  fit.ks_distance = best_d;
  fit.alpha_stderr = (fit.alpha - 1.0) / std::sqrt(n);
  // Samples >= x_min, ties below best_i included (WeightWatcher counts evals >= xmin).
  fit.n_tail = static_cast<int64_t>(x.end() - std::lower_bound(x.begin(), x.end(), fit.xmin));
  return fit;
}

MarchenkoPasturFit fit_marchenko_pastur(const std::vector<double>& eigenvalues, int64_t rows,
                                        int64_t cols) {
  MarchenkoPasturFit fit;
  const std::vector<double> lam = ascending_padded(eigenvalues, rows, cols);
  const std::size_t m = lam.size();
  if (m == 0) return fit;
  const double big = static_cast<double>(std::max(rows, cols));
  fit.q = big / static_cast<double>(m);
  double total = 0;
  for (double v : lam) total += v;
  if (!(total > 0)) return fit;
  const double scale = static_cast<double>(m) / total;  // λ' = λ·scale has mean 1
  std::vector<double> r(m), prefix(m + 1, 0.0);
  for (std::size_t i = 0; i < m; ++i) {
    r[i] = lam[i] * scale;
    prefix[i + 1] = prefix[i] + r[i];
  }
  const double c = std::pow(1.0 + 1.0 / std::sqrt(fit.q), 2);
  // σ² ← mean of the rescaled eigenvalues at or below the edge σ²·c, from σ² = mean of all. The
  // kept set only shrinks (a smaller σ² lowers the edge), so the loop ends once it is stable.
  // The smallest eigenvalue always stays: the mean of a set is at least its minimum.
  std::size_t kept = m;
  double s2 = prefix[m] / static_cast<double>(m);
  for (;;) {
    ++fit.iterations;
    const auto k =
        static_cast<std::size_t>(std::upper_bound(r.begin(), r.end(), s2 * c) - r.begin());
    const std::size_t keep = std::max<std::size_t>(1, std::min(k, kept));
    if (keep == kept) break;
    kept = keep;
    s2 = prefix[kept] / static_cast<double>(kept);
  }
  fit.sigma2 = s2;
  const double plus = s2 * c;
  // WeightWatcher's Tracy–Widom margin (weightwatcher.py, mp_fit), in rescaled units:
  // TW = Q^(-1/2) λ+^(2/3) M^(-2/3); spikes are the eigenvalues above λ+ + √TW.
  const double tw =
      std::pow(plus, 2.0 / 3.0) * std::pow(static_cast<double>(m), -2.0 / 3.0) / std::sqrt(fit.q);
  const double plus_tw = plus + std::sqrt(tw);
  fit.lambda_plus = plus / scale;
  fit.lambda_plus_tw = plus_tw / scale;
  fit.num_spikes = static_cast<int64_t>(r.end() - std::upper_bound(r.begin(), r.end(), plus_tw));
  fit.softrank = fit.lambda_plus / lam.back();
  return fit;
}

double jensen_shannon_distance(std::vector<double> a, std::vector<double> b) {
  if (a.size() != b.size() || a.empty()) return NAN;
  double sa = 0, sb = 0;
  for (double v : a) {
    if (!(v >= 0)) return NAN;
    sa += v;
  }
  for (double v : b) {
    if (!(v >= 0)) return NAN;
    sb += v;
  }
  if (!(sa > 0) || !(sb > 0)) return NAN;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  double kl_p = 0, kl_q = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double p = a[i] / sa, q = b[i] / sb, mid = 0.5 * (p + q);
    if (p > 0) kl_p += p * std::log(p / mid);
    if (q > 0) kl_q += q * std::log(q / mid);
  }
  return std::sqrt(std::max(0.0, 0.5 * (kl_p + kl_q)));
}

template <class T>
void shuffle_entries(T* data, int64_t n, uint64_t seed) {
  SplitMix64 rng(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(rng.below(static_cast<uint64_t>(i) + 1));
    std::swap(data[i], data[j]);
  }
}

EsdMetrics esd_metrics(std::vector<double> eigenvalues, int64_t rows, int64_t cols,
                       double noise_floor, const EsdOptions& opts) {
  EsdMetrics m;
  const std::vector<double> lam = ascending_padded(std::move(eigenvalues), rows, cols);
  if (lam.empty() || !(lam.back() > 0)) {
    m.note = "ESD undefined for a zero or empty matrix";
    return m;
  }
  m.lambda_max = lam.back();
  const double floor = std::max(opts.floor, noise_floor);
  const auto first = std::upper_bound(lam.begin(), lam.end(), floor);
  const std::vector<double> tail(first, lam.end());
  if (tail.size() < static_cast<std::size_t>(opts.min_eigenvalues)) {
    m.note = "power-law fit needs " + std::to_string(opts.min_eigenvalues) +
             " eigenvalues above the floor " + std::to_string(floor) + ", got " +
             std::to_string(tail.size());
  } else {
    m.power_law = fit_power_law(tail);
    m.alpha_weighted = m.power_law.alpha * std::log10(m.lambda_max);
  }
  m.mp = fit_marchenko_pastur(lam, rows, cols);
  return m;
}

void esd_randomized(const std::vector<double>& eigenvalues,
                    const std::vector<double>& shuffled_eigenvalues, int64_t rows, int64_t cols,
                    EsdMetrics& m) {
  const std::vector<double> a = ascending_padded(eigenvalues, rows, cols);
  const std::vector<double> b = ascending_padded(shuffled_eigenvalues, rows, cols);
  if (b.empty()) return;
  m.rand_lambda_max = b.back();
  m.rand_distance = jensen_shannon_distance(a, b);
  const MarchenkoPasturFit mp = fit_marchenko_pastur(b, rows, cols);
  if (std::isfinite(mp.lambda_plus)) m.rand_num_spikes = static_cast<double>(mp.num_spikes);
}

template void shuffle_entries<float>(float*, int64_t, uint64_t);
template void shuffle_entries<double>(double*, int64_t, uint64_t);

}  // namespace muft::analysis
