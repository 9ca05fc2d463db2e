// Tests of the learning-rate schedules (lib/train/src/schedule.cpp).
#include "muft/train/schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

namespace muft::train {
namespace {

TEST(ScheduleTest, CosineWithWarmupRatio) {
  ScheduleOptions o;  // cosine, 3 % warmup
  o.total_steps = 100;
  // W = 3: multipliers 1/3, 2/3, 1 during warmup.
  EXPECT_DOUBLE_EQ(lr_multiplier(o, 0), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(lr_multiplier(o, 2), 1.0);
  EXPECT_DOUBLE_EQ(lr_multiplier(o, 3), 1.0);  // p = 0
  // p = (s − 3)/97; half way at s = 3 + 48.5 → between 51 and 52.
  EXPECT_NEAR(lr_multiplier(o, 51), 0.5 * (1 + std::cos(M_PI * 48.0 / 97.0)), 1e-15);
  EXPECT_GT(lr_multiplier(o, 99), 0.0);
  EXPECT_LT(lr_multiplier(o, 99), 1e-3);
  o.final_lr_frac = 0.1;
  EXPECT_NEAR(lr_multiplier(o, 99), 0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * 96.0 / 97.0)), 1e-15);
}

TEST(ScheduleTest, LinearWarmdownAsNanoChat) {
  ScheduleOptions o;
  o.kind = ScheduleKind::kLinearWarmdown;
  o.total_steps = 10;
  o.warmup_ratio = 0.0;
  o.warmdown_ratio = 0.2;  // D = 2
  for (int s = 0; s <= 8; ++s) EXPECT_DOUBLE_EQ(lr_multiplier(o, s), 1.0) << s;
  EXPECT_DOUBLE_EQ(lr_multiplier(o, 9), 0.5);  // (10 − 9)/2
  o.final_lr_frac = 0.2;
  EXPECT_DOUBLE_EQ(lr_multiplier(o, 9), 0.2 + 0.8 * 0.5);
  EXPECT_DOUBLE_EQ(lr_multiplier(o, 50), lr_multiplier(o, 9));  // clamped
}

TEST(ScheduleTest, ConstantAndValidation) {
  ScheduleOptions o;
  o.kind = ScheduleKind::kConstant;
  o.total_steps = 4;
  o.warmup_ratio = 0.5;
  EXPECT_DOUBLE_EQ(lr_multiplier(o, 0), 0.5);
  EXPECT_DOUBLE_EQ(lr_multiplier(o, 3), 1.0);
  o.warmup_ratio = 1.5;
  std::string error;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_THROW(lr_multiplier(o, 0), std::invalid_argument);
  EXPECT_EQ(parse_schedule_kind("warmdown"), ScheduleKind::kLinearWarmdown);
  EXPECT_THROW(parse_schedule_kind("step"), std::invalid_argument);
}

}  // namespace
}  // namespace muft::train
