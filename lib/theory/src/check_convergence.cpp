// Convergence checks: Lemma D.1, Theorems 3.1 / 3.2 (D.2 / D.3), Proposition D.4.
#include <cmath>
#include <string>

#include "check_support.h"
#include "muft/theory/closed_forms.h"
#include "muft/theory/min_norm.h"
#include "muft/theory/sign_descent.h"

namespace muft::theory::detail {
namespace {

std::string tag(int i, int m, int n) {
  return "instance " + std::to_string(i) + " (" + std::to_string(m) + "x" + std::to_string(n) + ")";
}

// Runs the optimizer, compares the iterates at every grid step with the claimed limit, and
// requires error <= sign-descent bound + rounding, with the bound shrinking along the grid.
void converge_and_compare(Tally& tally, const Regression& p, const Eigen::MatrixXd& W_init,
                          const OptimizerSpec& spec, double r0, const Eigen::MatrixXd& claimed,
                          DistanceNorm norm, const std::string& label, CheckRecord* rec,
                          std::vector<double>* worst_by_T) {
  const auto& grid = convergence_grid();
  Trajectory full;
  const std::vector<double> errs =
      errors_on_grid(p, W_init, spec, grid, claimed, norm, rec != nullptr ? &full : nullptr);
  std::vector<double> bounds;
  for (std::size_t g = 0; g < grid.size(); ++g) {
    // The bound is stated for the schedule the claim assumes (decaying, p <= 1).
    const StepSchedule& s = spec.schedule;
    const double b = sign_descent_bound(r0, s, grid[g]) + roundoff(r0 + max_norm(claimed), grid[g]);
    bounds.push_back(b);
    tally.compare(errs[g], b, label + " at T=" + std::to_string(grid[g]));
    worst_by_T->resize(grid.size(), 0.0);
    (*worst_by_T)[g] = std::max((*worst_by_T)[g], errs[g]);
    if (g > 0) tally.require(bounds[g] < bounds[g - 1], label + ": bound does not shrink with T");
  }
  if (rec != nullptr) {
    std::vector<double> T(grid.begin(), grid.end());
    rec->add_vector(spec.label + "_grid_T", T);
    rec->add_vector(spec.label + "_grid_error", errs);
    rec->add_vector(spec.label + "_grid_bound", bounds);
    std::vector<double> steps(full.step.begin(), full.step.end());
    rec->add_vector(spec.label + "_steps", steps);
    rec->add_vector(spec.label + "_loss", full.loss);
    rec->add_vector(spec.label + "_distance", full.dist[0]);
    rec->add(spec.label + "_W_final", full.W_final);
    rec->add_scalar(spec.label + "_eta0", spec.schedule.eta0);
    rec->add_scalar(spec.label + "_power", spec.schedule.power);
  }
}

// Metrics "<key>_T<T>": the worst error over instances at each grid T (shows the shrinkage).
void add_by_T(CheckResult* r, const std::string& key, const std::vector<double>& by_T) {
  for (std::size_t g = 0; g < by_T.size(); ++g) {
    r->metrics.emplace_back(key + "_T" + std::to_string(convergence_grid()[g]), by_T[g]);
  }
}

}  // namespace

CheckResult check_lemma_d1(const CheckOptions& o) {
  CheckResult r;
  Tally tally(&r);
  InstanceSampler smp(check_seed(o, 1));
  CheckRecord rec;
  rec.name = "instance_0";
  for (int i = 0; i < o.instances; ++i) {
    const double p = power_for(i);
    double d0 = smp.uniform(-5.0, 5.0);
    if (i % 8 == 3) d0 = 0.0;  // stays at 0
    const StepSchedule s = schedule_for(std::max(std::abs(d0), 0.5), p, convergence_grid()[0]);
    if (i % 8 == 5) d0 = s.eta(0);  // lands exactly on 0 after one step
    // The mismatched run keeps eta_0 forever (eta_t -/-> 0): the iterates oscillate at eta_0.
    const StepSchedule run_s =
        o.fault == Fault::kMismatchedOptimizer ? StepSchedule::constant(s.eta0) : s;
    const double claimed = o.fault == Fault::kWrongLimit ? 0.1 : 0.0;
    std::vector<double> errs, bounds;
    for (long T : convergence_grid()) {
      const double e = std::abs(sign_descent(d0, run_s, T) - claimed);
      const double b = sign_descent_bound(std::abs(d0), s, T) + roundoff(std::abs(d0), T);
      tally.compare(e, b, "d0=" + fmt_num(d0) + " p=" + fmt_num(p) + " T=" + std::to_string(T));
      errs.push_back(e);
      bounds.push_back(b);
    }
    if (i == 0) {
      std::vector<double> traj, eta;
      double d = d0;
      for (long t = 0; t <= convergence_grid().back(); ++t) {
        traj.push_back(d);
        eta.push_back(s.eta(t));
        d -= s.eta(t) * static_cast<double>((d > 0.0) - (d < 0.0));
      }
      rec.add_scalar("d0", d0);
      rec.add_scalar("eta0", s.eta0);
      rec.add_scalar("power", p);
      rec.add_vector("d", traj);
      rec.add_vector("eta", eta);
      rec.add_vector("grid_T",
                     std::vector<double>(convergence_grid().begin(), convergence_grid().end()));
      rec.add_vector("grid_error", errs);
      rec.add_vector("grid_bound", bounds);
    }
  }
  r.instances = o.instances;
  r.records.push_back(rec);
  return r;
}

namespace {

// Shared body of Theorems 3.1 and 3.2: runs the theorem's optimizer (or the other one under
// kMismatchedOptimizer) and checks the limit, then checks the minimum-norm claim numerically.
CheckResult single_sample_theorem(const CheckOptions& o, bool sign_geometry) {
  CheckResult r;
  Tally tally(&r);
  std::vector<double> worst_by_T;
  InstanceSampler smp(check_seed(o, sign_geometry ? 2 : 3));
  double worst_min_gap = 0.0;
  for (int i = 0; i < o.instances; ++i) {
    auto [m, n] = smp.shape(i);
    const Eigen::VectorXd x = smp.gaussian(n, i % 2 == 1), y = smp.gaussian(m);
    const Regression p = Regression::single(x, y);
    const bool wrong = o.fault == Fault::kWrongLimit;
    const bool run_sign = sign_geometry != (o.fault == Fault::kMismatchedOptimizer);
    // Claimed limit and the distance in the theorem's own geometry.
    const Eigen::MatrixXd claimed = (sign_geometry != wrong) ? w_star_max(x, y) : w_star_2(x, y);
    // (the claimed minimum below follows the same claim)
    const DistanceNorm norm = sign_geometry ? DistanceNorm::kMax : DistanceNorm::kSpectral;
    const double r0 = sign_geometry ? min_max_norm_closed(x, y) : min_spectral_norm_closed(x, y);
    const double power = power_for(i);
    const StepSchedule s = schedule_for(r0, power, convergence_grid()[0]);
    const OptimizerSpec spec = run_sign ? signgd_optimizer(s) : muon_exact_optimizer(s);
    CheckRecord rec;
    rec.name = "instance_" + std::to_string(i);
    const bool keep = i < 2;
    converge_and_compare(tally, p, Eigen::MatrixXd::Zero(m, n), spec, r0, claimed, norm,
                         tag(i, m, n), keep ? &rec : nullptr, &worst_by_T);
    // Minimum-norm claim against an independent solver.
    const bool sign_claim = sign_geometry != wrong;
    const double claimed_min =
        sign_claim ? min_max_norm_closed(x, y) : min_spectral_norm_closed(x, y);
    const double attained = sign_geometry ? max_norm(claimed) : spectral_norm(claimed);
    if (sign_geometry) {
      const MinNormResult lp = min_max_norm_lp(p.X, p.Y);
      tally.require(lp.status == SolverStatus::kConverged, tag(i, m, n) + ": LP did not solve");
      const double gap = std::abs(lp.value - claimed_min);
      worst_min_gap = std::max(worst_min_gap, gap);
      tally.compare(gap, 1e-9 * (1.0 + lp.value), tag(i, m, n) + ": LP minimum vs claimed");
      tally.compare(std::abs(attained - lp.value), 1e-9 * (1.0 + lp.value),
                    tag(i, m, n) + ": claimed limit does not attain the LP minimum");
      if (keep) {
        rec.add("lp_W", lp.W);
        rec.add_scalar("lp_min_max_norm", lp.value);
      }
    } else {
      const MinNormResult sg =
          min_spectral_norm_subgradient(p.X, p.Y, 1500, check_seed(o, 100 + i));
      // No feasible point may beat the claimed minimum; the solver's certified bracket must
      // contain it; the claimed limit must attain it.
      const double gap = std::abs(sg.value - claimed_min);
      worst_min_gap = std::max(worst_min_gap, gap);
      const double tol = 1e-10 * (1.0 + claimed_min);
      tally.require(sg.value >= claimed_min - tol && sg.lower_bound <= claimed_min + tol,
                    tag(i, m, n) + ": claimed minimum outside the certified bracket [" +
                        fmt_num(sg.lower_bound) + ", " + fmt_num(sg.value) + "]");
      tally.compare(std::abs(attained - claimed_min), tol,
                    tag(i, m, n) + ": claimed limit does not attain the minimum");
      if (keep) {
        rec.add("subgradient_W", sg.W);
        rec.add_scalar("subgradient_min_spectral_norm", sg.value);
        rec.add_scalar("certified_lower_bound", sg.lower_bound);
      }
    }
    tally.compare((claimed * x - y).norm(), 1e-12 * (1.0 + y.norm()),
                  tag(i, m, n) + ": claimed limit does not interpolate");
    if (keep) {
      rec.add("x", x);
      rec.add("y", y);
      rec.add("w_star_max", w_star_max(x, y));
      rec.add("w_star_2", w_star_2(x, y));
      rec.add_scalar("min_max_norm_closed", min_max_norm_closed(x, y));
      rec.add_scalar("min_spectral_norm_closed", min_spectral_norm_closed(x, y));
      rec.add_attribute("optimizer", spec.label);
      r.records.push_back(rec);
    }
  }
  r.instances = o.instances;
  r.metrics.emplace_back("worst_min_norm_gap", worst_min_gap);
  add_by_T(&r, "worst_error", worst_by_T);
  return r;
}

}  // namespace

CheckResult check_thm31_signgd(const CheckOptions& o) {
  return single_sample_theorem(o, true);
}
CheckResult check_thm32_muon(const CheckOptions& o) {
  return single_sample_theorem(o, false);
}

CheckResult check_prop_d4(const CheckOptions& o) {
  CheckResult r;
  Tally tally(&r);
  std::vector<double> worst_sign_by_T, worst_mu_by_T;
  InstanceSampler smp(check_seed(o, 4));
  for (int i = 0; i < o.instances; ++i) {
    auto [m, n] = smp.shape(i);
    const FineTune ft = smp.fine_tune(m, n, i % 2 == 1);
    const Eigen::VectorXd r0 = ft.r0();
    const Regression p = ft.new_task();
    Eigen::MatrixXd lim_s = continuation_sign(ft.W0, ft.z, ft.b);
    Eigen::MatrixXd lim_mu = continuation_muon(ft.W0, ft.z, ft.b);
    if (o.fault == Fault::kWrongLimit) std::swap(lim_s, lim_mu);
    const bool mism = o.fault == Fault::kMismatchedOptimizer;
    const double rs = min_max_norm_closed(ft.z, r0), rm = min_spectral_norm_closed(ft.z, r0);
    const StepSchedule ss = schedule_for(rs, power_for(i), convergence_grid()[0]);
    const StepSchedule sm = schedule_for(rm, power_for(i), convergence_grid()[0]);
    CheckRecord rec;
    rec.name = "instance_" + std::to_string(i);
    const bool keep = i == 0;
    converge_and_compare(tally, p, ft.W0, mism ? muon_exact_optimizer(ss) : signgd_optimizer(ss),
                         rs, lim_s, DistanceNorm::kMax, tag(i, m, n) + " SignGD",
                         keep ? &rec : nullptr, &worst_sign_by_T);
    converge_and_compare(tally, p, ft.W0, mism ? signgd_optimizer(sm) : muon_exact_optimizer(sm),
                         rm, lim_mu, DistanceNorm::kSpectral, tag(i, m, n) + " Muon",
                         keep ? &rec : nullptr, &worst_mu_by_T);
    // Optimality of the corrections among {D : D z = r0}.
    const MinNormResult lp = min_max_norm_lp(ft.z, r0);
    tally.compare(std::abs(max_norm(lim_s - ft.W0) - lp.value), 1e-9 * (1.0 + lp.value),
                  tag(i, m, n) + ": SignGD correction is not max-norm minimal");
    const double lb = spectral_interpolation_lower_bound(ft.z, r0);
    tally.compare(std::abs(spectral_norm(lim_mu - ft.W0) - lb), 1e-10 * (1.0 + lb),
                  tag(i, m, n) + ": Muon correction is not spectral-norm minimal");
    if (keep) {
      rec.add("W0", ft.W0);
      rec.add("z", ft.z);
      rec.add("b", ft.b);
      rec.add("r0", r0);
      rec.add("limit_sign", continuation_sign(ft.W0, ft.z, ft.b));
      rec.add("limit_muon", continuation_muon(ft.W0, ft.z, ft.b));
      r.records.push_back(rec);
    }
  }
  add_by_T(&r, "signgd_worst_error", worst_sign_by_T);
  add_by_T(&r, "muon_worst_error", worst_mu_by_T);
  r.instances = o.instances;
  return r;
}

}  // namespace muft::theory::detail
