#include "muft/stats/summary.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>

namespace muft::stats {
namespace {

void check_probability(double p, const char* what) {
  if (!(p > 0.0 && p < 1.0))
    throw std::invalid_argument(std::string(what) + " must be in (0, 1), got " + std::to_string(p));
}

}  // namespace

double t_quantile(double p, double dof) {
  check_probability(p, "probability");
  if (!(dof > 0.0)) throw std::invalid_argument("degrees of freedom must be > 0");
  return boost::math::quantile(boost::math::students_t_distribution<double>(dof), p);
}

double normal_quantile(double p) {
  check_probability(p, "probability");
  return boost::math::quantile(boost::math::normal_distribution<double>(0.0, 1.0), p);
}

double normal_cdf(double x) {
  if (std::isnan(x)) return x;
  if (std::isinf(x)) return x > 0 ? 1.0 : 0.0;
  return boost::math::cdf(boost::math::normal_distribution<double>(0.0, 1.0), x);
}

Summary summarize(const std::vector<double>& values, double confidence) {
  if (values.empty()) throw std::invalid_argument("cannot summarize an empty sample");
  check_probability(confidence, "confidence");
  Summary s;
  s.n = values.size();
  s.confidence = confidence;
  double sum = 0.0;
  for (double v : values) sum += v;
  s.mean = sum / static_cast<double>(s.n);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (s.n == 1) {
    s.std = 0.0;
    s.sem = 0.0;
    s.ci_low = s.ci_high = nan;
    return s;
  }
  double ss = 0.0;
  for (double v : values) ss += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(ss / static_cast<double>(s.n - 1));
  s.sem = s.std / std::sqrt(static_cast<double>(s.n));
  if (!std::isfinite(s.mean)) {
    s.ci_low = s.ci_high = nan;
    return s;
  }
  const double t = t_quantile(1.0 - (1.0 - confidence) / 2.0, static_cast<double>(s.n - 1));
  s.ci_low = s.mean - t * s.sem;
  s.ci_high = s.mean + t * s.sem;
  return s;
}

PairedDifference paired_difference(const std::vector<double>& a, const std::vector<double>& b,
                                   double confidence) {
  if (a.size() != b.size() || a.empty())
    throw std::invalid_argument(
        "paired difference needs two samples of the same length >= 1, got " +
        std::to_string(a.size()) + " and " + std::to_string(b.size()));
  std::vector<double> d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  PairedDifference r;
  r.difference = summarize(d, confidence);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (d.size() < 2 || !std::isfinite(r.difference.mean)) {
    r.t = nan;
    r.p_value = nan;
    return r;
  }
  if (r.difference.sem == 0.0) {
    r.t = r.difference.mean == 0.0
              ? 0.0
              : std::copysign(std::numeric_limits<double>::infinity(), r.difference.mean);
    r.p_value = r.difference.mean == 0.0 ? 1.0 : 0.0;
    return r;
  }
  r.t = r.difference.mean / r.difference.sem;
  const boost::math::students_t_distribution<double> dist(static_cast<double>(d.size() - 1));
  r.p_value = 2.0 * boost::math::cdf(boost::math::complement(dist, std::fabs(r.t)));
  return r;
}

}  // namespace muft::stats
