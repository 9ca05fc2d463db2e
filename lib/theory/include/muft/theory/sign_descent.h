#pragma once
/// \file sign_descent.h
/// Lemma D.1 of arXiv 2605.10468: the scalar sign-descent recurrence and the error bound that
/// the convergence checks compare with.

#include "muft/theory/schedule.h"

namespace muft::theory {

/// \f$d_T\f$ of \f$d_{t+1} = d_t - \eta_t\,\mathrm{sign}(d_t)\f$ (sign(0) = 0) from d0.
double sign_descent(double d0, const StepSchedule& s, long T);

/// Bound on \f$|d_T|\f$ for T >= 1: \f$\max(|d_0| - \sum_{s<T}\eta_s,\ \eta_{T-1})\f$.
/// Valid when \f$\eta_t\f$ is nonincreasing with \f$\eta_{t-1} \le 2\eta_t\f$ (constant or
/// inverse power with p <= 1): before the first t with \f$|d_t| < \eta_t\f$ the distance drops
/// by exactly \f$\eta_t\f$ per step; afterwards \f$|d_{t+1}| \le \eta_t\f$ by induction.
/// Throws std::invalid_argument when the schedule violates the ratio condition or T < 1.
double sign_descent_bound(double d0_abs, const StepSchedule& s, long T);

}  // namespace muft::theory
