#pragma once
/// \file schedule.h
/// Step-size schedules of the theory optimizers (arXiv 2605.10468, Lemma D.1 conditions).

#include <string>

namespace muft::theory {

/// \f$\eta_t = \eta_0\f$ (constant) or \f$\eta_t = \eta_0/(t+1)^p\f$ with \f$0 < p \le 1\f$
/// (inverse power: \f$\eta_t \to 0\f$ and \f$\sum_t \eta_t = \infty\f$, the conditions of
/// Lemma D.1).
struct StepSchedule {
  enum class Kind { kConstant, kInversePower };
  Kind kind = Kind::kInversePower;  ///< which schedule
  double eta0 = 0.1;                ///< \f$\eta_0 > 0\f$
  double power = 0.5;               ///< p in (0, 1]; ignored for kConstant

  /// Step size at step t >= 0.
  double eta(long t) const;
  /// \f$\sum_{s=0}^{T-1} \eta_s\f$ (0 for T <= 0).
  double partial_sum(long T) const;
  /// True when \f$\eta_{t-1} \le 2\eta_t\f$ for all t >= 1 and \f$\eta_t\f$ is nonincreasing:
  /// the condition under which the sign-descent bound of Lemma D.1 holds (see lemma_d1.h).
  bool halving_ratio_ok() const;
  bool IsValid(std::string* error) const;
  static StepSchedule constant(double eta0);
  static StepSchedule inverse_power(double eta0, double power);
};

}  // namespace muft::theory
