#include "muft/stats/meta.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <boost/math/distributions/students_t.hpp>

#include "muft/stats/summary.h"

namespace muft::stats {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_confidence(double confidence) {
  if (!(confidence > 0.0 && confidence < 1.0))
    throw std::invalid_argument("confidence must be in (0, 1)");
}

void check_effects(const std::vector<Effect>& effects) {
  if (effects.empty()) throw std::invalid_argument("meta-analysis needs at least one task");
  for (const auto& e : effects) {
    if (!std::isfinite(e.y))
      throw std::invalid_argument("task '" + e.task + "': effect not finite");
    if (!(std::isfinite(e.variance) && e.variance > 0.0))
      throw std::invalid_argument("task '" + e.task +
                                  "': variance must be finite and > 0 (are all stds 0?)");
  }
}

/// Two-sided p-value of a t statistic with `df` degrees of freedom; ±inf gives 0, NaN gives NaN.
double t_two_sided_p(double t, double df) {
  if (std::isnan(t)) return kNaN;
  if (std::isinf(t)) return 0.0;
  const boost::math::students_t_distribution<double> dist(df);
  return 2.0 * boost::math::cdf(boost::math::complement(dist, std::fabs(t)));
}

/// μ / se, with ±inf for se = 0 and μ ≠ 0, and 0 for μ = se = 0 (nothing to test).
double ratio(double mu, double se) {
  if (se > 0.0) return mu / se;
  return mu == 0.0 ? 0.0 : std::copysign(std::numeric_limits<double>::infinity(), mu);
}

}  // namespace

Interval effect_interval(const Effect& e, double confidence) {
  check_confidence(confidence);
  if (std::isnan(e.df) || !(e.df > 0.0)) return {kNaN, kNaN};
  const double p = 1.0 - (1.0 - confidence) / 2.0;
  const double q = std::isinf(e.df) ? normal_quantile(p) : t_quantile(p, e.df);
  const double half = q * std::sqrt(e.variance);
  return {e.y - half, e.y + half};
}

HksjInterval hksj_interval(const std::vector<Effect>& effects, double tau2, double confidence) {
  check_effects(effects);
  check_confidence(confidence);
  if (!(std::isfinite(tau2) && tau2 >= 0.0))
    throw std::invalid_argument("tau2 must be finite and >= 0");
  HksjInterval h;
  const std::size_t k = effects.size();
  if (k < 2) return h;
  double sw = 0.0, swy = 0.0;
  for (const auto& e : effects) {
    const double w = 1.0 / (e.variance + tau2);
    sw += w;
    swy += w * e.y;
  }
  const double mu = swy / sw;
  double ss = 0.0;  // Σ w*(y − μ)²
  for (const auto& e : effects) ss += (e.y - mu) * (e.y - mu) / (e.variance + tau2);
  h.defined = true;
  h.df = static_cast<double>(k - 1);
  const double q = ss / (h.df * sw);
  h.scale = q * sw;
  h.se = std::sqrt(q);
  const double tq = t_quantile(1.0 - (1.0 - confidence) / 2.0, h.df);
  h.ci_low = mu - tq * h.se;
  h.ci_high = mu + tq * h.se;
  h.t = ratio(mu, h.se);
  h.p_value = t_two_sided_p(h.t, h.df);
  h.modified_se = std::sqrt(std::max(q, 1.0 / sw));
  h.modified_ci_low = mu - tq * h.modified_se;
  h.modified_ci_high = mu + tq * h.modified_se;
  h.modified_p_value = t_two_sided_p(ratio(mu, h.modified_se), h.df);
  return h;
}

MetaResult dersimonian_laird(const std::vector<Effect>& effects, double confidence) {
  check_effects(effects);
  check_confidence(confidence);
  MetaResult r;
  r.k = effects.size();
  r.confidence = confidence;
  double sw = 0.0, sw2 = 0.0, swy = 0.0;
  for (const auto& e : effects) {
    const double w = 1.0 / e.variance;
    sw += w;
    sw2 += w * w;
    swy += w * e.y;
  }
  r.fixed_estimate = swy / sw;
  for (const auto& e : effects)
    r.q += (e.y - r.fixed_estimate) * (e.y - r.fixed_estimate) / e.variance;
  const double df = static_cast<double>(r.k) - 1.0;
  if (r.k == 1) {
    r.status = MetaStatus::kSingleStudy;
    r.tau2 = 0.0;
    r.q = 0.0;
  } else {
    const double c = sw - sw2 / sw;
    r.tau2 = std::max(0.0, (r.q - df) / c);
  }
  r.i2 = r.q > 0.0 ? std::max(0.0, (r.q - df) / r.q) : 0.0;
  double sws = 0.0, swsy = 0.0;
  for (const auto& e : effects) {
    const double w = 1.0 / (e.variance + r.tau2);
    sws += w;
    swsy += w * e.y;
  }
  for (const auto& e : effects) r.weights.push_back(1.0 / (e.variance + r.tau2) / sws);
  r.estimate = swsy / sws;
  r.se = 1.0 / std::sqrt(sws);
  const double zq = normal_quantile(1.0 - (1.0 - confidence) / 2.0);
  r.ci_low = r.estimate - zq * r.se;
  r.ci_high = r.estimate + zq * r.se;
  r.z = r.estimate / r.se;
  // 2(1 − Φ(|z|)) computed as 2Φ(−|z|) so tiny p-values keep their precision.
  r.p_value = 2.0 * normal_cdf(-std::fabs(r.z));
  r.hksj = hksj_interval(effects, r.tau2, confidence);
  return r;
}

}  // namespace muft::stats
