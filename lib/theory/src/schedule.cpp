#include "muft/theory/schedule.h"

#include <cmath>
#include <sstream>

namespace muft::theory {

double StepSchedule::eta(long t) const {
  if (kind == Kind::kConstant) return eta0;
  return eta0 / std::pow(static_cast<double>(t) + 1.0, power);
}

double StepSchedule::partial_sum(long T) const {
  double s = 0.0;
  for (long t = 0; t < T; ++t) s += eta(t);
  return s;
}

bool StepSchedule::halving_ratio_ok() const {
  // (t+1/t)^p <= 2 for t >= 1 iff p <= 1.
  return kind == Kind::kConstant || (power > 0.0 && power <= 1.0);
}

bool StepSchedule::IsValid(std::string* error) const {
  std::ostringstream msg;
  if (!(eta0 > 0.0 && std::isfinite(eta0))) {
    msg << "step size eta0 must be positive and finite, got " << eta0;
  } else if (kind == Kind::kInversePower && !(power > 0.0 && power <= 1.0)) {
    msg << "schedule power p must be in (0, 1] (eta_t -> 0, sum eta_t = inf), got " << power;
  } else {
    return true;
  }
  if (error != nullptr) *error = msg.str();
  return false;
}

StepSchedule StepSchedule::constant(double eta0) {
  StepSchedule s;
  s.kind = Kind::kConstant;
  s.eta0 = eta0;
  return s;
}

StepSchedule StepSchedule::inverse_power(double eta0, double power) {
  StepSchedule s;
  s.kind = Kind::kInversePower;
  s.eta0 = eta0;
  s.power = power;
  return s;
}

}  // namespace muft::theory
