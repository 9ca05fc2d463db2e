#include "muft/theory/trajectory.h"

#include <gtest/gtest.h>

#include "muft/theory/closed_forms.h"

namespace muft::theory {
namespace {

TEST(TrajectoryTest, RecordScheduleSortedUniqueInRange) {
  const auto r = record_schedule(1000, 10, {7, 2000, -1});
  EXPECT_EQ(r.front(), 0);
  EXPECT_EQ(r.back(), 1000);
  EXPECT_TRUE(std::is_sorted(r.begin(), r.end()));
  EXPECT_TRUE(std::adjacent_find(r.begin(), r.end()) == r.end());
  EXPECT_NE(std::find(r.begin(), r.end(), 7), r.end());
}

// Hand case: GD with eta = 0.5 on L = 1/2 (w - 1)^2 (1x1, x = 1): w_t = 1 - 0.5^t.
TEST(TrajectoryTest, GdOnScalarByHand) {
  const Regression p = Regression::single(Eigen::VectorXd::Ones(1), Eigen::VectorXd::Ones(1));
  const Trajectory tr =
      run_optimizer(p, Eigen::MatrixXd::Zero(1, 1), gd_optimizer(StepSchedule::constant(0.5)), 3,
                    {0, 1, 3}, {Reference{"one", Eigen::MatrixXd::Ones(1, 1), DistanceNorm::kMax}});
  ASSERT_EQ(tr.step.size(), 3u);
  EXPECT_DOUBLE_EQ(tr.dist[0][0], 1.0);
  EXPECT_DOUBLE_EQ(tr.dist[0][1], 0.5);
  EXPECT_DOUBLE_EQ(tr.dist[0][2], 0.125);
  EXPECT_DOUBLE_EQ(tr.loss[2], 0.5 * 0.125 * 0.125);
  EXPECT_DOUBLE_EQ(tr.W_final(0, 0), 0.875);
}

TEST(TrajectoryTest, DistancesInEachNorm) {
  Eigen::MatrixXd A(2, 2), B = Eigen::MatrixXd::Zero(2, 2);
  A << 3, 0, 0, -4;
  EXPECT_DOUBLE_EQ(matrix_distance(A, B, DistanceNorm::kMax), 4.0);
  EXPECT_NEAR(matrix_distance(A, B, DistanceNorm::kSpectral), 4.0, 1e-14);
  EXPECT_DOUBLE_EQ(matrix_distance(A, B, DistanceNorm::kFrobenius), 5.0);
}

TEST(TrajectoryTest, StopsOnNonFinite) {
  // GD with a huge constant step on a stiff problem overflows.
  const Regression p =
      Regression::single(Eigen::VectorXd::Constant(1, 10.0), Eigen::VectorXd::Ones(1));
  const Trajectory tr = run_optimizer(p, Eigen::MatrixXd::Zero(1, 1),
                                      gd_optimizer(StepSchedule::constant(1e3)), 500, {0, 500}, {});
  EXPECT_FALSE(tr.finite);
  EXPECT_THROW(run_optimizer(p, Eigen::MatrixXd::Zero(2, 1),
                             gd_optimizer(StepSchedule::constant(1.0)), 1, {}, {}),
               std::invalid_argument);
}

}  // namespace
}  // namespace muft::theory
