// Polar Express coefficient generator (Amsel et al.), as used by Muon-PE in arXiv 2605.10468.
#include "muft/theory/polar_express.h"

#include <Eigen/Dense>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace muft::theory {

bool PolarExpressOptions::IsValid(std::string* error) const {
  std::ostringstream msg;
  if (!(lower > 0.0 && lower < 1.0)) {
    msg << "lower must be in (0, 1), got " << lower;
  } else if (iterations < 1 || iterations > 1000) {
    msg << "iterations must be in [1, 1000], got " << iterations;
  } else if (!(safety >= 0.0 && safety < 1.0)) {
    msg << "safety must be in [0, 1), got " << safety;
  } else if (!(cushion >= 0.0 && cushion < 1.0)) {
    msg << "cushion must be in [0, 1), got " << cushion;
  } else {
    return true;
  }
  if (error != nullptr) *error = msg.str();
  return false;
}

double quintic_value(const std::array<double, 3>& abc, double x) {
  const double x2 = x * x;
  return x * (abc[0] + x2 * (abc[1] + x2 * abc[2]));
}

OptimalQuintic optimal_quintic(double lo, double hi) {
  if (!(lo > 0.0 && lo <= hi && std::isfinite(hi))) {
    std::ostringstream msg;
    msg << "optimal_quintic needs 0 < lo <= hi, got [" << lo << ", " << hi << "]";
    throw std::invalid_argument(msg.str());
  }
  OptimalQuintic out;
  if (lo / hi >= 1.0 - 5e-6) {
    // The equioscillating quintic tends to the degree-5 Taylor-type map 15/8 x - 10/8 x^3 + 3/8
    // x^5 (rescaled to [.., hi]) as the interval shrinks; the 4x4 system is singular there.
    out.abc = {15.0 / 8.0 / hi, -10.0 / 8.0 / (hi * hi * hi), 3.0 / 8.0 / std::pow(hi, 5)};
    out.error = 0.0;
    out.iterations = 0;
    out.status = QuinticStatus::kTaylorLimit;
    return out;
  }
  // Interior alternation points; exact in the limit lo -> hi.
  double q = (3.0 * lo + hi) / 4.0;
  double r = (lo + 3.0 * hi) / 4.0;
  double level = std::numeric_limits<double>::infinity();
  constexpr int kMaxIterations = 200;
  for (int it = 1; it <= kMaxIterations; ++it) {
    // p(l) = 1 - E, p(q) = 1 + E, p(r) = 1 - E, p(u) = 1 + E  written as [x x^3 x^5 s] [a b c E]'.
    Eigen::Matrix4d lhs;
    const double pts[4] = {lo, q, r, hi};
    for (int i = 0; i < 4; ++i) {
      const double x = pts[i];
      lhs(i, 0) = x;
      lhs(i, 1) = x * x * x;
      lhs(i, 2) = x * x * x * x * x;
      lhs(i, 3) = (i % 2 == 0) ? 1.0 : -1.0;
    }
    const Eigen::Vector4d sol = lhs.fullPivLu().solve(Eigen::Vector4d::Ones());
    const double a = sol(0), b = sol(1), c = sol(2), e = sol(3);
    out.abc = {a, b, c};
    out.error = std::abs(e);
    out.iterations = it;
    const double old_level = level;
    level = e;
    if (!std::isfinite(e)) {
      out.status = QuinticStatus::kNumericalIssue;
      return out;
    }
    if (std::abs(old_level - level) < 1e-15) {
      out.status = QuinticStatus::kConverged;
      return out;
    }
    // New interior extrema: roots of p'(x) = a + 3b x^2 + 5c x^4.
    const double disc = 9.0 * b * b - 20.0 * a * c;
    if (!(disc >= 0.0) || c == 0.0) {
      out.status = QuinticStatus::kNumericalIssue;
      return out;
    }
    const double sq = std::sqrt(disc);
    const double q2 = (-3.0 * b - sq) / (10.0 * c);
    const double r2 = (-3.0 * b + sq) / (10.0 * c);
    if (!(q2 > 0.0 && r2 > 0.0)) {
      out.status = QuinticStatus::kNumericalIssue;
      return out;
    }
    q = std::sqrt(q2);
    r = std::sqrt(r2);
  }
  out.status = QuinticStatus::kNotConverged;
  return out;
}

std::vector<std::array<double, 3>> polar_express_coefficients(const PolarExpressOptions& opts) {
  std::string why;
  if (!opts.IsValid(&why)) throw std::invalid_argument("Polar Express options: " + why);
  std::vector<std::array<double, 3>> coeffs;
  coeffs.reserve(static_cast<std::size_t>(opts.iterations));
  double lo = opts.lower;
  double hi = 1.0;
  const double s = 1.0 + opts.safety;
  for (int k = 0; k < opts.iterations; ++k) {
    const OptimalQuintic fit = optimal_quintic(std::max(lo, opts.cushion * hi), hi);
    if (fit.status == QuinticStatus::kNumericalIssue ||
        fit.status == QuinticStatus::kNotConverged) {
      throw std::runtime_error("Polar Express: the Remez iteration failed at step " +
                               std::to_string(k + 1));
    }
    std::array<double, 3> abc = fit.abc;
    if (opts.cushion * hi > lo) {
      // The fit ignored [lo, cushion*hi]; recentre so that p(lo) and p(hi) straddle 1 evenly.
      const double rescale = 2.0 / (quintic_value(abc, lo) + quintic_value(abc, hi));
      for (double& v : abc) v *= rescale;
    }
    if (k + 1 < opts.iterations) {
      abc[0] /= s;
      abc[1] /= s * s * s;
      abc[2] /= s * s * s * s * s;
    }
    coeffs.push_back(abc);
    lo = quintic_value(abc, lo);
    hi = 2.0 - lo;
  }
  return coeffs;
}

}  // namespace muft::theory
