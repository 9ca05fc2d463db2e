#include "muft/theory/checks.h"

#include <chrono>
#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "check_support.h"

namespace muft::theory {

bool CheckOptions::IsValid(std::string* error) const {
  if (instances < 1 || instances > 100000) {
    if (error != nullptr) {
      *error = "instances must be in [1, 100000], got " + std::to_string(instances);
    }
    return false;
  }
  return true;
}

const char* to_string(CheckStatus s) {
  switch (s) {
    case CheckStatus::kPass:
      return "PASS";
    case CheckStatus::kFail:
      return "FAIL";
    case CheckStatus::kInfo:
      return "INFO";
  }
  return "?";
}

void CheckRecord::add_vector(const std::string& key, const std::vector<double>& v) {
  arrays.push_back(
      {key, Eigen::Map<const Eigen::VectorXd>(v.data(), static_cast<Eigen::Index>(v.size())),
       true});
}

const std::vector<CheckInfo>& all_checks() {
  using namespace detail;
  static const std::vector<CheckInfo> kChecks{
      {"lemma-d1", "d_{t+1} = d_t - eta_t sign(d_t) -> 0; |d_T| <= max(|d_0| - sum eta, eta_{T-1})",
       check_lemma_d1},
      {"thm-3.1-signgd",
       "SignGD from 0 -> y sign(x)'/|x|_1, whose max-norm |y|_inf/|x|_1 is the LP minimum",
       check_thm31_signgd},
      {"thm-3.2-muon", "Muon from 0 -> y x'/|x|^2, whose spectral norm |y|/|x| is the minimum",
       check_thm32_muon},
      {"prop-d4-continuation",
       "from W0: SignGD -> W0 + r0 sign(z)'/|z|_1, Muon -> W0 + r0 z'/|z|^2", check_prop_d4},
      {"prop-d5-budget",
       "E_max(rho) = 1/2 sum(|r0_i| - rho|z|_1)_+^2, E_2(rho) = 1/2 (|r0| - rho|z|)_+^2",
       check_prop_d5},
      {"cor-d6-thresholds",
       "|D_mu|_max = |r0|_inf|z|_inf/|z|^2 >= rho_A; |D_s|_2 = sqrt|z|_0 |r0|/|z|_1 >= rho_mu",
       check_cor_d6},
      {"cor-d7-damage", "L_old = |Dx|^2/2 <= (m/2)|D|_max^2|x|_1^2 and <= |D|_2^2|x|^2/2",
       check_cor_d7},
      {"prop-d8-lora",
       "LoRA surrogate: B_s = r0 sign(u)'/|u|_1, B_mu = r0 u'/|u|^2; inflation <= |u|_0 <= r, "
       "<= sqrt|u|_0 <= sqrt r",
       check_prop_d8},
      {"obs-implicit-bias", "Adam/SignGD/Muon exact, NS5, PE on Wx = y: distances to W*_max, W*_2",
       check_obs_implicit_bias},
      {"obs-adam-eps", "real Adam (0.9, 0.999), eps 1e-8..1e-3: closer to W*_max or W*_2?",
       check_obs_adam_eps},
      {"obs-momentum", "Muon exact/NS5/PE and Adam with EMA/classical/Nesterov momentum",
       check_obs_momentum},
      {"multi-sample",
       "k > 1 samples: optimizer limits vs numerical min max-norm (LP) and min spectral norm",
       check_multi_sample},
  };
  return kChecks;
}

const CheckInfo* find_check(const std::string& name) {
  for (const auto& c : all_checks()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

CheckResult run_check(const CheckInfo& check, const CheckOptions& opts) {
  std::string why;
  if (!opts.IsValid(&why)) throw std::invalid_argument(why);
  const auto t0 = std::chrono::steady_clock::now();
  CheckResult r = check.run(opts);
  r.name = check.name;
  r.statement = check.statement;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

namespace detail {

std::string fmt_num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3e", v);
  return buf;
}

void Tally::fail(const std::string& what) {
  if (r_->status != CheckStatus::kFail) {
    r_->status = CheckStatus::kFail;
    r_->note = what;
  }
}

void Tally::compare(double err, double bound, const std::string& what) {
  double ratio;
  if (std::isnan(err) || std::isnan(bound)) {
    ratio = std::numeric_limits<double>::infinity();
  } else if (bound > 0.0) {
    ratio = err / bound;
  } else {
    ratio = err > 0.0 ? std::numeric_limits<double>::infinity() : 0.0;
  }
  if (first_ || ratio > r_->worst_ratio) {
    r_->worst_ratio = ratio;
    r_->worst_error = err;
    r_->bound = bound;
    first_ = false;
  }
  if (!(err <= bound)) fail(what + ": error " + fmt_num(err) + " > bound " + fmt_num(bound));
}

void Tally::require(bool ok, const std::string& what) {
  if (!ok) fail(what);
}

StepSchedule schedule_for(double r0, double power, long T1) {
  const StepSchedule unit = StepSchedule::inverse_power(1.0, power);
  return StepSchedule::inverse_power(2.0 * std::max(r0, 1e-300) / unit.partial_sum(T1), power);
}

double power_for(int i) {
  static const double kPowers[] = {0.5, 0.75, 1.0};
  return kPowers[i % 3];
}

const std::vector<long>& convergence_grid() {
  static const std::vector<long> kGrid{50, 400, 3200};
  return kGrid;
}

std::vector<double> errors_on_grid(const Regression& p, const Eigen::MatrixXd& W_init,
                                   const OptimizerSpec& spec, const std::vector<long>& grid,
                                   const Eigen::MatrixXd& claimed, DistanceNorm norm,
                                   Trajectory* full) {
  std::vector<long> rec = full != nullptr ? record_schedule(grid.back(), 60, grid) : grid;
  const Trajectory tr =
      run_optimizer(p, W_init, spec, grid.back(), rec, {Reference{"claimed", claimed, norm}});
  std::vector<double> out;
  for (long T : grid) {
    double e = std::numeric_limits<double>::quiet_NaN();
    for (std::size_t i = 0; i < tr.step.size(); ++i) {
      if (tr.step[i] == T) e = tr.dist[0][i];
    }
    out.push_back(e);
  }
  if (full != nullptr) *full = tr;
  return out;
}

}  // namespace detail
}  // namespace muft::theory
