#pragma once
/// \file polar_express.h
/// Polar Express coefficient generator (Amsel et al.; used by Muon-PE in
/// arXiv 2605.10468, App. B/E.1). Coefficients are computed, never pasted.

#include <array>
#include <string>
#include <vector>

namespace muft::theory {

/// Options of the generator; defaults are the paper's setting.
struct PolarExpressOptions {
  double lower = 1e-3;  ///< ℓ: lower end of the initial singular-value interval (0 < ℓ < 1)
  int iterations = 10;  ///< K: number of quintic steps generated
  double safety =
      1e-2;  ///< divide (a,b,c) by (s,s^3,s^5), s = 1 + safety, on all but the last step
  double cushion = 0.02;  ///< fit on [max(ℓ, cushion·u), u]
  /// Validates the options; on failure writes a one-line reason.
  bool IsValid(std::string* error) const;
};

/// One odd quintic p(x) = a x + b x^3 + c x^5 per iteration, in order.
/// Throws std::invalid_argument when !opts.IsValid().
std::vector<std::array<double, 3>> polar_express_coefficients(const PolarExpressOptions& opts = {});

/// Outcome of the Remez fixed point for one quintic.
enum class QuinticStatus {
  kConverged,       ///< error level changed by < 1e-15 between two solves
  kTaylorLimit,     ///< lo/hi >= 1 - 5e-6: closed-form limit (15/8, -10/8, 3/8) scaled to hi
  kNotConverged,    ///< 200 solves without the level settling
  kNumericalIssue,  ///< singular system or complex extrema
};

/// One equioscillating odd quintic and how it was found.
struct OptimalQuintic {
  std::array<double, 3> abc{};  ///< (a, b, c) of p(x) = a x + b x^3 + c x^5
  double error = 0.0;           ///< equioscillation level E: max |p(x) - 1| on [lo, hi]
  int iterations = 0;           ///< 4x4 alternation solves used
  QuinticStatus status = QuinticStatus::kConverged;
};

/// \f$ p(x) = a x + b x^3 + c x^5 \f$ evaluated in Horner form.
double quintic_value(const std::array<double, 3>& abc, double x);

/// Minimax odd quintic approximating 1 on [lo, hi] (0 < lo <= hi): a Remez fixed point on the
/// alternation system p(lo) = 1 - E, p(q) = 1 + E, p(r) = 1 - E, p(hi) = 1 + E, where q < r are
/// the positive roots of p'; stops when E changes by < 1e-15. Throws std::invalid_argument on a
/// bad interval; numerical failures are reported in the status.
OptimalQuintic optimal_quintic(double lo, double hi);

}  // namespace muft::theory
