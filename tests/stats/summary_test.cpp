#include "muft/stats/summary.h"

#include <cmath>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace muft::stats {
namespace {

// Reference values from tests/stats/data/reference_stats.py (standard-library Python, its own
// Simpson/bisection Student-t), committed as reference_stats.expected.json.
nlohmann::json Reference() {
  std::ifstream in("tests/stats/data/reference_stats.expected.json");
  EXPECT_TRUE(in.good()) << "run the test from the repository root";
  return nlohmann::json::parse(in);
}

constexpr double kTol = 1e-12;  // double arithmetic on a handful of values
constexpr double kTolT = 1e-9;  // the reference t quantile is Simpson-integrated (~1e-12 error)

TEST(SummaryTest, HandComputedOneToFour) {
  // mean = 10/4 = 2.5; sum of squares = 2.25+0.25+0.25+2.25 = 5; s = sqrt(5/3) = 1.2909944487;
  // sem = s/2 = 0.6454972244; t_{0.975,3} = 3.1824463053 (tables) -> CI 2.5 ± 2.0542765.
  const Summary s = summarize({1.0, 2.0, 3.0, 4.0});
  EXPECT_EQ(s.n, 4u);
  EXPECT_NEAR(s.mean, 2.5, kTol);
  EXPECT_NEAR(s.std, std::sqrt(5.0 / 3.0), kTol);
  EXPECT_NEAR(s.sem, std::sqrt(5.0 / 3.0) / 2.0, kTol);
  EXPECT_NEAR(s.ci_low, 2.5 - 3.182446305284263 * std::sqrt(5.0 / 3.0) / 2.0, kTolT);
  EXPECT_NEAR(s.ci_high, 2.5 + 3.182446305284263 * std::sqrt(5.0 / 3.0) / 2.0, kTolT);
}

TEST(SummaryTest, MatchesIndependentReference) {
  const auto ref = Reference();
  for (const char* key : {"summary_1_2_3_4", "summary_seeds"}) {
    const auto& r = ref[key];
    std::vector<double> xs = std::string(key) == "summary_seeds"
                                 ? std::vector<double>{3.71, 3.65, 3.80}
                                 : std::vector<double>{1, 2, 3, 4};
    const Summary s = summarize(xs);
    EXPECT_NEAR(s.mean, r["mean"].get<double>(), kTol) << key;
    EXPECT_NEAR(s.std, r["std"].get<double>(), kTol) << key;
    EXPECT_NEAR(s.ci_low, r["ci_low"].get<double>(), kTolT) << key;
    EXPECT_NEAR(s.ci_high, r["ci_high"].get<double>(), kTolT) << key;
  }
  EXPECT_NEAR(t_quantile(0.975, 2), ref["t_quantile_0975_dof2"].get<double>(), kTolT);
  EXPECT_NEAR(t_quantile(0.975, 10), ref["t_quantile_0975_dof10"].get<double>(), kTolT);
}

TEST(SummaryTest, SingleValueHasNoInterval) {
  const Summary s = summarize({7.0});
  EXPECT_EQ(s.mean, 7.0);
  EXPECT_EQ(s.std, 0.0);
  EXPECT_TRUE(std::isnan(s.ci_low));
  EXPECT_TRUE(std::isnan(s.ci_high));
}

TEST(SummaryTest, DivergedSeedPropagates) {
  const Summary s = summarize({1.0, std::nan(""), 2.0});
  EXPECT_TRUE(std::isnan(s.mean));
}

TEST(SummaryTest, RejectsBadInput) {
  EXPECT_THROW(summarize({}), std::invalid_argument);
  EXPECT_THROW(summarize({1.0, 2.0}, 1.0), std::invalid_argument);
  EXPECT_THROW(t_quantile(0.0, 3), std::invalid_argument);
  EXPECT_THROW(t_quantile(0.5, 0), std::invalid_argument);
}

TEST(SummaryTest, NormalQuantileKnownValue) {
  EXPECT_NEAR(normal_quantile(0.975), 1.959963984540054, 1e-13);
  EXPECT_NEAR(normal_cdf(0.0), 0.5, 1e-15);
}

TEST(PairedDifferenceTest, MatchesIndependentReference) {
  const auto ref = Reference();
  const PairedDifference d =
      paired_difference({3.2, 3.5, 3.1, 3.9, 3.4}, {3.0, 3.6, 2.8, 3.5, 3.3});
  EXPECT_NEAR(d.difference.mean, ref["paired_a_minus_b"]["mean"].get<double>(), kTol);
  EXPECT_NEAR(d.difference.std, ref["paired_a_minus_b"]["std"].get<double>(), kTol);
  EXPECT_NEAR(d.t, ref["paired_t"].get<double>(), 1e-10);
  EXPECT_NEAR(d.p_value, ref["paired_p"].get<double>(), 1e-9);
}

TEST(PairedDifferenceTest, HandComputed) {
  // d = {1, 2, 3}: mean 2, s = 1, sem = 1/sqrt(3), t = 2 sqrt(3) = 3.4641016.
  const PairedDifference d = paired_difference({2, 4, 6}, {1, 2, 3});
  EXPECT_NEAR(d.difference.mean, 2.0, kTol);
  EXPECT_NEAR(d.t, 2.0 * std::sqrt(3.0), 1e-12);
  // Two-sided p with 2 dof has the closed form 1 - t/sqrt(2 + t^2) = 1 - sqrt(12/14).
  EXPECT_NEAR(d.p_value, 1.0 - std::sqrt(12.0 / 14.0), 1e-12);
  EXPECT_THROW(paired_difference({1, 2}, {1}), std::invalid_argument);
}

}  // namespace
}  // namespace muft::stats
