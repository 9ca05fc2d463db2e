#include "muft/theory/update_rules.h"

#include <gtest/gtest.h>

#include <cmath>

#include "muft/theory/orthogonalize.h"
#include "muft/theory/problems.h"

namespace muft::theory {
namespace {

constexpr double kExact = 1e-15;  // hand cases with exactly representable values

Eigen::MatrixXd M22(double a, double b, double c, double d) {
  Eigen::MatrixXd m(2, 2);
  m << a, b, c, d;
  return m;
}

TEST(ScheduleTest, HandValues) {
  const StepSchedule s = StepSchedule::inverse_power(1.0, 1.0);
  EXPECT_DOUBLE_EQ(s.eta(0), 1.0);
  EXPECT_DOUBLE_EQ(s.eta(3), 0.25);
  EXPECT_DOUBLE_EQ(s.partial_sum(3), 1.0 + 0.5 + 1.0 / 3.0);
  const StepSchedule h = StepSchedule::inverse_power(2.0, 0.5);
  EXPECT_DOUBLE_EQ(h.eta(3), 1.0);
  EXPECT_DOUBLE_EQ(StepSchedule::constant(0.3).eta(100), 0.3);
  std::string why;
  EXPECT_FALSE(StepSchedule::inverse_power(1.0, 1.5).IsValid(&why));
  EXPECT_FALSE(StepSchedule::inverse_power(-1.0, 0.5).IsValid(&why));
  EXPECT_FALSE(StepSchedule::inverse_power(1.0, 0.0).IsValid(&why));
}

TEST(UpdateRulesTest, SignMatrixHasZeroAtZero) {
  const Eigen::MatrixXd s = sign_matrix(M22(-2.0, 0.0, 3.0, -0.0));
  EXPECT_EQ(s, M22(-1.0, 0.0, 1.0, 0.0));
}

TEST(UpdateRulesTest, GdSignGdHandStep) {
  Eigen::MatrixXd W = M22(1.0, 1.0, 1.0, 1.0);
  const Eigen::MatrixXd G = M22(0.5, -4.0, 0.0, 2.0);
  Optimizer gd(gd_optimizer(StepSchedule::constant(0.5)), 2, 2);
  gd.step(W, G);
  EXPECT_EQ(W, M22(0.75, 3.0, 1.0, 0.0));
  Eigen::MatrixXd V = M22(1.0, 1.0, 1.0, 1.0);
  Optimizer sg(signgd_optimizer(StepSchedule::constant(0.5)), 2, 2);
  sg.step(V, G);
  EXPECT_EQ(V, M22(0.5, 1.5, 1.0, 0.5));
}

// Adam with beta1 = 0.5, beta2 = 0.5, eps = 0, bias correction: hand computed two steps on 1x1.
TEST(UpdateRulesTest, AdamHandTwoSteps) {
  AdamOptions a{0.5, 0.5, 0.0, true};
  AdamState st;
  Eigen::MatrixXd g(1, 1);
  g << 2.0;
  // t=1: m = 1, v = 2; mhat = 2, vhat = 4 -> 2/2 = 1.
  EXPECT_NEAR(adam_direction(a, &st, g)(0, 0), 1.0, kExact);
  g << -2.0;
  // t=2: m = 0.5 - 1 = -0.5, v = 1 + 2 = 3; mhat = -0.5/0.75, vhat = 3/0.75 = 4 -> -(2/3)/2.
  EXPECT_NEAR(adam_direction(a, &st, g)(0, 0), -1.0 / 3.0, 1e-15);
  // eps enters the denominator: 1x1, beta = 0: g/(|g| + eps).
  AdamOptions e{0.0, 0.0, 1.0, true};
  AdamState s2;
  g << 3.0;
  EXPECT_NEAR(adam_direction(e, &s2, g)(0, 0), 0.75, kExact);
}

// beta1 = beta2 = 0 and eps = 0: Adam and SignGD give identical iterates, zeros included.
TEST(UpdateRulesTest, AdamReducesExactlyToSignGd) {
  InstanceSampler smp(7);
  const Regression p = Regression::single(smp.gaussian(6, true), smp.gaussian(4));
  const StepSchedule s = StepSchedule::inverse_power(0.3, 0.5);
  Optimizer adam(adam_optimizer(s, AdamOptions{0.0, 0.0, 0.0, true}), 4, 6);
  Optimizer sign(signgd_optimizer(s), 4, 6);
  Eigen::MatrixXd Wa = Eigen::MatrixXd::Zero(4, 6), Ws = Wa;
  for (int t = 0; t < 300; ++t) {
    adam.step(Wa, p.gradient(Wa));
    sign.step(Ws, p.gradient(Ws));
    ASSERT_EQ(Wa, Ws) << "diverged at step " << t;
  }
}

TEST(UpdateRulesTest, MomentumHandValues) {
  Eigen::MatrixXd buf;
  Eigen::MatrixXd g(1, 1);
  g << 1.0;
  MomentumOptions ema{MomentumOptions::Kind::kEma, 0.5, false};
  EXPECT_DOUBLE_EQ(momentum_stage(ema, &buf, g)(0, 0), 0.5);
  EXPECT_DOUBLE_EQ(momentum_stage(ema, &buf, g)(0, 0), 0.75);
  Eigen::MatrixXd b2;
  MomentumOptions cl{MomentumOptions::Kind::kClassical, 0.5, false};
  EXPECT_DOUBLE_EQ(momentum_stage(cl, &b2, g)(0, 0), 1.0);
  EXPECT_DOUBLE_EQ(momentum_stage(cl, &b2, g)(0, 0), 1.5);
  Eigen::MatrixXd b3;
  MomentumOptions nes{MomentumOptions::Kind::kClassical, 0.5, true};
  EXPECT_DOUBLE_EQ(momentum_stage(nes, &b3, g)(0, 0), 1.5);   // M=1, G + 0.5 M
  EXPECT_DOUBLE_EQ(momentum_stage(nes, &b3, g)(0, 0), 1.75);  // M=1.5
  Eigen::MatrixXd b4;
  MomentumOptions nema{MomentumOptions::Kind::kEma, 0.5, true};
  EXPECT_DOUBLE_EQ(momentum_stage(nema, &b4, g)(0, 0), 0.75);  // M=.5, .5*.5 + .5*1
  MomentumOptions none;
  Eigen::MatrixXd b5;
  EXPECT_DOUBLE_EQ(momentum_stage(none, &b5, g)(0, 0), 1.0);
}

TEST(UpdateRulesTest, MuonExactHandStep) {
  // G = diag(3, -2): ortho = diag(1, -1).
  Eigen::MatrixXd W = Eigen::MatrixXd::Zero(2, 2);
  Optimizer mu(muon_exact_optimizer(StepSchedule::constant(0.1)), 2, 2);
  mu.step(W, M22(3.0, 0.0, 0.0, -2.0));
  EXPECT_NEAR((W - M22(-0.1, 0.0, 0.0, 0.1)).norm(), 0.0, 1e-15);
}

TEST(UpdateRulesTest, MuonScaleFactors) {
  EXPECT_DOUBLE_EQ(muon_scale_factor(MuonScale::kNone, 8, 2), 1.0);
  EXPECT_DOUBLE_EQ(muon_scale_factor(MuonScale::kOriginal, 8, 2), 2.0);
  EXPECT_DOUBLE_EQ(muon_scale_factor(MuonScale::kOriginal, 2, 8), 1.0);
  EXPECT_DOUBLE_EQ(muon_scale_factor(MuonScale::kMoonlight, 4, 100), 2.0);
}

TEST(UpdateRulesTest, RejectsBadSpecs) {
  OptimizerSpec s = adam_optimizer(StepSchedule::constant(0.1), AdamOptions{});
  s.momentum.kind = MomentumOptions::Kind::kEma;
  std::string why;
  EXPECT_FALSE(s.IsValid(&why));
  EXPECT_THROW(Optimizer(s, 2, 2), std::invalid_argument);
  OptimizerSpec b = adam_optimizer(StepSchedule::constant(0.1), AdamOptions{1.0, 0.9, 0.0, true});
  EXPECT_FALSE(b.IsValid(&why));
  OptimizerSpec pe = muon_pe_optimizer(StepSchedule::constant(0.1));
  pe.ortho_steps = 11;
  EXPECT_FALSE(pe.IsValid(&why));
  EXPECT_THROW(Optimizer(gd_optimizer(StepSchedule::constant(0.1)), 0, 2), std::invalid_argument);
  Optimizer ok(gd_optimizer(StepSchedule::constant(0.1)), 2, 2);
  Eigen::MatrixXd W = Eigen::MatrixXd::Zero(2, 2);
  EXPECT_THROW(ok.step(W, Eigen::MatrixXd::Zero(3, 2)), std::invalid_argument);
}

}  // namespace
}  // namespace muft::theory
