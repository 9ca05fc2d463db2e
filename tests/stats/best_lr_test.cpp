#include "muft/stats/best_lr.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace muft::stats {
namespace {

TEST(BestLrTest, SelectsLowestMeanNotLowestSingleRun) {
  // lr 1e-3: {3.0, 3.2, 3.4} mean 3.2;  lr 3e-3: {2.5, 4.0, 3.9} mean 3.4667 (holds the single
  // best run 2.5); lr 1e-2: {3.1, 3.3, 3.2} mean 3.2 -> tie with 1e-3 is broken toward 1e-3.
  const std::vector<LrObservation> obs = {{1e-3, 0, 3.0}, {1e-3, 1, 3.2}, {1e-3, 2, 3.4},
                                          {3e-3, 0, 2.5}, {3e-3, 1, 4.0}, {3e-3, 2, 3.9},
                                          {1e-2, 0, 3.1}, {1e-2, 1, 3.3}, {1e-2, 2, 3.2}};
  const BestLr b = select_best_lr(obs);
  ASSERT_EQ(b.status, SelectionStatus::kSuccessful);
  EXPECT_EQ(b.lr, 1e-3);
  EXPECT_NEAR(b.summary.mean, 3.2, 1e-12);
  EXPECT_NEAR(b.summary.std, 0.2, 1e-12);  // sqrt((0.04+0+0.04)/2)
  ASSERT_EQ(b.candidates.size(), 3u);
  EXPECT_EQ(b.candidates[1].lr, 3e-3);
  EXPECT_NEAR(b.candidates[1].summary.mean, 10.4 / 3.0, 1e-12);
}

TEST(BestLrTest, MaximizeAndDivergedExcluded) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // Accuracy: lr 0.9 would be best but one seed diverged -> not a candidate.
  const std::vector<LrObservation> obs = {{0.1, 0, 0.70}, {0.1, 1, 0.72}, {0.3, 0, 0.80},
                                          {0.3, 1, 0.78}, {0.9, 0, 0.95}, {0.9, 1, nan}};
  const BestLr b = select_best_lr(obs, Goal::kMaximize);
  ASSERT_EQ(b.status, SelectionStatus::kSuccessful);
  EXPECT_EQ(b.lr, 0.3);
  EXPECT_NEAR(b.summary.mean, 0.79, 1e-12);
}

TEST(BestLrTest, AllDiverged) {
  const double inf = std::numeric_limits<double>::infinity();
  const BestLr b = select_best_lr({{0.5, 0, inf}, {0.9, 0, inf}});
  EXPECT_EQ(b.status, SelectionStatus::kNoFiniteCandidate);
  // No rate was selected, so there is no summary: NaN with n = 0, never a made-up 0 ± 0.
  EXPECT_EQ(b.summary.n, 0u);
  for (double x :
       {b.summary.mean, b.summary.std, b.summary.sem, b.summary.ci_low, b.summary.ci_high})
    EXPECT_TRUE(std::isnan(x)) << x;
  EXPECT_THROW(select_best_lr({}), std::invalid_argument);
}

}  // namespace
}  // namespace muft::stats
