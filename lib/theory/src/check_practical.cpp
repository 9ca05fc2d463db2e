// Observations beyond the theorems: practical optimizers (paper Fig. 2 left, Fig. 9) and the
// multi-sample case.
#include <algorithm>
#include <cmath>
#include <string>

#include "check_support.h"
#include "muft/theory/closed_forms.h"
#include "muft/theory/min_norm.h"

namespace muft::theory::detail {
namespace {

constexpr long kObsSteps = 3000;

struct Named {
  std::string label;
  OptimizerSpec spec;
};

// The optimizers of the implicit-bias figure, with the theory's step sizes: the sign-geometry
// ones get SignGD's schedule, the Muon variants Muon's.
std::vector<Named> figure_optimizers(const StepSchedule& s_sign, const StepSchedule& s_muon) {
  OptimizerSpec adam = adam_optimizer(s_sign, AdamOptions{});
  adam.label = "adam";
  return {{"adam", adam},
          {"signgd", signgd_optimizer(s_sign)},
          {"muon_exact", muon_exact_optimizer(s_muon)},
          {"muon_ns5", muon_ns5_optimizer(s_muon)},
          {"muon_pe", muon_pe_optimizer(s_muon)}};
}

struct EndPoint {
  double to_max = 0.0;  // |W_T - W*_max|_F / |W*_max|_F
  double to_2 = 0.0;    // |W_T - W*_2|_F / |W*_2|_F
  double loss_ratio = 0.0;
  bool finite = true;
  Eigen::MatrixXd W_final;
};

EndPoint run_end(const Regression& p, const OptimizerSpec& spec, const Eigen::MatrixXd& wmax,
                 const Eigen::MatrixXd& w2, long steps, Trajectory* keep = nullptr) {
  std::vector<long> rec{0, steps};
  if (keep != nullptr) {  // every step: the figure draws envelopes of oscillating distances
    rec.resize(static_cast<std::size_t>(steps) + 1);
    for (long t = 0; t <= steps; ++t) rec[static_cast<std::size_t>(t)] = t;
  }
  const Trajectory tr =
      run_optimizer(p, Eigen::MatrixXd::Zero(p.rows(), p.cols()), spec, steps, rec,
                    {Reference{"w_star_max", wmax, DistanceNorm::kFrobenius},
                     Reference{"w_star_2", w2, DistanceNorm::kFrobenius}});
  EndPoint e;
  e.finite = tr.finite && tr.W_final.allFinite();
  e.to_max = (tr.W_final - wmax).norm() / wmax.norm();
  e.to_2 = (tr.W_final - w2).norm() / w2.norm();
  e.loss_ratio = p.loss(tr.W_final) / p.loss(Eigen::MatrixXd::Zero(p.rows(), p.cols()));
  e.W_final = tr.W_final;
  if (keep != nullptr) *keep = tr;
  return e;
}

int observation_instances(const CheckOptions& o) {
  return std::max(3, o.instances / 4);
}

void add_mean_worst(CheckResult* r, const std::string& key, const std::vector<double>& v) {
  double s = 0.0, w = 0.0;
  for (double x : v) {
    s += x;
    w = std::max(w, x);
  }
  r->metrics.emplace_back(key + "_mean", v.empty() ? 0.0 : s / static_cast<double>(v.size()));
  r->metrics.emplace_back(key + "_worst", w);
}

}  // namespace

CheckResult check_obs_implicit_bias(const CheckOptions& o) {
  CheckResult r;
  Tally tally(&r);
  r.status = CheckStatus::kInfo;
  InstanceSampler smp(check_seed(o, 9));
  const int count = observation_instances(o);
  std::vector<std::vector<double>> to_max(5), to_2(5);
  std::vector<std::string> labels;
  for (int i = 0; i < count; ++i) {
    // Instance 0 is the figure's square 10x10 problem; the rest cycle the shapes with n > 1.
    int m = 10, n = 10;
    if (i > 0) std::tie(m, n) = smp.shape(i);
    if (n == 1) n = 3;
    const Eigen::VectorXd x = smp.gaussian(n), y = smp.gaussian(m);
    const Regression p = Regression::single(x, y);
    const Eigen::MatrixXd wmax = w_star_max(x, y), w2 = w_star_2(x, y);
    const StepSchedule s_sign = schedule_for(min_max_norm_closed(x, y), 0.5, 50);
    const StepSchedule s_muon = schedule_for(min_spectral_norm_closed(x, y), 0.5, 50);
    CheckRecord rec;
    rec.name = "instance_" + std::to_string(i);
    auto opts = figure_optimizers(s_sign, s_muon);
    // kMismatchedOptimizer: the SignGD slot runs Muon, so the sanity floor below must trip.
    if (o.fault == Fault::kMismatchedOptimizer) opts[1].spec = muon_exact_optimizer(s_muon);
    labels.clear();
    for (std::size_t k = 0; k < opts.size(); ++k) {
      Trajectory tr;
      const EndPoint e = run_end(p, opts[k].spec, wmax, w2, kObsSteps, i == 0 ? &tr : nullptr);
      labels.push_back(opts[k].label);
      tally.require(e.finite, opts[k].label + " produced non-finite iterates");
      to_max[k].push_back(e.to_max);
      to_2[k].push_back(e.to_2);
      if (i == 0) {
        const std::string& L = opts[k].label;
        rec.add_vector(L + "_steps", std::vector<double>(tr.step.begin(), tr.step.end()));
        rec.add_vector(L + "_loss", tr.loss);
        std::vector<double> dmax = tr.dist[0], d2 = tr.dist[1];
        for (double& v : dmax) v /= wmax.norm();
        for (double& v : d2) v /= w2.norm();
        rec.add_vector(L + "_dist_w_star_max", dmax);
        rec.add_vector(L + "_dist_w_star_2", d2);
        rec.add(L + "_W_final", tr.W_final);
      }
    }
    // The two proven cases must end nearer their own limit (a sanity floor on the observation).
    tally.require(to_max[1].back() < to_2[1].back(), "SignGD ended nearer W*_2 than W*_max");
    tally.require(to_2[2].back() < to_max[2].back(), "Muon ended nearer W*_max than W*_2");
    if (i == 0) {
      rec.add("x", x);
      rec.add("y", y);
      rec.add("w_star_max", wmax);
      rec.add("w_star_2", w2);
      rec.add_scalar("eta0_sign", s_sign.eta0);
      rec.add_scalar("eta0_muon", s_muon.eta0);
      rec.add_scalar("power", 0.5);
      rec.add_attribute("distance", "Frobenius, relative to the reference's Frobenius norm");
      r.records.push_back(rec);
    }
  }
  std::string note;
  for (std::size_t k = 0; k < labels.size(); ++k) {
    add_mean_worst(&r, labels[k] + "_rel_dist_w_star_max", to_max[k]);
    add_mean_worst(&r, labels[k] + "_rel_dist_w_star_2", to_2[k]);
    double mm = 0, m2 = 0;
    for (double v : to_max[k]) mm += v / static_cast<double>(to_max[k].size());
    for (double v : to_2[k]) m2 += v / static_cast<double>(to_2[k].size());
    note += labels[k] + " " + fmt_num(mm) + "/" + fmt_num(m2) + "; ";
  }
  if (r.status != CheckStatus::kFail) r.note = "mean rel. dist to W*_max/W*_2: " + note;
  r.worst_error = to_max[0].empty() ? 0.0 : *std::max_element(to_max[0].begin(), to_max[0].end());
  r.bound = std::nan("");
  r.instances = count;
  return r;
}

CheckResult check_obs_adam_eps(const CheckOptions& o) {
  CheckResult r;
  Tally tally(&r);
  r.status = CheckStatus::kInfo;
  InstanceSampler smp(check_seed(o, 10));
  const std::vector<double> eps{0.0, 1e-8, 1e-6, 1e-4, 1e-3};
  const int count = observation_instances(o);
  std::vector<std::vector<double>> to_max(eps.size()), to_2(eps.size());
  for (int i = 0; i < count; ++i) {
    int m = 10, n = 10;
    if (i > 0) std::tie(m, n) = smp.shape(i);
    if (n == 1) n = 3;
    const Eigen::VectorXd x = smp.gaussian(n), y = smp.gaussian(m);
    const Regression p = Regression::single(x, y);
    const Eigen::MatrixXd wmax = w_star_max(x, y), w2 = w_star_2(x, y);
    const StepSchedule s = schedule_for(min_max_norm_closed(x, y), 0.5, 50);
    for (std::size_t k = 0; k < eps.size(); ++k) {
      const EndPoint e =
          run_end(p, adam_optimizer(s, AdamOptions{0.9, 0.999, eps[k], true}), wmax, w2, kObsSteps);
      tally.require(e.finite, "Adam produced non-finite iterates");
      to_max[k].push_back(e.to_max);
      to_2[k].push_back(e.to_2);
    }
  }
  CheckRecord rec;
  rec.name = "eps_sweep";
  rec.add_vector("eps", eps);
  std::vector<double> mean_max, mean_2;
  std::string note;
  for (std::size_t k = 0; k < eps.size(); ++k) {
    double a = 0, b = 0;
    for (double v : to_max[k]) a += v / count;
    for (double v : to_2[k]) b += v / count;
    mean_max.push_back(a);
    mean_2.push_back(b);
    r.metrics.emplace_back("eps_" + fmt_num(eps[k]) + "_rel_dist_w_star_max", a);
    r.metrics.emplace_back("eps_" + fmt_num(eps[k]) + "_rel_dist_w_star_2", b);
    note += "eps " + fmt_num(eps[k]) + ": " + fmt_num(a) + "/" + fmt_num(b) + "; ";
  }
  rec.add_vector("mean_rel_dist_w_star_max", mean_max);
  rec.add_vector("mean_rel_dist_w_star_2", mean_2);
  r.records.push_back(rec);
  if (r.status != CheckStatus::kFail) r.note = "Adam mean rel. dist W*_max/W*_2 by eps: " + note;
  r.worst_error = mean_max.back();
  r.bound = std::nan("");
  r.instances = count;
  return r;
}

CheckResult check_obs_momentum(const CheckOptions& o) {
  CheckResult r;
  Tally tally(&r);
  r.status = CheckStatus::kInfo;
  InstanceSampler smp(check_seed(o, 11));
  using Kind = MomentumOptions::Kind;
  const std::vector<std::pair<std::string, MomentumOptions>> moms{
      {"none", {Kind::kNone, 0.0, false}},
      {"ema", {Kind::kEma, 0.95, false}},
      {"classical", {Kind::kClassical, 0.95, false}},
      {"classical_nesterov", {Kind::kClassical, 0.95, true}},
      {"ema_nesterov", {Kind::kEma, 0.95, true}}};
  const int count = observation_instances(o);
  std::string note;
  CheckRecord rec;
  rec.name = "momentum";
  for (const char* base : {"muon_exact", "muon_ns5", "muon_pe", "signgd"}) {
    for (const auto& [mname, mom] : moms) {
      std::vector<double> own, offline;
      for (int i = 0; i < count; ++i) {
        InstanceSampler local(check_seed(o, 1100 + i));
        int m = 8, n = 8;
        if (i > 0) std::tie(m, n) = local.shape(i);
        if (n == 1) n = 3;
        const Eigen::VectorXd x = local.gaussian(n), y = local.gaussian(m);
        const Regression p = Regression::single(x, y);
        const Eigen::MatrixXd wmax = w_star_max(x, y), w2 = w_star_2(x, y);
        const bool sign = std::string(base) == "signgd";
        const StepSchedule s = schedule_for(
            sign ? min_max_norm_closed(x, y) : min_spectral_norm_closed(x, y), 0.5, 50);
        OptimizerSpec spec = sign                                ? signgd_optimizer(s)
                             : std::string(base) == "muon_exact" ? muon_exact_optimizer(s)
                             : std::string(base) == "muon_ns5"   ? muon_ns5_optimizer(s)
                                                                 : muon_pe_optimizer(s);
        spec.momentum = mom;
        const EndPoint e = run_end(p, spec, wmax, w2, kObsSteps);
        tally.require(e.finite, std::string(base) + "+" + mname + " produced non-finite iterates");
        own.push_back(sign ? e.to_max : e.to_2);
        // Part of W_T outside the span {v x'} that every exact-arithmetic iterate lies in.
        const Eigen::MatrixXd& W = e.W_final;
        offline.push_back((W - (W * x) * x.transpose() / x.squaredNorm()).norm() / w2.norm());
      }
      const std::string key = std::string(base) + "_" + mname;
      add_mean_worst(&r, key + "_rel_dist_own_limit", own);
      if (std::string(base) != "signgd") add_mean_worst(&r, key + "_rel_offline_part", offline);
      rec.add_vector(key + "_rel_dist_own_limit", own);
      if (mname == "none" || mname == "classical_nesterov") {
        note += key + " " + fmt_num(*std::max_element(own.begin(), own.end())) + "; ";
      }
    }
  }
  r.records.push_back(rec);
  (void)smp;
  if (r.status != CheckStatus::kFail) r.note = "worst rel. dist to own limit: " + note;
  r.bound = std::nan("");
  r.instances = count;
  return r;
}

CheckResult check_multi_sample(const CheckOptions& o) {
  CheckResult r;
  Tally tally(&r);
  InstanceSampler smp(check_seed(o, 12));
  struct Shape {
    int m, n, k;
  };
  const std::vector<Shape> shapes{{4, 8, 2}, {8, 6, 3},   {1, 6, 2},
                                  {6, 4, 3}, {10, 12, 3}, {5, 9, 2}};
  const int count = std::max(3, o.instances / 3);
  const std::vector<std::string> names{"signgd", "adam", "muon_exact", "muon_ns5"};
  std::vector<std::vector<double>> ratio_max(names.size()), ratio_2(names.size()),
      loss_ratio(names.size());
  for (int i = 0; i < count; ++i) {
    const Shape sh = shapes[static_cast<std::size_t>(i) % shapes.size()];
    const Eigen::MatrixXd X = smp.gaussian_matrix(sh.n, sh.k), Y = smp.gaussian_matrix(sh.m, sh.k);
    Regression p;
    p.X = X;
    p.Y = Y;
    const std::string at = "instance " + std::to_string(i) + " (" + std::to_string(sh.m) + "x" +
                           std::to_string(sh.n) + ", k=" + std::to_string(sh.k) + ")";
    // Numerical minima with their own certificates.
    const MinNormResult lp = min_max_norm_lp(X, Y);
    const MinNormResult sg = min_spectral_norm_subgradient(X, Y, 1500, check_seed(o, 1200 + i));
    tally.require(lp.status == SolverStatus::kConverged, at + ": LP failed");
    tally.compare(lp.residual, 1e-9 * (1.0 + Y.norm()), at + ": LP solution does not interpolate");
    tally.compare(sg.residual, 1e-9 * (1.0 + Y.norm()), at + ": subgradient point infeasible");
    // Weak duality: per sample j, |W|_max >= |Y_j|_inf/|X_j|_1 for every interpolant.
    double holder = 0.0;
    for (int j = 0; j < sh.k; ++j) {
      holder = std::max(holder, Y.col(j).lpNorm<Eigen::Infinity>() / X.col(j).lpNorm<1>());
    }
    double lp_value = lp.value;
    if (o.fault == Fault::kMismatchedOptimizer) lp_value = sg.value;  // wrong geometry's solver
    tally.require(lp_value >= holder * (1 - 1e-12), at + ": LP value below the Hölder certificate");
    tally.require(lp_value <= max_norm(sg.W) * (1 + 1e-12),
                  at + ": LP value above another interpolant's max-norm");
    // Minimum spectral norm: |Y X^+|_2 (the min-Frobenius solution is spectrally minimal, since
    // completing [C, F] never lowers |[C, F]|_2 below |C|_2); compare with the certificate and
    // the subgradient's best feasible value.
    const Eigen::MatrixXd Wls = Y * X.completeOrthogonalDecomposition().pseudoInverse();
    double claimed = spectral_norm(Wls);
    if (o.fault == Fault::kWrongLimit) claimed = Wls.norm();  // Frobenius instead of spectral
    const double cert = spectral_interpolation_lower_bound(X, Y);
    tally.compare(std::abs(claimed - cert), 1e-10 * (1.0 + cert),
                  at + ": |Y X^+|_2 != certificate");
    tally.require(sg.value >= claimed * (1 - 1e-10) && sg.lower_bound <= claimed * (1 + 1e-10),
                  at + ": minimum outside the subgradient's certified bracket");
    // Optimizers from 0 with the theory's schedules.
    const StepSchedule s_sign = schedule_for(lp.value, 0.5, 50);
    const StepSchedule s_muon = schedule_for(cert, 0.5, 50);
    const std::vector<OptimizerSpec> specs{
        signgd_optimizer(s_sign), adam_optimizer(s_sign, AdamOptions{}),
        muon_exact_optimizer(s_muon), muon_ns5_optimizer(s_muon)};
    CheckRecord rec;
    rec.name = "instance_" + std::to_string(i);
    for (std::size_t q = 0; q < specs.size(); ++q) {
      const Trajectory tr = run_optimizer(p, Eigen::MatrixXd::Zero(sh.m, sh.n), specs[q], kObsSteps,
                                          {0, kObsSteps}, {});
      tally.require(tr.finite, at + ": " + names[q] + " produced non-finite iterates");
      ratio_max[q].push_back(max_norm(tr.W_final) / lp.value);
      ratio_2[q].push_back(spectral_norm(tr.W_final) / cert);
      loss_ratio[q].push_back(tr.loss.back() / tr.loss.front());
      if (i == 0) rec.add(names[q] + "_W_final", tr.W_final);
    }
    if (i == 0) {
      rec.add("X", X);
      rec.add("Y", Y);
      rec.add("min_max_norm_W", lp.W);
      rec.add("min_spectral_norm_W", Wls);
      rec.add_scalar("min_max_norm", lp.value);
      rec.add_scalar("min_spectral_norm", cert);
      rec.add_scalar("subgradient_best", sg.value);
      r.records.push_back(rec);
    }
  }
  std::string note = "norm/min at T=" + std::to_string(kObsSteps) + " (max, spectral): ";
  for (std::size_t q = 0; q < names.size(); ++q) {
    add_mean_worst(&r, names[q] + "_max_norm_over_min", ratio_max[q]);
    add_mean_worst(&r, names[q] + "_spectral_norm_over_min", ratio_2[q]);
    add_mean_worst(&r, names[q] + "_loss_ratio", loss_ratio[q]);
    note += names[q] + " " + fmt_num(*std::max_element(ratio_max[q].begin(), ratio_max[q].end())) +
            "/" + fmt_num(*std::max_element(ratio_2[q].begin(), ratio_2[q].end())) + "; ";
  }
  if (r.status != CheckStatus::kFail) r.note = note;
  r.instances = count;
  return r;
}

}  // namespace muft::theory::detail
