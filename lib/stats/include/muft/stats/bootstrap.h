#pragma once
/// \file bootstrap.h
/// Percentile bootstrap over seeds (Efron & Tibshirani 1993, ch. 13): resample the seeds with
/// replacement, recompute a statistic of their per-seed values, and take quantiles of the
/// replicates. Used to compare methods' learning–forgetting points (issue 10, item 7): one row
/// per seed holds every method's numbers of that seed, so a resample keeps the pairing of
/// methods within a seed. Deterministic for a given seed of the resampling generator.
///
/// Small samples: the replicates of a mean lie between the smallest and largest value, so over
/// n = 3 seeds the interval can cover the true mean at most as often as [min, max] does
/// (75 % for symmetric noise), whatever the nominal level. docs/experiments.md gives measured
/// coverage by n.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace muft::stats {

/// Per-seed values: row i holds seed i's numbers (every row the same length).
using SeedRows = std::vector<std::vector<double>>;
/// A statistic of a set of seeds; a resample may hold one seed several times.
using SeedStatistic = std::function<double(const SeedRows&)>;

/// Options of percentile_bootstrap.
struct BootstrapOptions {
  std::size_t resamples = 10000;  ///< B, number of bootstrap resamples (≥ 1)
  double confidence = 0.95;       ///< level c of the two-sided interval, in (0, 1)
  std::uint64_t seed = 0;         ///< seed of the resampling generator (std::mt19937_64)
  /// True when the options are usable; otherwise false with the reason in `*error`.
  bool IsValid(std::string* error) const;
};

/// Outcome of the bootstrap.
enum class BootstrapStatus {
  kSuccessful,  ///< the statistic was finite on the data and on every resample
  kNonFinite    ///< it was not (a diverged seed, say): estimate and/or interval are NaN
};

/// A percentile bootstrap interval.
struct BootstrapInterval {
  BootstrapStatus status = BootstrapStatus::kSuccessful;
  double estimate = 0.0;  ///< the statistic of the original seeds
  /// Quantiles (1 − c)/2 and (1 + c)/2 of the B replicates (sample_quantile); NaN unless
  /// status is kSuccessful.
  double ci_low = 0.0;
  double ci_high = 0.0;
  std::size_t nonfinite = 0;       ///< replicates that were not finite
  std::vector<double> replicates;  ///< the B statistics, in draw order
  double confidence = 0.95;
  std::uint64_t seed = 0;
};

/// Resamples the n rows of `seeds` with replacement B times (indices uniform in [0, n) drawn
/// from std::mt19937_64(options.seed) by rejection, so the draws are the same on every
/// platform), evaluates `statistic` on each resample and returns the percentile interval.
/// Throws std::invalid_argument when `seeds` is empty, its rows differ in length, `statistic`
/// is empty, or the options are invalid.
BootstrapInterval percentile_bootstrap(const SeedRows& seeds, const SeedStatistic& statistic,
                                       const BootstrapOptions& options = {});

/// Quantile p ∈ [0, 1] of a sample by linear interpolation between order statistics
/// (Hyndman & Fan 1996 type 7, numpy's default): with sorted x₀ ≤ … ≤ x_{m−1} and
/// h = (m − 1) p, \f$ x_{\lfloor h\rfloor} + (h - \lfloor h\rfloor)(x_{\lfloor h\rfloor+1} -
/// x_{\lfloor h\rfloor}) \f$. Throws std::invalid_argument on an empty sample or p outside
/// [0, 1]; NaN values are not allowed (std::invalid_argument).
double sample_quantile(std::vector<double> values, double p);

/// Mean of column `column` over the rows (a common building block of statistics).
/// Throws std::invalid_argument when there are no rows or a row is too short.
double column_mean(const SeedRows& rows, std::size_t column);

}  // namespace muft::stats
