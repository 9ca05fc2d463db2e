// The divergence and collapse rules (health.h) on constructed numbers.
#include "muft/train/health.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace muft::train {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(DivergenceMonitorTest, NeedsAWholeWindowAboveTheMargin) {
  HealthOptions o;  // margin 1.0, window 5
  DivergenceMonitor m(o, 2.0);
  for (int s = 1; s <= 4; ++s) EXPECT_EQ(m.observe(s, 3.5), "") << s;  // 4 steps above 3.0
  EXPECT_EQ(m.observe(5, 2.9), "");                                    // back below: reset
  EXPECT_EQ(m.streak(), 0);
  for (int s = 6; s <= 9; ++s) EXPECT_EQ(m.observe(s, 3.01), "");
  const std::string why = m.observe(10, 3.01);
  EXPECT_NE(why.find("5 consecutive steps"), std::string::npos) << why;
  EXPECT_NE(why.find("step 10"), std::string::npos) << why;
}

TEST(DivergenceMonitorTest, ExactlyAtTheMarginIsNotAbove) {
  HealthOptions o;
  o.divergence_window = 1;
  DivergenceMonitor m(o, 2.0);
  EXPECT_EQ(m.observe(1, 3.0), "");  // 2.0 + 1.0 is not above 3.0
  EXPECT_NE(m.observe(2, 3.0000001), "");
}

TEST(DivergenceMonitorTest, NonFiniteAlwaysDivergesAndStreakSurvivesRestore) {
  HealthOptions off;
  off.enabled = false;
  DivergenceMonitor a(off, 2.0);
  EXPECT_EQ(a.observe(1, 100.0), "");  // off: only non-finite values count
  EXPECT_NE(a.observe(2, std::numeric_limits<double>::infinity()).find("non-finite"),
            std::string::npos);
  DivergenceMonitor b(HealthOptions{}, kNaN);  // no reference: only non-finite values count
  EXPECT_EQ(b.observe(1, 1e9), "");
  EXPECT_NE(b.observe(2, kNaN), "");
  DivergenceMonitor c(HealthOptions{}, 1.0);
  c.restore(4);
  EXPECT_NE(c.observe(7, 5.0), "");  // the fifth step above, counting the restored four
}

TEST(CollapseTest, UniformLossAfterStartingFarBelowIsCollapse) {
  const HealthOptions o;  // tolerance 0.02, start gap 0.5, spread 1e-3
  CollapseInputs in;
  in.uniform_loss = std::log(10.0);
  in.label_frequency_loss = 2.2;
  in.initial_val_loss = 0.3;
  in.initial_spread = 2.0;
  in.spread = 0.5;
  in.val_loss = std::log(10.0) + 0.01;
  EXPECT_NE(detect_collapse(o, in).find("uniform-prediction"), std::string::npos);
  in.val_loss = std::log(10.0) + 0.05;  // outside the tolerance
  EXPECT_EQ(detect_collapse(o, in), "");
  in.val_loss = 2.21;  // the label-frequency loss
  EXPECT_NE(detect_collapse(o, in).find("label-frequency"), std::string::npos);
  in.initial_val_loss = 2.0;  // started only 0.2 below it: never learned, not collapsed
  EXPECT_EQ(detect_collapse(o, in), "");
  in.initial_val_loss = 40.0;  // started far above (a random new-class head): not rule (a)
  in.val_loss = std::log(10.0);
  EXPECT_EQ(detect_collapse(o, in), "");
}

TEST(CollapseTest, PredictionsThatIgnoreTheInputAreCollapse) {
  const HealthOptions o;
  CollapseInputs in;
  in.uniform_loss = std::log(10.0);
  in.label_frequency_loss = std::log(5.0);
  in.initial_val_loss = 40.0;  // rule (a) cannot apply
  in.val_loss = std::log(10.0);
  in.initial_spread = 3.0;
  in.spread = 0.0;  // constant logits
  EXPECT_NE(detect_collapse(o, in).find("no longer depend"), std::string::npos);
  in.spread = 0.002;
  EXPECT_EQ(detect_collapse(o, in), "");
  in.spread = 0.0;
  in.initial_spread = 0.005;  // a model that never depended on the input (fresh zero head)
  EXPECT_EQ(detect_collapse(o, in), "");
  HealthOptions off = o;
  off.enabled = false;
  in.initial_spread = 3.0;
  EXPECT_EQ(detect_collapse(off, in), "");
}

TEST(HealthOptionsTest, Validation) {
  std::string err;
  HealthOptions h;
  EXPECT_TRUE(h.IsValid(&err));
  h.divergence_window = 0;
  EXPECT_FALSE(h.IsValid(&err));
  EXPECT_NE(err.find("divergence_window"), std::string::npos);
  h = HealthOptions{};
  h.divergence_margin = -1;
  EXPECT_FALSE(h.IsValid(&err));
  h = HealthOptions{};
  h.collapse_spread = std::nan("");
  EXPECT_FALSE(h.IsValid(&err));
}

}  // namespace
}  // namespace muft::train
