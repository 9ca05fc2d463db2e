// Budget and damage checks: Proposition D.5, Corollaries D.6 and D.7.
#include <algorithm>
#include <cmath>
#include <string>

#include "check_support.h"
#include "muft/theory/closed_forms.h"
#include "muft/theory/min_norm.h"

namespace muft::theory::detail {
namespace {

std::string tag(int i, int m, int n) {
  return "instance " + std::to_string(i) + " (" + std::to_string(m) + "x" + std::to_string(n) + ")";
}

// A wrong version of each formula with the geometries swapped (|z|_2 for |z|_1 and back).
double wrong_budget_max(const Eigen::VectorXd& r0, const Eigen::VectorXd& z, double rho) {
  const Eigen::VectorXd zz = z * (z.norm() / z.lpNorm<1>());  // |zz|_1 = |z|_2
  return budget_loss_max(r0, zz, rho);
}
double wrong_budget_spectral(const Eigen::VectorXd& r0, const Eigen::VectorXd& z, double rho) {
  return budget_loss_spectral(r0, z * (z.lpNorm<1>() / z.norm()), rho);
}

}  // namespace

CheckResult check_prop_d5(const CheckOptions& o) {
  CheckResult r;
  Tally tally(&r);
  InstanceSampler smp(check_seed(o, 5));
  constexpr int kGrid = 7;
  constexpr long kItersMax = 1500, kItersSpectral = 300;
  for (int i = 0; i < o.instances; ++i) {
    auto [m, n] = smp.shape(i);
    const FineTune ft = smp.fine_tune(m, n, i % 2 == 1);
    const Eigen::VectorXd r0 = ft.r0(), z = ft.z;
    const Thresholds th = thresholds(r0, z);
    const double rho_top = 1.3 * std::max(th.rho_adam, th.rho_muon);
    std::vector<double> rhos, e_max, e_2, pgd_max, pgd_2, g_max, g_2;
    for (int g = 0; g < kGrid; ++g) {
      const double rho = rho_top * g / (kGrid - 1);
      // kMismatchedOptimizer: compare each formula with the other geometry's solver.
      const bool mism = o.fault == Fault::kMismatchedOptimizer;
      const BudgetResult bm =
          budget_projected_gradient(r0, z, rho, mism ? BudgetNorm::kSpectral : BudgetNorm::kMax,
                                    mism ? kItersSpectral : kItersMax);
      const BudgetResult bs =
          budget_projected_gradient(r0, z, rho, mism ? BudgetNorm::kMax : BudgetNorm::kSpectral,
                                    mism ? kItersMax : kItersSpectral);
      const bool wrong = o.fault == Fault::kWrongLimit;
      const double fm = wrong ? wrong_budget_max(r0, z, rho) : budget_loss_max(r0, z, rho);
      const double fs =
          wrong ? wrong_budget_spectral(r0, z, rho) : budget_loss_spectral(r0, z, rho);
      const double tol = 1e-12 * (1.0 + r0.squaredNorm());
      // Lower side: a feasible point cannot beat the minimum. Upper side: PGD's guarantee.
      const std::string at = tag(i, m, n) + " rho=" + fmt_num(rho);
      tally.compare(std::max(0.0, fm - bm.value), tol, at + ": feasible point below E_max");
      tally.compare(std::max(0.0, bm.value - fm), bm.guarantee + tol, at + ": E_max above PGD");
      tally.compare(std::max(0.0, fs - bs.value), tol, at + ": feasible point below E_2");
      tally.compare(std::max(0.0, bs.value - fs), bs.guarantee + tol, at + ": E_2 above PGD");
      rhos.push_back(rho);
      e_max.push_back(fm);
      e_2.push_back(fs);
      pgd_max.push_back(bm.value);
      pgd_2.push_back(bs.value);
      g_max.push_back(bm.guarantee);
      g_2.push_back(bs.guarantee);
    }
    // Exact-fit thresholds: zero at rho*, positive just below.
    const double zero_tol = 1e-24 * (1.0 + r0.squaredNorm());  // (rounding in rho* |z|)^2
    tally.require(budget_loss_max(r0, z, th.rho_adam) <= zero_tol &&
                      budget_loss_max(r0, z, th.rho_adam * (1 - 1e-6)) > zero_tol,
                  tag(i, m, n) + ": rho*_A is not the smallest exact-fit max budget");
    tally.require(budget_loss_spectral(r0, z, th.rho_muon) <= zero_tol &&
                      budget_loss_spectral(r0, z, th.rho_muon * (1 - 1e-6)) > zero_tol,
                  tag(i, m, n) + ": rho*_mu is not the smallest exact-fit spectral budget");
    if (i == 0) {
      CheckRecord rec;
      rec.name = "instance_0";
      rec.add("W0", ft.W0);
      rec.add("z", z);
      rec.add("b", ft.b);
      rec.add("r0", r0);
      rec.add_vector("rho", rhos);
      rec.add_vector("E_max_closed", e_max);
      rec.add_vector("E_max_pgd", pgd_max);
      rec.add_vector("E_max_guarantee", g_max);
      rec.add_vector("E_2_closed", e_2);
      rec.add_vector("E_2_pgd", pgd_2);
      rec.add_vector("E_2_guarantee", g_2);
      rec.add_scalar("pgd_iterations_max", static_cast<double>(kItersMax));
      rec.add_scalar("pgd_iterations_spectral", static_cast<double>(kItersSpectral));
      r.records.push_back(rec);
    }
  }
  r.instances = o.instances;
  return r;
}

CheckResult check_cor_d6(const CheckOptions& o) {
  CheckResult r;
  Tally tally(&r);
  InstanceSampler smp(check_seed(o, 6));
  int strict = 0, equal = 0;
  for (int i = 0; i < o.instances; ++i) {
    auto [m, n] = smp.shape(i);
    FineTune ft = smp.fine_tune(m, n, i % 3 == 1);
    const bool equal_case = i % 3 == 2;  // equal-magnitude nonzeros: both inequalities tight
    if (equal_case) {
      for (Eigen::Index j = 0; j < ft.z.size(); ++j) {
        ft.z(j) = (j % 3 == 2 && ft.z.size() > 2) ? 0.0 : (ft.z(j) >= 0 ? 0.7 : -0.7);
      }
    }
    const Eigen::VectorXd r0 = ft.r0(), z = ft.z;
    Eigen::MatrixXd Ds = continuation_sign(ft.W0, z, ft.b) - ft.W0;
    Eigen::MatrixXd Dm = continuation_muon(ft.W0, z, ft.b) - ft.W0;
    if (o.fault == Fault::kMismatchedOptimizer) std::swap(Ds, Dm);
    Thresholds th = thresholds(r0, z);
    if (o.fault == Fault::kWrongLimit) {
      // The converted paper text lost the square root: |z|_0 |r0|/|z|_1.
      th.rho_sign_in_2 = l0_norm(z) * r0.norm() / z.lpNorm<1>();
    }
    const std::string at = tag(i, m, n);
    const double tol = 1e-12;
    // Numerical norms of the exact-fit corrections versus the formulas.
    const double num_mu_max = max_norm(Dm), num_s_2 = spectral_norm(Ds);
    tally.compare(std::abs(num_mu_max - th.rho_muon_in_max) / th.rho_muon_in_max, tol,
                  at + ": |D_mu|_max differs from the formula");
    tally.compare(std::abs(num_s_2 - th.rho_sign_in_2) / th.rho_sign_in_2, 1e-11,
                  at + ": |D_s|_2 differs from the formula");
    // Matched thresholds: the matched correction's own norm, and the LP / certificate minima.
    tally.compare(std::abs(max_norm(Ds) - th.rho_adam) / th.rho_adam, tol,
                  at + ": |D_s|_max differs from rho*_A");
    tally.compare(std::abs(spectral_norm(Dm) - th.rho_muon) / th.rho_muon, 1e-11,
                  at + ": |D_mu|_2 differs from rho*_mu");
    const MinNormResult lp = min_max_norm_lp(z, r0);
    tally.compare(std::abs(lp.value - th.rho_adam) / th.rho_adam, 1e-9,
                  at + ": rho*_A differs from the LP minimum");
    // Inequalities, strictness, equality.
    const double q_max = th.rho_muon_in_max / th.rho_adam, q_2 = th.rho_sign_in_2 / th.rho_muon;
    tally.require(q_max >= 1.0 - tol && q_2 >= 1.0 - tol, at + ": mismatched budget below matched");
    if (equal_case) {
      tally.compare(std::abs(q_max - 1.0), 1e-12, at + ": equal magnitudes must give equality");
      tally.compare(std::abs(q_2 - 1.0), 1e-12, at + ": equal magnitudes must give equality");
      ++equal;
    } else if (q_max > 1.0 + 1e-9 && q_2 > 1.0 + 1e-9 && z.size() > 1) {
      ++strict;
      // Nonempty interval: at the midpoint the matched correction fits, the mismatched not.
      const double rho = 0.5 * (th.rho_adam + th.rho_muon_in_max);
      tally.require(max_norm(Ds) <= rho && max_norm(Dm) > rho && budget_loss_max(r0, z, rho) == 0.0,
                    at + ": no matched-only max budget interval");
      const double rho2 = 0.5 * (th.rho_muon + th.rho_sign_in_2);
      tally.require(spectral_norm(Dm) <= rho2 && spectral_norm(Ds) > rho2,
                    at + ": no matched-only spectral budget interval");
    }
    if (i < 3) {
      CheckRecord rec;
      rec.name = "instance_" + std::to_string(i);
      rec.add("W0", ft.W0);
      rec.add("z", z);
      rec.add("b", ft.b);
      rec.add("delta_sign", Ds);
      rec.add("delta_muon", Dm);
      rec.add_scalar("rho_adam", th.rho_adam);
      rec.add_scalar("rho_muon", th.rho_muon);
      rec.add_scalar("rho_muon_in_max", th.rho_muon_in_max);
      rec.add_scalar("rho_sign_in_2", th.rho_sign_in_2);
      rec.add_attribute("case", equal_case ? "equal-magnitude z" : "random z");
      r.records.push_back(rec);
    }
  }
  r.instances = o.instances;
  r.metrics.emplace_back("strict_cases", strict);
  r.metrics.emplace_back("equality_cases", equal);
  if (strict == 0 || equal == 0) Tally(&r).fail("need both strict and equality cases");
  return r;
}

CheckResult check_cor_d7(const CheckOptions& o) {
  CheckResult r;
  Tally tally(&r);
  InstanceSampler smp(check_seed(o, 7));
  double tight_max = 0.0, tight_2 = 0.0;
  for (int i = 0; i < o.instances; ++i) {
    auto [m, n] = smp.shape(i);
    const FineTune ft = smp.fine_tune(m, n, i % 2 == 1);
    const Eigen::VectorXd x = ft.x;
    const Eigen::MatrixXd Ds = continuation_sign(ft.W0, ft.z, ft.b) - ft.W0;
    const Eigen::MatrixXd Dm = continuation_muon(ft.W0, ft.z, ft.b) - ft.W0;
    // Null-space perturbations keep exact fit: N z = 0.
    const Eigen::MatrixXd N0 = smp.gaussian_matrix(m, n);
    const Eigen::MatrixXd N = N0 - (N0 * ft.z) * ft.z.transpose() / ft.z.squaredNorm();
    // Bound-attaining corrections: all rows c sign(x)' (max), and c u x' (spectral).
    const Eigen::MatrixXd attain_max = 0.3 * Eigen::VectorXd::Ones(m) * sign_matrix(x).transpose();
    const Eigen::MatrixXd attain_2 = 0.3 * smp.gaussian(m) * x.transpose();
    const std::vector<std::pair<std::string, Eigen::MatrixXd>> deltas{
        {"delta_sign", Ds},
        {"delta_muon", Dm},
        {"random", smp.gaussian_matrix(m, n)},
        {"exact_fit_s", Ds + 0.5 * N},
        {"exact_fit_mu", Dm + 0.5 * N},
        {"attain_max", attain_max},
        {"attain_2", attain_2}};
    const std::string at = tag(i, m, n);
    for (const auto& [name, D] : deltas) {
      const double direct = ft.old_loss(ft.W0 + D);  // computed from W x - y, not from D x
      const double ident = old_task_loss(D, x);
      double bmax = damage_bound_max(D, x), b2 = damage_bound_spectral(D, x);
      if (o.fault == Fault::kWrongLimit) bmax /= static_cast<double>(m);  // drop the factor m
      const double tol = 1e-12 * (1.0 + direct);
      tally.compare(std::abs(direct - ident), tol, at + " " + name + ": L_old != |Dx|^2/2");
      tally.compare(std::max(0.0, ident - bmax), tol,
                    at + " " + name + ": max-norm bound violated");
      tally.compare(std::max(0.0, ident - b2), tol, at + " " + name + ": spectral bound violated");
      if (name == "attain_max") tight_max = std::max(tight_max, std::abs(ident / bmax - 1.0));
      if (name == "attain_2") tight_2 = std::max(tight_2, std::abs(ident / b2 - 1.0));
    }
    // Matched optimizers minimize their own bound among exact fits.
    const bool mism = o.fault == Fault::kMismatchedOptimizer;
    const Eigen::MatrixXd& own_max = mism ? Dm : Ds;
    const Eigen::MatrixXd& own_2 = mism ? Ds : Dm;
    for (double c : {0.1, 0.5, 2.0}) {
      tally.require(
          damage_bound_max(Ds + c * N, x) >= damage_bound_max(own_max, x) * (1 - 1e-12) &&
              damage_bound_max(Dm + c * N, x) >= damage_bound_max(own_max, x) * (1 - 1e-12),
          at + ": an exact fit has a smaller max-norm bound than the matched one");
      tally.require(
          damage_bound_spectral(Ds + c * N, x) >= damage_bound_spectral(own_2, x) * (1 - 1e-12) &&
              damage_bound_spectral(Dm + c * N, x) >= damage_bound_spectral(own_2, x) * (1 - 1e-12),
          at + ": an exact fit has a smaller spectral bound than the matched one");
    }
    if (i == 0) {
      CheckRecord rec;
      rec.name = "instance_0";
      rec.add("W0", ft.W0);
      rec.add("x", x);
      rec.add("y", ft.y);
      rec.add("z", ft.z);
      rec.add("b", ft.b);
      for (const auto& [name, D] : deltas) {
        rec.add(name, D);
        rec.add_scalar(name + "_old_loss", old_task_loss(D, x));
        rec.add_scalar(name + "_bound_max", damage_bound_max(D, x));
        rec.add_scalar(name + "_bound_spectral", damage_bound_spectral(D, x));
      }
      r.records.push_back(rec);
    }
  }
  tally.compare(tight_max, 1e-12, "max-norm bound not attained");
  tally.compare(tight_2, 1e-11, "spectral bound not attained");
  r.metrics.emplace_back("attainment_gap_max", tight_max);
  r.metrics.emplace_back("attainment_gap_spectral", tight_2);
  r.instances = o.instances;
  return r;
}

}  // namespace muft::theory::detail
