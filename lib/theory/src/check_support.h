#pragma once
// Private helpers shared by the check implementations.

#include <Eigen/Dense>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "muft/theory/checks.h"
#include "muft/theory/problems.h"
#include "muft/theory/schedule.h"
#include "muft/theory/trajectory.h"
#include "muft/theory/update_rules.h"

namespace muft::theory::detail {

/// Accumulates error-versus-bound comparisons into a CheckResult.
class Tally {
 public:
  explicit Tally(CheckResult* r) : r_(r) {}
  /// err <= bound must hold; records the worst ratio.
  void compare(double err, double bound, const std::string& what);
  /// A boolean requirement.
  void require(bool ok, const std::string& what);
  void fail(const std::string& what);

 private:
  CheckResult* r_;
  bool first_ = true;
};

/// eta0 chosen so that sum_{s < T1} eta_s = 2 r0: the Lemma D.1 entry happens before the first
/// grid point, so the bound there is already eta_{T-1}.
StepSchedule schedule_for(double r0, double power, long T1);

/// Schedule power of instance i: cycles through 0.5, 0.75, 1.
double power_for(int i);

/// Errors of the iterates at the grid steps against a claimed limit.
std::vector<double> errors_on_grid(const Regression& p, const Eigen::MatrixXd& W_init,
                                   const OptimizerSpec& spec, const std::vector<long>& grid,
                                   const Eigen::MatrixXd& claimed, DistanceNorm norm,
                                   Trajectory* full = nullptr);

/// The T grid of the convergence checks.
const std::vector<long>& convergence_grid();

/// Rounding allowance for T accumulated steps on a quantity of size `scale`.
inline double roundoff(double scale, long T) {
  return 64.0 * std::numeric_limits<double>::epsilon() * (1.0 + scale) * static_cast<double>(T + 1);
}

/// Seed of check `salt` under options.
inline unsigned long long check_seed(const CheckOptions& o, unsigned long long salt) {
  return o.seed * 0x9E3779B97F4A7C15ULL + salt;
}

std::string fmt_num(double v);

// Check entry points (one file per group).
CheckResult check_lemma_d1(const CheckOptions& o);
CheckResult check_thm31_signgd(const CheckOptions& o);
CheckResult check_thm32_muon(const CheckOptions& o);
CheckResult check_prop_d4(const CheckOptions& o);
CheckResult check_prop_d5(const CheckOptions& o);
CheckResult check_cor_d6(const CheckOptions& o);
CheckResult check_cor_d7(const CheckOptions& o);
CheckResult check_prop_d8(const CheckOptions& o);
CheckResult check_obs_implicit_bias(const CheckOptions& o);
CheckResult check_obs_adam_eps(const CheckOptions& o);
CheckResult check_obs_momentum(const CheckOptions& o);
CheckResult check_multi_sample(const CheckOptions& o);

}  // namespace muft::theory::detail
