#include "muft/theory/sign_descent.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace muft::theory {
namespace {

// Hand case: d0 = 1, eta_t = 1/(t+1): 1 -> 0 (exactly) -> stays 0.
TEST(SignDescentTest, HandSequence) {
  const StepSchedule s = StepSchedule::inverse_power(1.0, 1.0);
  EXPECT_DOUBLE_EQ(sign_descent(1.0, s, 1), 0.0);
  EXPECT_DOUBLE_EQ(sign_descent(1.0, s, 10), 0.0);
  // d0 = 0.7: 0.7 - 1 = -0.3; -0.3 + 0.5 = 0.2; 0.2 - 1/3 = -2/15.
  EXPECT_NEAR(sign_descent(0.7, s, 3), 0.2 - 1.0 / 3.0, 1e-15);
  // Before entry the distance falls by exactly the step sum.
  EXPECT_NEAR(sign_descent(10.0, s, 3), 10.0 - (1.0 + 0.5 + 1.0 / 3.0), 1e-14);
}

// Property: |d_T| <= bound for many random starts, schedules and horizons, and the bound is
// tight (reached to within a factor 2 for most runs), so it is not vacuous.
TEST(SignDescentTest, BoundHoldsAndIsTight) {
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(-20.0, 20.0);
  int near_tight = 0, runs = 0;
  for (double p : {0.3, 0.5, 0.75, 1.0}) {
    for (int k = 0; k < 50; ++k) {
      const double d0 = u(rng);
      const StepSchedule s = StepSchedule::inverse_power(0.5 + std::abs(u(rng)) / 10.0, p);
      for (long T : {1L, 7L, 100L, 2000L}) {
        const double d = std::abs(sign_descent(d0, s, T));
        const double b = sign_descent_bound(std::abs(d0), s, T);
        EXPECT_LE(d, b * (1 + 1e-12) + 1e-13) << "d0=" << d0 << " p=" << p << " T=" << T;
        ++runs;
        if (d >= 0.5 * b) ++near_tight;
      }
    }
  }
  EXPECT_GT(near_tight, runs / 10);
}

// The statement "eventually |d_t| <= eta_t" (same index) is false: after d_t lands near 0 the
// next iterate is about eta_t > eta_{t+1}. The provable form is |d_{t+1}| <= eta_t.
TEST(SignDescentTest, SameIndexStatementFails) {
  const StepSchedule s = StepSchedule::inverse_power(1.0, 1.0);
  int violations = 0;
  for (long T = 100; T < 2000; ++T) {
    const double d = std::abs(sign_descent(0.37, s, T));
    if (d > s.eta(T)) ++violations;
    EXPECT_LE(d, s.eta(T - 1) * (1 + 1e-12));
  }
  std::printf("|d_T| > eta_T at %d of 1900 steps\n", violations);
  EXPECT_GT(violations, 0);
}

TEST(SignDescentTest, RejectsBadInput) {
  EXPECT_THROW(sign_descent_bound(1.0, StepSchedule::inverse_power(1.0, 0.5), 0),
               std::invalid_argument);
  StepSchedule bad = StepSchedule::inverse_power(1.0, 2.0);
  EXPECT_THROW(sign_descent_bound(1.0, bad, 5), std::invalid_argument);
}

}  // namespace
}  // namespace muft::theory
