#include "muft/theory/sign_descent.h"

#include <algorithm>
#include <stdexcept>

namespace muft::theory {

double sign_descent(double d0, const StepSchedule& s, long T) {
  double d = d0;
  for (long t = 0; t < T; ++t) d -= s.eta(t) * static_cast<double>((d > 0.0) - (d < 0.0));
  return d;
}

double sign_descent_bound(double d0_abs, const StepSchedule& s, long T) {
  if (T < 1) throw std::invalid_argument("sign_descent_bound needs T >= 1");
  if (!s.halving_ratio_ok()) {
    throw std::invalid_argument("sign_descent_bound needs eta_{t-1} <= 2 eta_t (p <= 1)");
  }
  return std::max(d0_abs - s.partial_sum(T), s.eta(T - 1));
}

}  // namespace muft::theory
