#include "muft/stats/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>

namespace muft::stats {
namespace {

/// Uniform index in [0, n) from the generator's raw 64-bit output by rejection: unlike
/// std::uniform_int_distribution, whose algorithm the standard leaves open, this gives the same
/// draws with every standard library.
std::size_t draw_index(std::mt19937_64& gen, std::uint64_t n) {
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t limit = max - max % n;  // a multiple of n: [0, limit) maps evenly
  std::uint64_t r = gen();
  while (r >= limit) r = gen();
  return static_cast<std::size_t>(r % n);
}

}  // namespace

bool BootstrapOptions::IsValid(std::string* error) const {
  std::string why;
  if (resamples < 1) why = "resamples must be >= 1";
  if (!(confidence > 0.0 && confidence < 1.0)) why = "confidence must be in (0, 1)";
  if (error) *error = why;
  return why.empty();
}

double sample_quantile(std::vector<double> values, double p) {
  if (values.empty()) throw std::invalid_argument("quantile of an empty sample");
  if (!(p >= 0.0 && p <= 1.0)) throw std::invalid_argument("quantile level must be in [0, 1]");
  for (double v : values)
    if (std::isnan(v)) throw std::invalid_argument("quantile of a sample holding NaN");
  std::sort(values.begin(), values.end());
  const double h = static_cast<double>(values.size() - 1) * p;
  const std::size_t lo = static_cast<std::size_t>(std::floor(h));
  if (lo + 1 >= values.size()) return values.back();
  const double frac = h - static_cast<double>(lo);
  // frac = 0 returns the order statistic itself (also when it is infinite).
  return frac == 0.0 ? values[lo] : values[lo] + frac * (values[lo + 1] - values[lo]);
}

double column_mean(const SeedRows& rows, std::size_t column) {
  if (rows.empty()) throw std::invalid_argument("column_mean of no rows");
  double sum = 0.0;
  for (const auto& r : rows) {
    if (column >= r.size()) throw std::invalid_argument("column_mean: row too short");
    sum += r[column];
  }
  return sum / static_cast<double>(rows.size());
}

BootstrapInterval percentile_bootstrap(const SeedRows& seeds, const SeedStatistic& statistic,
                                       const BootstrapOptions& options) {
  std::string why;
  if (!options.IsValid(&why)) throw std::invalid_argument("bootstrap: " + why);
  if (seeds.empty()) throw std::invalid_argument("bootstrap needs at least one seed");
  for (const auto& r : seeds)
    if (r.size() != seeds.front().size())
      throw std::invalid_argument("bootstrap: every seed must have the same number of values");
  if (!statistic) throw std::invalid_argument("bootstrap: no statistic given");
  BootstrapInterval out;
  out.confidence = options.confidence;
  out.seed = options.seed;
  out.estimate = statistic(seeds);
  std::mt19937_64 gen(options.seed);
  SeedRows resample(seeds.size());
  out.replicates.reserve(options.resamples);
  for (std::size_t b = 0; b < options.resamples; ++b) {
    for (auto& row : resample) row = seeds[draw_index(gen, seeds.size())];
    const double s = statistic(resample);
    if (!std::isfinite(s)) ++out.nonfinite;
    out.replicates.push_back(s);
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (!std::isfinite(out.estimate) || out.nonfinite > 0) {
    out.status = BootstrapStatus::kNonFinite;
    out.ci_low = out.ci_high = nan;
    return out;
  }
  const double alpha = 1.0 - options.confidence;
  out.ci_low = sample_quantile(out.replicates, alpha / 2.0);
  out.ci_high = sample_quantile(out.replicates, 1.0 - alpha / 2.0);
  return out;
}

}  // namespace muft::stats
