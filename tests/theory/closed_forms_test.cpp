#include "muft/theory/closed_forms.h"

#include <gtest/gtest.h>

#include <cmath>

namespace muft::theory {
namespace {

constexpr double kHand = 1e-14;

Eigen::VectorXd V(std::initializer_list<double> v) {
  Eigen::VectorXd out(static_cast<Eigen::Index>(v.size()));
  Eigen::Index i = 0;
  for (double e : v) out(i++) = e;
  return out;
}

// x = (1, -2, 0), y = (3, -6): ||x||_1 = 3, ||x||_2^2 = 5.
TEST(ClosedFormsTest, LimitsByHand) {
  const Eigen::VectorXd x = V({1.0, -2.0, 0.0}), y = V({3.0, -6.0});
  Eigen::MatrixXd wmax(2, 3), w2(2, 3);
  wmax << 1.0, -1.0, 0.0, -2.0, 2.0, 0.0;
  w2 << 0.6, -1.2, 0.0, -1.2, 2.4, 0.0;
  EXPECT_LT((w_star_max(x, y) - wmax).norm(), kHand);
  EXPECT_LT((w_star_2(x, y) - w2).norm(), kHand);
  EXPECT_NEAR(min_max_norm_closed(x, y), 2.0, kHand);
  EXPECT_NEAR(min_spectral_norm_closed(x, y), std::sqrt(45.0 / 5.0), kHand);
  EXPECT_NEAR(max_norm(wmax), 2.0, kHand);
  EXPECT_NEAR(spectral_norm(w2), 3.0, 1e-13);
  EXPECT_DOUBLE_EQ(l0_norm(x), 2.0);
}

TEST(ClosedFormsTest, ContinuationAddsCorrection) {
  Eigen::MatrixXd W0(2, 2);
  W0 << 1.0, 0.0, 0.0, 1.0;
  const Eigen::VectorXd z = V({1.0, 1.0}), b = V({3.0, 0.0});  // r0 = (2, -1)
  Eigen::MatrixXd want(2, 2);
  want << 2.0, 1.0, -0.5, 0.5;
  EXPECT_LT((continuation_sign(W0, z, b) - want).norm(), kHand);
  EXPECT_LT((continuation_muon(W0, z, b) - want).norm(), kHand);  // equal magnitudes: same
}

// r0 = (3, -1), z = (1, 1): ||z||_1 = 2, ||z||_2 = sqrt 2, ||r0||_2 = sqrt 10.
TEST(ClosedFormsTest, BudgetAndThresholdsByHand) {
  const Eigen::VectorXd r0 = V({3.0, -1.0}), z = V({1.0, 1.0});
  EXPECT_NEAR(budget_loss_max(r0, z, 0.25), 0.5 * (2.5 * 2.5 + 0.5 * 0.5), kHand);
  EXPECT_NEAR(budget_loss_max(r0, z, 1.0), 0.5 * 1.0, kHand);
  EXPECT_NEAR(budget_loss_max(r0, z, 2.0), 0.0, kHand);
  EXPECT_NEAR(budget_loss_spectral(r0, z, 1.0), 0.5 * std::pow(std::sqrt(10.0) - std::sqrt(2.0), 2),
              kHand);
  EXPECT_NEAR(budget_loss_spectral(r0, z, 10.0), 0.0, kHand);
  const Thresholds t = thresholds(r0, z);
  EXPECT_NEAR(t.rho_adam, 1.5, kHand);
  EXPECT_NEAR(t.rho_muon, std::sqrt(5.0), kHand);
  EXPECT_NEAR(t.rho_muon_in_max, 1.5, kHand);  // equality: |z_i| equal
  EXPECT_NEAR(t.rho_sign_in_2, std::sqrt(2.0) * std::sqrt(10.0) / 2.0, kHand);  // = rho_muon
}

TEST(ClosedFormsTest, DamageAndLoraByHand) {
  Eigen::MatrixXd D(2, 2);
  D << 1.0, -2.0, 0.5, 0.0;
  const Eigen::VectorXd x = V({1.0, 1.0});
  EXPECT_NEAR(old_task_loss(D, x), 0.5 * (1.0 + 0.25), kHand);
  EXPECT_NEAR(damage_bound_max(D, x), 0.5 * 2.0 * 4.0 * 4.0, kHand);
  const Eigen::VectorXd u = V({2.0, -1.0, 0.0});
  EXPECT_NEAR(lora_inflation_max(u), 3.0 * 2.0 / 5.0, kHand);
  EXPECT_NEAR(lora_inflation_spectral(u), std::sqrt(2.0) * std::sqrt(5.0) / 3.0, kHand);
  const Eigen::VectorXd r0 = V({1.0, 1.0}), Ax = V({1.0, 1.0, 5.0});
  EXPECT_NEAR(lora_old_loss_sign(r0, u, Ax), 0.5 * 2.0 * 0.0 / 9.0, kHand);
  EXPECT_NEAR(lora_old_loss_muon(r0, u, Ax), 0.5 * 2.0 * 1.0 / 25.0, kHand);
}

}  // namespace
}  // namespace muft::theory
