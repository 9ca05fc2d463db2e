#pragma once
/// \file esd.h
/// Heavy-tailed metrics of the empirical spectral density (ESD) of one weight matrix, as
/// WeightWatcher reports them: the eigenvalues λᵢ = σᵢ² of WᵀW (the smaller Gram matrix), a
/// power-law fit of their tail, the Marchenko–Pastur bulk edge and the spikes beyond it, and the
/// distance to the ESD of an entry-shuffled copy of W. Definitions and their sources:
/// docs/analyzer.md ("Heavy-tailed ESD metrics").

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace muft::analysis {

/// What to compute and how (muft-analyze --esd, --randomize, --randomize-seed).
struct EsdOptions {
  bool enabled = false;    ///< compute the ESD metrics at all
  bool randomize = false;  ///< also the ESD of an entry-shuffled copy (rand_* metrics)
  uint64_t seed = 0;       ///< seed of the shuffle; same seed and shape, same permutation
  /// Eigenvalues at or below this absolute floor are left out of the power-law fit
  /// (WeightWatcher's EVALS_THRESH = 1e-5); so are those below the numerical-rank tolerance.
  double floor = 1e-5;
  /// Fewer eigenvalues than this above the floor: no power-law fit (WeightWatcher needs 10).
  int min_eigenvalues = 10;
  /// True when the options make sense; otherwise writes why into *error.
  bool IsValid(std::string* error) const;
};

/// Continuous power law p(x) = (α−1)/x_min · (x/x_min)^−α for x ≥ x_min, fitted by maximum
/// likelihood with x_min chosen to minimize the Kolmogorov–Smirnov distance (Clauset, Shalizi &
/// Newman, SIAM Review 51:661, 2009, eqs. 3.1 and 3.9), with WeightWatcher's conventions
/// (WW_powerlaw.py): x_min ranges over every sample but the largest, the empirical CDF at the
/// j-th tail sample (j = 0…n−1, ascending) is j/n, ties go to the smallest x_min.
struct PowerLawFit {
  double alpha = NAN;         ///< α̂ = 1 + n / Σ ln(xᵢ/x_min) over the n samples ≥ x_min
  double xmin = NAN;          ///< the chosen x_min (a sample)
  double ks_distance = NAN;   ///< D = max_j |1 − (x_j/x_min)^(1−α̂) − j/n| at that x_min
  double alpha_stderr = NAN;  ///< (α̂ − 1)/√n, the asymptotic standard error (eq. 3.2)
  int64_t n_tail = 0;         ///< n: samples ≥ x_min
  int64_t n_samples = 0;      ///< samples the fit saw
  /// Candidates whose KS distance was computed to the end; the others were abandoned as soon as
  /// their running maximum could no longer beat the best one (the result is the same).
  int64_t candidates_completed = 0;
};

/// Fits `x` (any order, every value > 0 and finite; at least two values). Throws
/// std::invalid_argument otherwise.
PowerLawFit fit_power_law(std::vector<double> x);

/// The Marchenko–Pastur bulk of the ESD of an N×M matrix (N ≥ M, Q = N/M ≥ 1), on its M
/// eigenvalues rescaled as WeightWatcher rescales them (to mean 1: λ' = λ·M/Σλ).
struct MarchenkoPasturFit {
  double q = NAN;  ///< Q = N/M
  /// Bulk variance σ² in rescaled units: the fixed point of σ² = mean{λ' : λ' ≤ σ²(1 + 1/√Q)²}
  /// started from σ² = 1 (the mean of all), i.e. the bulk mean once the spikes above its own
  /// edge are trimmed. WeightWatcher fits σ to a kernel density estimate instead.
  double sigma2 = NAN;
  double lambda_plus = NAN;     ///< bulk edge λ+ = σ²(1 + 1/√Q)², in the units of λ (raw)
  double lambda_plus_tw = NAN;  ///< λ+ plus WeightWatcher's Tracy–Widom margin, raw units
  int64_t num_spikes = 0;       ///< eigenvalues above lambda_plus_tw
  double softrank = NAN;        ///< MP soft rank λ+/λ_max (WeightWatcher's mp_softrank)
  int iterations = 0;           ///< fixed-point iterations until the trimmed set was stable
};

/// Fits the bulk of `eigenvalues` (the M = min(rows, cols) eigenvalues of the smaller Gram
/// matrix, any order, negative values read as 0) of a rows×cols matrix. NaN fields when Σλ = 0.
MarchenkoPasturFit fit_marchenko_pastur(const std::vector<double>& eigenvalues, int64_t rows,
                                        int64_t cols);

/// Jensen–Shannon distance (natural log) between the two eigenvalue vectors read as
/// probability vectors over their ascending order: p = sort(a)/Σa, q = sort(b)/Σb,
/// √((KL(p‖m) + KL(q‖m))/2), m = (p + q)/2; WeightWatcher's rand_distance. Needs equal sizes,
/// non-negative entries and positive sums (else NaN).
double jensen_shannon_distance(std::vector<double> a, std::vector<double> b);

/// Permutes the n entries of `data` in place (Fisher–Yates driven by a 64-bit SplitMix
/// generator, so the permutation depends only on n and the seed, on every platform).
template <class T>
void shuffle_entries(T* data, int64_t n, uint64_t seed);

/// The ESD metrics of one matrix (NaN when not computed; `note` says why).
struct EsdMetrics {
  double lambda_max = NAN;       ///< λ_max = σ₁²
  PowerLawFit power_law;         ///< α, x_min, D, … of the eigenvalues above the floor
  double alpha_weighted = NAN;   ///< α̂·log10 λ_max (WeightWatcher's alpha_weighted)
  MarchenkoPasturFit mp;         ///< bulk edge, spikes, MP soft rank
  double rand_distance = NAN;    ///< jensen_shannon_distance(λ, λ of the shuffled copy)
  double rand_lambda_max = NAN;  ///< λ_max of the shuffled copy
  double rand_num_spikes = NAN;  ///< spikes of the shuffled copy above its own bulk edge
  std::string note;              ///< why a part is missing ("" when everything was computed)
};

/// The ESD metrics from the eigenvalues λᵢ = σᵢ² of a rows×cols matrix (the min(rows, cols)
/// eigenvalues of its smaller Gram matrix, any order; fewer are padded with zeros).
/// `noise_floor` is the absolute eigenvalue below which the method cannot resolve anything
/// (the numerical-rank tolerance squared); the power-law fit uses λ > max(opts.floor,
/// noise_floor). The rand_* fields are left NaN (see esd_randomized).
EsdMetrics esd_metrics(std::vector<double> eigenvalues, int64_t rows, int64_t cols,
                       double noise_floor, const EsdOptions& opts);

/// Fills the rand_* fields of `m` from the eigenvalues of the shuffled copy, given the
/// eigenvalues of the matrix itself (both any order).
void esd_randomized(const std::vector<double>& eigenvalues,
                    const std::vector<double>& shuffled_eigenvalues, int64_t rows, int64_t cols,
                    EsdMetrics& m);

}  // namespace muft::analysis
