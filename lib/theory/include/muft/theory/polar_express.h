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
  double lower = 1e-3;    ///< ℓ: lower end of the initial singular-value interval (0 < ℓ < 1)
  int iterations = 10;    ///< K: number of quintic steps generated
  double safety = 1e-2;   ///< divide (a,b,c) by (s,s^3,s^5), s = 1 + safety, on all but the last step
  double cushion = 0.02;  ///< fit on [max(ℓ, cushion·u), u]
  /// Validates the options; on failure writes a one-line reason.
  bool IsValid(std::string* error) const;
};

/// One odd quintic p(x) = a x + b x^3 + c x^5 per iteration, in order.
/// Throws std::invalid_argument when !opts.IsValid().
std::vector<std::array<double, 3>> polar_express_coefficients(const PolarExpressOptions& opts = {});

}  // namespace muft::theory
