#include "muft/theory/min_norm.h"

#include <gtest/gtest.h>

#include <cmath>

#include "muft/theory/closed_forms.h"
#include "muft/theory/problems.h"
#include "muft/theory/simplex.h"

namespace muft::theory {
namespace {

// min -x1 - x2 s.t. x1 + 2 x2 + s1 = 4, 3 x1 + x2 + s2 = 6: optimum (8/5, 6/5), value -14/5.
TEST(SimplexTest, HandLp) {
  Eigen::MatrixXd A(2, 4);
  A << 1, 2, 1, 0, 3, 1, 0, 1;
  Eigen::VectorXd b(2), c(4);
  b << 4, 6;
  c << -1, -1, 0, 0;
  const LpResult r = solve_standard_lp(c, A, b);
  ASSERT_EQ(r.status, LpStatus::kOptimal);
  EXPECT_NEAR(r.objective, -14.0 / 5.0, 1e-12);
  EXPECT_NEAR(r.x(0), 1.6, 1e-12);
  EXPECT_NEAR(r.x(1), 1.2, 1e-12);
}

TEST(SimplexTest, InfeasibleAndUnbounded) {
  Eigen::MatrixXd A(1, 2);
  A << 1, 1;
  Eigen::VectorXd b(1), c(2);
  b << -1;  // x >= 0 cannot sum to -1
  c << 1, 1;
  EXPECT_EQ(solve_standard_lp(c, A, b).status, LpStatus::kInfeasible);
  Eigen::MatrixXd A2(1, 2);
  A2 << 1, -1;
  b << 1;
  c << -1, 0;
  EXPECT_EQ(solve_standard_lp(c, A2, b).status, LpStatus::kUnbounded);
}

// Hand case: min ||w||_inf s.t. w1 + w2 = 2 gives 1.
TEST(MinNormTest, MaxNormLpHand) {
  Eigen::MatrixXd X(2, 1), Y(1, 1);
  X << 1, 1;
  Y << 2;
  const MinNormResult r = min_max_norm_lp(X, Y);
  EXPECT_NEAR(r.value, 1.0, 1e-12);
  EXPECT_LT(r.residual, 1e-12);
}

// Random single-sample instances: the LP optimum equals Hölder's closed form.
TEST(MinNormTest, MaxNormLpMatchesClosedFormOnRandomInstances) {
  InstanceSampler smp(11);
  for (int i = 0; i < 16; ++i) {
    auto [m, n] = smp.shape(i);
    const Eigen::VectorXd x = smp.gaussian(n, true), y = smp.gaussian(m);
    const MinNormResult r = min_max_norm_lp(x, y);
    ASSERT_EQ(r.status, SolverStatus::kConverged);
    EXPECT_NEAR(r.value, min_max_norm_closed(x, y), 1e-10 * (1.0 + r.value));
    EXPECT_LT(r.residual, 1e-10);
  }
}

TEST(MinNormTest, SpectralSubgradientBracketsMinimum) {
  InstanceSampler smp(12);
  for (int i = 0; i < 8; ++i) {
    auto [m, n] = smp.shape(i);
    const Eigen::VectorXd x = smp.gaussian(n), y = smp.gaussian(m);
    const MinNormResult r = min_spectral_norm_subgradient(x, y, 2000, 5);
    const double closed = min_spectral_norm_closed(x, y);
    std::printf("%dx%d value-closed %.2e\n", m, n, r.value - closed);
    EXPECT_GE(r.value, closed * (1.0 - 1e-12));
    EXPECT_LE(r.lower_bound, closed * (1.0 + 1e-12));
    EXPECT_LT(r.value - closed, 1e-2 * closed);
    EXPECT_LT(r.residual, 1e-10);
  }
}

// Multi-sample: min spectral norm over WX = Y is ||Y X^+||_2 (the certificate is tight).
TEST(MinNormTest, SpectralLowerBoundIsTight) {
  InstanceSampler smp(13);
  const Eigen::MatrixXd X = smp.gaussian_matrix(6, 3), Y = smp.gaussian_matrix(4, 3);
  const Eigen::MatrixXd W = Y * X.completeOrthogonalDecomposition().pseudoInverse();
  EXPECT_NEAR(spectral_interpolation_lower_bound(X, Y), spectral_norm(W), 1e-12);
}

TEST(MinNormTest, BudgetPgdMatchesHand) {
  Eigen::VectorXd r0(2), z(2);
  r0 << 3.0, -1.0;
  z << 1.0, 1.0;
  const BudgetResult bm = budget_projected_gradient(r0, z, 0.25, BudgetNorm::kMax, 500);
  EXPECT_NEAR(bm.value, 0.5 * (2.5 * 2.5 + 0.5 * 0.5), 1e-10);
  const BudgetResult bs = budget_projected_gradient(r0, z, 1.0, BudgetNorm::kSpectral, 500);
  EXPECT_NEAR(bs.value, 0.5 * std::pow(std::sqrt(10.0) - std::sqrt(2.0), 2), 1e-10);
  EXPECT_LE(spectral_norm(bs.Delta), 1.0 + 1e-12);
  EXPECT_THROW(budget_projected_gradient(r0, z, -1.0, BudgetNorm::kMax, 5), std::invalid_argument);
}

}  // namespace
}  // namespace muft::theory
