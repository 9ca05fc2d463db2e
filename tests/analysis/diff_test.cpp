/// \file diff_test.cpp
/// Distances between matrices: hand-computed cases, accuracy near W = W0, totals.

#include "muft/analysis/diff.h"

#include <cmath>

#include <gtest/gtest.h>

namespace muft::analysis {
namespace {

TEST(DiffTest, HandComputed2x2) {
  const double w0[] = {1, 0, 0, 1};
  const double w[] = {2, 0, 0, 1};
  const DiffMetrics d = compute_diff(w, w0, 2, 2, MetricOptions{});
  EXPECT_NEAR(d.l2_distance, 1.0, 1e-15);
  EXPECT_NEAR(d.relative_distance, 1.0 / std::sqrt(2.0), 1e-15);
  EXPECT_NEAR(d.cosine_distance, 1.0 - 3.0 / (std::sqrt(5.0) * std::sqrt(2.0)), 1e-15);
  EXPECT_NEAR(d.norm, std::sqrt(5.0), 1e-15);
  EXPECT_NEAR(d.base_norm, std::sqrt(2.0), 1e-15);
  // ΔW = diag(1, 0): rank one.
  EXPECT_NEAR(d.delta.spectral_norm, 1.0, 1e-15);
  EXPECT_NEAR(d.delta.stable_rank, 1.0, 1e-14);
  EXPECT_EQ(d.delta.numerical_rank, 1);
}

TEST(DiffTest, FloatInputRectangular2x3) {
  const float w0[] = {1, 2, 3, 4, 5, 6};
  const float w[] = {1, 2, 3, 4, 5, 8};
  const DiffMetrics d = compute_diff(w, w0, 2, 3, MetricOptions{});
  EXPECT_NEAR(d.l2_distance, 2.0, 1e-15);
  EXPECT_NEAR(d.relative_distance, 2.0 / std::sqrt(91.0), 1e-15);
  const double inner = 1 + 4 + 9 + 16 + 25 + 48;
  EXPECT_NEAR(d.cosine_distance, 1 - inner / (std::sqrt(119.0) * std::sqrt(91.0)), 1e-15);
  EXPECT_EQ(d.delta.rows, 2);
  EXPECT_EQ(d.delta.cols, 3);
}

TEST(DiffTest, CosineDistanceAccurateNearIdentity) {
  // W0 = I₄, W = I₄ + ε e₁e₂ᵀ: cos distance = 1 − 1/sqrt(1 + ε²/4) ≈ ε²/8, far below what
  // 1 − ⟨W,W0⟩/(‖W‖‖W0‖) evaluated naively can resolve.
  const double eps = 1e-6;
  double w0[16] = {}, w[16] = {};
  for (int i = 0; i < 4; ++i) w0[i * 5] = w[i * 5] = 1;
  w[1] = eps;
  const DiffMetrics d = compute_diff(w, w0, 4, 4, MetricOptions{});
  const double want = -std::expm1(-0.5 * std::log1p(eps * eps / 4));
  EXPECT_NEAR(d.cosine_distance / want, 1.0, 1e-6) << d.cosine_distance << " vs " << want;
}

TEST(DiffTest, IdenticalMatricesHaveZeroDistance) {
  const double w[] = {1, 2, 3, 4};
  const DiffMetrics d = compute_diff(w, w, 2, 2, MetricOptions{});
  EXPECT_EQ(d.l2_distance, 0);
  EXPECT_EQ(d.cosine_distance, 0);
  EXPECT_EQ(d.delta.status, MetricStatus::Zero);
  EXPECT_TRUE(std::isnan(d.delta.stable_rank));
}

TEST(DiffTest, ZeroBaseGivesNaNRelative) {
  const double w0[] = {0, 0, 0, 0}, w[] = {1, 0, 0, 0};
  const DiffMetrics d = compute_diff(w, w0, 2, 2, MetricOptions{});
  EXPECT_EQ(d.l2_distance, 1);
  EXPECT_TRUE(std::isnan(d.relative_distance));
  EXPECT_TRUE(std::isnan(d.cosine_distance));
}

TEST(DiffTest, NonFiniteGivesNaNDistances) {
  const double w0[] = {1, 0, 0, 1}, w[] = {NAN, 0, 0, 1};
  const DiffMetrics d = compute_diff(w, w0, 2, 2, MetricOptions{});
  EXPECT_TRUE(std::isnan(d.l2_distance));
  EXPECT_EQ(d.delta.status, MetricStatus::NonFinite);
}

TEST(DiffTest, TotalsEqualConcatenation) {
  // Tensors {diag(2,1) vs I} and {[1,2,3;4,5,8] vs [1,2,3;4,5,6]} as one long vector.
  const double a0[] = {1, 0, 0, 1}, a[] = {2, 0, 0, 1};
  const double b0[] = {1, 2, 3, 4, 5, 6}, b[] = {1, 2, 3, 4, 5, 8};
  DiffTotals t;
  t.add(compute_diff(a, a0, 2, 2, MetricOptions{}));
  t.add(compute_diff(b, b0, 2, 3, MetricOptions{}));
  const double cat[] = {2, 0, 0, 1, 1, 2, 3, 4, 5, 8}, cat0[] = {1, 0, 0, 1, 1, 2, 3, 4, 5, 6};
  const DiffMetrics whole = compute_diff(cat, cat0, 1, 10, MetricOptions{});
  const DiffMetrics total = t.total();
  EXPECT_EQ(t.tensors, 2);
  EXPECT_NEAR(total.l2_distance, whole.l2_distance, 1e-14);
  EXPECT_NEAR(total.relative_distance, whole.relative_distance, 1e-14);
  EXPECT_NEAR(total.cosine_distance, whole.cosine_distance, 1e-14);
  EXPECT_NEAR(total.l2_distance, std::sqrt(5.0), 1e-14);
}

}  // namespace
}  // namespace muft::analysis
