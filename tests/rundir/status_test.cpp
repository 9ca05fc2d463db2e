#include "muft/rundir/status.h"

#include <gtest/gtest.h>

namespace muft::rundir {
namespace {

TEST(RunStatusTest, NamesRoundTrip) {
  std::size_t n = 0;
  const RunStatus* all = all_run_statuses(&n);
  ASSERT_EQ(n, 5u);
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(parse_run_status(to_string(all[i])), all[i]);
  EXPECT_STREQ(to_string(RunStatus::kCompleted), "completed");
  EXPECT_STREQ(to_string(RunStatus::kCollapsed), "collapsed");
  EXPECT_THROW(parse_run_status("done"), std::invalid_argument);
  EXPECT_THROW(parse_run_status("Completed"), std::invalid_argument);
}

TEST(RunStatusTest, UnhealthyAndFinal) {
  EXPECT_TRUE(is_unhealthy(RunStatus::kDiverged));
  EXPECT_TRUE(is_unhealthy(RunStatus::kCollapsed));
  EXPECT_FALSE(is_unhealthy(RunStatus::kCompleted));
  EXPECT_FALSE(is_unhealthy(RunStatus::kFailed));
  EXPECT_FALSE(is_final(RunStatus::kRunning));
  EXPECT_TRUE(is_final(RunStatus::kFailed));
}

}  // namespace
}  // namespace muft::rundir
