#include "muft/theory/polar_express.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

namespace muft::theory {
namespace {

// Published first triple of Amsel et al. for l = 1e-3, cushion = 0.02407327424182761, no safety.
constexpr double kTripleTol = 5e-4;  // the reference is printed to 4 decimals

TEST(PolarExpressTest, FirstTripleMatchesReference) {
  PolarExpressOptions opts;
  opts.lower = 1e-3;
  opts.iterations = 10;
  opts.safety = 0.0;
  opts.cushion = 0.02407327424182761;
  const auto c = polar_express_coefficients(opts);
  ASSERT_EQ(c.size(), 10u);
  EXPECT_NEAR(c[0][0], 8.2872, kTripleTol);
  EXPECT_NEAR(c[0][1], -23.5959, kTripleTol);
  EXPECT_NEAR(c[0][2], 17.3004, kTripleTol);
}

// Composition of all K quintics on a log grid of [l, 1]: every point lands near 1.
TEST(PolarExpressTest, CompositionMapsIntervalIntoNarrowBand) {
  PolarExpressOptions opts;
  opts.lower = 1e-3;
  opts.iterations = 10;
  opts.safety = 0.0;
  opts.cushion = 0.02407327424182761;
  const auto c = polar_express_coefficients(opts);
  double worst = 0.0;
  constexpr int kGrid = 2000;
  for (int i = 0; i <= kGrid; ++i) {
    double x = std::pow(10.0, -3.0 + 3.0 * i / kGrid);
    for (const auto& abc : c) x = quintic_value(abc, x);
    worst = std::max(worst, std::abs(x - 1.0));
  }
  std::printf("worst |p(x) - 1| on [1e-3, 1]: %.3e\n", worst);
  constexpr double kBand = 1e-6;  // K = 10 steps from l = 1e-3 converge far below this
  EXPECT_LT(worst, kBand);
}

// With the paper's safety factor the first five steps alone (as Muon-PE uses them) still move
// every singular value in [l, 1] into (0.5, 1.5): the iteration is contracting towards 1.
TEST(PolarExpressTest, PaperSettingFirstFiveStepsStayBounded) {
  const auto c = polar_express_coefficients();  // l=1e-3, K=10, safety=1e-2, cushion=0.02
  ASSERT_EQ(c.size(), 10u);
  for (int i = 0; i <= 1000; ++i) {
    double x = std::pow(10.0, -3.0 + 3.0 * i / 1000.0);
    for (int k = 0; k < 5; ++k) x = quintic_value(c[k], x);
    EXPECT_GT(x, 0.5);
    EXPECT_LT(x, 1.5);
  }
}

TEST(PolarExpressTest, SafetySkipsLastStep) {
  PolarExpressOptions a;
  a.iterations = 1;
  a.safety = 0.5;
  PolarExpressOptions b = a;
  b.safety = 0.0;
  // K = 1: the only step is the last one, so the safety factor must not touch it.
  const auto ca = polar_express_coefficients(a);
  const auto cb = polar_express_coefficients(b);
  EXPECT_DOUBLE_EQ(ca[0][0], cb[0][0]);
  EXPECT_DOUBLE_EQ(ca[0][2], cb[0][2]);
  // K = 2: the first step is divided by (s, s^3, s^5).
  a.iterations = b.iterations = 2;
  const auto da = polar_express_coefficients(a);
  const auto db = polar_express_coefficients(b);
  EXPECT_NEAR(da[0][0] * 1.5, db[0][0], 1e-12 * std::abs(db[0][0]));
  EXPECT_NEAR(da[0][1] * 1.5 * 1.5 * 1.5, db[0][1], 1e-12 * std::abs(db[0][1]));
  EXPECT_NEAR(da[0][2] * std::pow(1.5, 5), db[0][2], 1e-12 * std::abs(db[0][2]));
}

// Equioscillation: on a fine grid the maximum deviation from 1 equals the level E, attained at
// both ends.
TEST(PolarExpressTest, OptimalQuinticEquioscillates) {
  const OptimalQuintic q = optimal_quintic(0.1, 1.0);
  ASSERT_EQ(q.status, QuinticStatus::kConverged);
  double worst = 0.0;
  for (int i = 0; i <= 100000; ++i) {
    const double x = 0.1 + 0.9 * i / 100000.0;
    worst = std::max(worst, std::abs(quintic_value(q.abc, x) - 1.0));
  }
  EXPECT_NEAR(worst, q.error, 1e-9);
  EXPECT_NEAR(quintic_value(q.abc, 0.1), 1.0 - q.error, 1e-12);
  EXPECT_NEAR(quintic_value(q.abc, 1.0), 1.0 + q.error, 1e-12);
}

// Near-degenerate interval: hand value 15/8 - 10/8 + 3/8 = 1 at x = u = 1.
TEST(PolarExpressTest, TaylorLimitOnTinyInterval) {
  const OptimalQuintic q = optimal_quintic(1.0 - 1e-7, 1.0);
  EXPECT_EQ(q.status, QuinticStatus::kTaylorLimit);
  EXPECT_DOUBLE_EQ(q.abc[0], 15.0 / 8.0);
  EXPECT_DOUBLE_EQ(q.abc[1], -10.0 / 8.0);
  EXPECT_DOUBLE_EQ(q.abc[2], 3.0 / 8.0);
  const OptimalQuintic s = optimal_quintic(2.0 - 1e-6, 2.0);
  EXPECT_DOUBLE_EQ(s.abc[1], -10.0 / 8.0 / 8.0);
}

TEST(PolarExpressTest, RejectsBadOptions) {
  PolarExpressOptions o;
  std::string why;
  o.lower = 0.0;
  EXPECT_FALSE(o.IsValid(&why));
  EXPECT_NE(why.find("lower"), std::string::npos);
  EXPECT_THROW(polar_express_coefficients(o), std::invalid_argument);
  o = {};
  o.iterations = 0;
  EXPECT_THROW(polar_express_coefficients(o), std::invalid_argument);
  o = {};
  o.safety = -1.0;
  EXPECT_THROW(polar_express_coefficients(o), std::invalid_argument);
  o = {};
  o.cushion = 1.5;
  EXPECT_THROW(polar_express_coefficients(o), std::invalid_argument);
  EXPECT_THROW(optimal_quintic(0.5, 0.1), std::invalid_argument);
}

}  // namespace
}  // namespace muft::theory
