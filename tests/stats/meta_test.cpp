#include "muft/stats/meta.h"

#include <cmath>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "muft/stats/gap_reduction.h"

namespace muft::stats {
namespace {

constexpr double kTol = 1e-12;  // a few dozen double operations on O(1) values
// Student-t quantiles below come from closed forms (1 and 2 dof); Boost's quantile is accurate to
// a few ulps, so the interval ends agree to ~1e-14 times the quantile (12.7 for 1 dof).
constexpr double kTolQuantile = 1e-11;

// t_{2, 0.975}: with 2 dof, F(t) = 1/2 + t / (2 sqrt(2 + t^2)), so t_p = a sqrt(2 / (1 - a^2)) with
// a = 2p - 1 = 0.95, and the two-sided p-value of t is 1 - |t| / sqrt(2 + t^2).
const double kT2 = 0.95 * std::sqrt(2.0 / (1.0 - 0.95 * 0.95));  // 4.302652729749463
const double kPi = std::acos(-1.0);
double p_two_dof(double t) {
  return 1.0 - std::fabs(t) / std::sqrt(2.0 + t * t);
}

TEST(MetaTest, HandComputedTwoTasks) {
  // y = {1, 3}, v = {1, 1}: w = {1, 1}, fixed estimate 2, Q = 1 + 1 = 2, C = 2 - 2/2 = 1,
  // tau2 = (2 - 1)/1 = 1; w* = {1/2, 1/2}, mu = 2, se = 1/sqrt(1) = 1,
  // CI = 2 ± 1.959963985 = [0.040036015, 3.959963985], z = 2, p = 2(1 - Phi(2)) = 0.0455002639.
  const MetaResult r = dersimonian_laird({{"a", 1.0, 1.0}, {"b", 3.0, 1.0}});
  EXPECT_EQ(r.status, MetaStatus::kSuccessful);
  EXPECT_EQ(r.k, 2u);
  EXPECT_NEAR(r.fixed_estimate, 2.0, kTol);
  EXPECT_NEAR(r.q, 2.0, kTol);
  EXPECT_NEAR(r.tau2, 1.0, kTol);
  EXPECT_NEAR(r.estimate, 2.0, kTol);
  EXPECT_NEAR(r.se, 1.0, kTol);
  EXPECT_NEAR(r.ci_low, 2.0 - 1.959963984540054, 1e-12);
  EXPECT_NEAR(r.ci_high, 2.0 + 1.959963984540054, 1e-12);
  EXPECT_NEAR(r.p_value, 0.04550026389635842, 1e-12);
  EXPECT_NEAR(r.i2, 0.5, kTol);
}

TEST(MetaTest, HksjHandComputedThreeTasks) {
  // y = {0, 2, 7}, v = {1, 1, 2}, 95 %.
  // DL:   w = {1, 1, 0.5}, sum w = 2.5, FE = (0 + 2 + 3.5)/2.5 = 2.2,
  //       Q = 1(2.2)^2 + 1(0.2)^2 + 0.5(4.8)^2 = 4.84 + 0.04 + 11.52 = 16.4,
  //       C = 2.5 - (1 + 1 + 0.25)/2.5 = 1.6, tau2 = (16.4 - 2)/1.6 = 9,
  //       w* = {1/10, 1/10, 1/11}, sum w* = 16/55, mu = (0.2 + 7/11)/(16/55) = 9.2/3.2 = 2.875,
  //       se_DL = sqrt(55/16) = 1.8540496218.
  // HKSJ: sum w*(y - mu)^2 = 0.1(2.875)^2 + 0.1(0.875)^2 + (4.125)^2/11
  //                        = 0.8265625 + 0.0765625 + 1.546875 = 2.45,
  //       q = 2.45 / ((3 - 1) 16/55) = 4.2109375, se = sqrt(q) = 2.0520568949,
  //       scale = q sum w* = 2.45/2 = 1.225 (> 1: the modified form is the same),
  //       t_{2,0.975} = 4.3026527297, CI = 2.875 ± 8.8292882005 = [-5.9542882005, 11.7042882005],
  //       t = 2.875/2.0520568949 = 1.4010332789, p = 1 - t/sqrt(2 + t^2) = 0.2962114294.
  const MetaResult r = dersimonian_laird({{"a", 0.0, 1.0}, {"b", 2.0, 1.0}, {"c", 7.0, 2.0}});
  EXPECT_NEAR(r.fixed_estimate, 2.2, kTol);
  EXPECT_NEAR(r.q, 16.4, kTol);
  EXPECT_NEAR(r.tau2, 9.0, kTol);
  EXPECT_NEAR(r.estimate, 2.875, kTol);
  EXPECT_NEAR(r.se, std::sqrt(55.0 / 16.0), kTol);
  const HksjInterval& h = r.hksj;
  ASSERT_TRUE(h.defined);
  EXPECT_EQ(h.df, 2.0);
  EXPECT_NEAR(h.se * h.se, 4.2109375, kTol);
  EXPECT_NEAR(h.scale, 1.225, kTol);
  EXPECT_NEAR(h.ci_low, 2.875 - kT2 * std::sqrt(4.2109375), kTolQuantile);
  EXPECT_NEAR(h.ci_high, 2.875 + kT2 * std::sqrt(4.2109375), kTolQuantile);
  EXPECT_NEAR(h.ci_low, -5.954288200540578, kTolQuantile);
  EXPECT_NEAR(h.t, 2.875 / std::sqrt(4.2109375), kTol);
  EXPECT_NEAR(h.p_value, p_two_dof(h.t), kTol);
  EXPECT_NEAR(h.p_value, 0.2962114294335798, kTol);
  // scale > 1: truncating q at the DL variance changes nothing.
  EXPECT_NEAR(h.modified_se, h.se, kTol);
  EXPECT_NEAR(h.modified_ci_low, h.ci_low, kTol);
  EXPECT_NEAR(h.modified_p_value, h.p_value, kTol);
  // HKSJ is wider than the DL normal interval here (2.05 * 4.30 against 1.85 * 1.96).
  EXPECT_LT(h.ci_low, r.ci_low);
  EXPECT_GT(h.ci_high, r.ci_high);
}

TEST(MetaTest, HksjTwoTasksOneDegreeOfFreedom) {
  // k = 2 edge case, y = {1, 3}, v = {1, 1} (DL values in HandComputedTwoTasks): w* = {1/2, 1/2},
  // mu = 2, sum w*(y - mu)^2 = 1/2 + 1/2 = 1, q = 1/((2 - 1) 1) = 1, se = 1, scale = 1.
  // With 1 dof t is Cauchy: t_{1,0.975} = tan(pi (0.975 - 1/2)) = 12.7062047362, so
  // CI = 2 ± 12.7062047362; t = 2, p = 1 - (2/pi) atan(2) = 0.2951672353.
  const MetaResult r = dersimonian_laird({{"a", 1.0, 1.0}, {"b", 3.0, 1.0}});
  const HksjInterval& h = r.hksj;
  ASSERT_TRUE(h.defined);
  EXPECT_EQ(h.df, 1.0);
  const double t1 = std::tan(kPi * 0.475);
  EXPECT_NEAR(h.se, 1.0, kTol);
  EXPECT_NEAR(h.scale, 1.0, kTol);
  EXPECT_NEAR(h.ci_low, 2.0 - t1, kTolQuantile);
  EXPECT_NEAR(h.ci_high, 2.0 + t1, kTolQuantile);
  EXPECT_NEAR(h.ci_high, 14.706204736174696, kTolQuantile);
  EXPECT_NEAR(h.t, 2.0, kTol);
  EXPECT_NEAR(h.p_value, 1.0 - 2.0 / kPi * std::atan(2.0), kTol);
  // The DL normal interval [0.04, 3.96] excludes 0 while HKSJ with one dof does not.
  EXPECT_GT(r.ci_low, 0.0);
  EXPECT_LT(h.ci_low, 0.0);
}

TEST(MetaTest, HksjWithZeroTau2AndTheModifiedForm) {
  // y = {1, 2, 1.5}, v = {1, 1, 1}: FE = 1.5, Q = 0.25 + 0.25 + 0 = 0.5 < k - 1 = 2, so tau2 = 0
  // and w* = w = {1, 1, 1}, sum w* = 3, mu = 1.5, se_DL = 1/sqrt(3) = 0.5773502692.
  // HKSJ: sum w*(y - mu)^2 = 0.5, q = 0.5/(2 * 3) = 1/12, se = 0.2886751346, scale = 0.25 (< 1),
  //   CI = 1.5 ± 4.3026527297 * 0.2886751346 = [0.2579311441, 2.7420688559],
  //   t = 1.5 sqrt(12) = 5.1961524227, p = 1 - t/sqrt(2 + t^2) = 0.0350987186.
  // Modified: q* = max(1/12, 1/3) = 1/3, se = 0.5773502692,
  //   CI = 1.5 ± 2.4841377118 = [-0.9841377118, 3.9841377118], t = 1.5 sqrt(3), p = 0.1216899343.
  const MetaResult r = dersimonian_laird({{"a", 1.0, 1.0}, {"b", 2.0, 1.0}, {"c", 1.5, 1.0}});
  EXPECT_EQ(r.tau2, 0.0);
  EXPECT_NEAR(r.q, 0.5, kTol);
  EXPECT_NEAR(r.estimate, 1.5, kTol);
  const HksjInterval& h = r.hksj;
  EXPECT_NEAR(h.se, std::sqrt(1.0 / 12.0), kTol);
  EXPECT_NEAR(h.scale, 0.25, kTol);
  EXPECT_NEAR(h.ci_low, 0.25793114412483487, kTolQuantile);
  EXPECT_NEAR(h.ci_high, 2.742068855875165, kTolQuantile);
  EXPECT_NEAR(h.t, 1.5 * std::sqrt(12.0), kTol);
  EXPECT_NEAR(h.p_value, p_two_dof(1.5 * std::sqrt(12.0)), kTol);
  EXPECT_NEAR(h.modified_se, 1.0 / std::sqrt(3.0), kTol);
  EXPECT_NEAR(h.modified_ci_low, -0.9841377117503307, kTolQuantile);
  EXPECT_NEAR(h.modified_ci_high, 3.9841377117503307, kTolQuantile);
  EXPECT_NEAR(h.modified_p_value, p_two_dof(1.5 * std::sqrt(3.0)), kTol);
  // The standalone function with the same tau2 gives the same interval.
  const HksjInterval h2 =
      hksj_interval({{"a", 1.0, 1.0}, {"b", 2.0, 1.0}, {"c", 1.5, 1.0}}, 0.0, 0.95);
  EXPECT_EQ(h2.ci_low, h.ci_low);
  EXPECT_THROW(hksj_interval({{"a", 1.0, 1.0}, {"b", 2.0, 1.0}}, -1.0), std::invalid_argument);
}

TEST(MetaTest, HksjIdenticalEffectsGiveAZeroWidthStandardInterval) {
  // Every task agrees exactly: q = 0. The standard HKSJ interval has zero width (its known weak
  // point), t = inf, p = 0; the modified one falls back to the DL variance.
  const MetaResult r = dersimonian_laird({{"a", 1.0, 1.0}, {"b", 1.0, 1.0}});
  EXPECT_EQ(r.hksj.se, 0.0);
  EXPECT_EQ(r.hksj.ci_low, 1.0);
  EXPECT_EQ(r.hksj.ci_high, 1.0);
  EXPECT_TRUE(std::isinf(r.hksj.t));
  EXPECT_EQ(r.hksj.p_value, 0.0);
  EXPECT_NEAR(r.hksj.modified_se, 1.0 / std::sqrt(2.0), kTol);
  EXPECT_GT(r.hksj.modified_p_value, 0.0);
}

TEST(MetaTest, HomogeneousTasksGiveZeroTau2) {
  // y = {1, 1.5}, v = {1, 4}: w = {1, 0.25}, FE = (1 + 0.375)/1.25 = 1.1,
  // Q = 1*(0.1)^2 + 0.25*(0.4)^2 = 0.05 < k-1 = 1 -> tau2 = 0, estimate = FE = 1.1,
  // se = 1/sqrt(1.25) = 0.894427191.
  const MetaResult r = dersimonian_laird({{"a", 1.0, 1.0}, {"b", 1.5, 4.0}});
  EXPECT_EQ(r.tau2, 0.0);
  EXPECT_NEAR(r.q, 0.05, kTol);
  EXPECT_NEAR(r.estimate, 1.1, kTol);
  EXPECT_NEAR(r.se, 1.0 / std::sqrt(1.25), kTol);
}

TEST(MetaTest, EffectIntervalUsesStudentT) {
  // y = 2, v = 0.25 (sd 0.5), df = 2: 2 ± 4.3026527297 * 0.5; df = inf: 2 ± 1.959963985 * 0.5.
  Effect e{"a", 2.0, 0.25, 2.0};
  Interval i = effect_interval(e);
  EXPECT_NEAR(i.low, 2.0 - 0.5 * kT2, kTolQuantile);
  EXPECT_NEAR(i.high, 2.0 + 0.5 * kT2, kTolQuantile);
  e.df = std::numeric_limits<double>::infinity();
  i = effect_interval(e);
  EXPECT_NEAR(i.high, 2.0 + 0.5 * 1.959963984540054, 1e-12);
  e.df = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(std::isnan(effect_interval(e).low));
  EXPECT_THROW(effect_interval(e, 1.0), std::invalid_argument);
}

TEST(MetaTest, TableMatchesIndependentReference) {
  // tests/stats/data/reference_stats.py computes the same pooling from the same CSV in Python.
  std::ifstream in("tests/stats/data/reference_stats.expected.json");
  ASSERT_TRUE(in.good()) << "run from the repository root";
  const auto ref = nlohmann::json::parse(in)["meta_table"];
  std::vector<std::string> skipped;
  const auto rows = read_method_table("tests/stats/data/meta_table.csv");
  const auto effects =
      gap_reductions(rows, "full-adam", "full-muon", "lora-adam", "lora-muon", &skipped);
  ASSERT_EQ(skipped, std::vector<std::string>{"dtd"});  // dtd lacks two methods
  ASSERT_EQ(effects.size(), 4u);
  for (std::size_t i = 0; i < effects.size(); ++i) {
    EXPECT_EQ(effects[i].task, ref["tasks"][i].get<std::string>());
    EXPECT_NEAR(effects[i].y, ref["y"][i].get<double>(), kTol);
    EXPECT_NEAR(effects[i].variance, ref["v"][i].get<double>(), kTol);
  }
  const MetaResult r = dersimonian_laird(effects);
  for (const char* key : {"estimate", "ci_low", "ci_high", "tau2", "q", "se"})
    EXPECT_NEAR((key == std::string("estimate")  ? r.estimate
                 : key == std::string("ci_low")  ? r.ci_low
                 : key == std::string("ci_high") ? r.ci_high
                 : key == std::string("tau2")    ? r.tau2
                 : key == std::string("q")       ? r.q
                                                 : r.se),
                ref[key].get<double>(), 1e-10)
        << key;
  EXPECT_NEAR(r.p_value, ref["p_value"].get<double>(), 1e-12);
  EXPECT_GT(r.tau2, 0.0);  // the fixture is heterogeneous on purpose
}

TEST(MetaTest, HksjMatchesIndependentReference) {
  // The reference's t quantile and CDF are its own (Simpson integration of the density and
  // bisection), accurate to ~1e-11; kTolRef leaves room for that.
  constexpr double kTolRef = 1e-9;
  std::ifstream in("tests/stats/data/reference_stats.expected.json");
  ASSERT_TRUE(in.good()) << "run from the repository root";
  const auto all = nlohmann::json::parse(in);
  for (const char* fixture : {"meta_table", "meta_homogeneous"}) {
    const auto& ref = all[fixture];
    std::vector<Effect> effects;
    for (std::size_t i = 0; i < ref["y"].size(); ++i)
      effects.push_back({ref["tasks"][i].get<std::string>(), ref["y"][i].get<double>(),
                         ref["v"][i].get<double>()});
    const HksjInterval h = dersimonian_laird(effects).hksj;
    const auto& rh = ref["hksj"];
    EXPECT_NEAR(h.se, rh["se"].get<double>(), kTol) << fixture;
    EXPECT_NEAR(h.scale, rh["scale"].get<double>(), kTol) << fixture;
    EXPECT_NEAR(h.ci_low, rh["ci_low"].get<double>(), kTolRef) << fixture;
    EXPECT_NEAR(h.ci_high, rh["ci_high"].get<double>(), kTolRef) << fixture;
    EXPECT_NEAR(h.p_value, rh["p_value"].get<double>(), kTolRef) << fixture;
    EXPECT_NEAR(h.modified_ci_low, rh["modified_ci_low"].get<double>(), kTolRef) << fixture;
    EXPECT_NEAR(h.modified_ci_high, rh["modified_ci_high"].get<double>(), kTolRef) << fixture;
    EXPECT_NEAR(h.modified_p_value, rh["modified_p_value"].get<double>(), kTolRef) << fixture;
  }
  // The homogeneous fixture is the case the modified form exists for.
  EXPECT_LT(all["meta_homogeneous"]["hksj"]["scale"].get<double>(), 1.0);
}

TEST(MetaTest, WrongSignFails) {
  // Swapping A and B flips the sign of every effect: the check must see it.
  const auto rows = read_method_table("tests/stats/data/meta_table.csv");
  const auto flipped = dersimonian_laird(
      gap_reductions(rows, "full-muon", "full-adam", "lora-muon", "lora-adam", nullptr));
  const auto normal = dersimonian_laird(
      gap_reductions(rows, "full-adam", "full-muon", "lora-adam", "lora-muon", nullptr));
  EXPECT_NEAR(flipped.estimate, -normal.estimate, 1e-12);
  EXPECT_NE(flipped.estimate, normal.estimate);
  EXPECT_NEAR(flipped.hksj.ci_low, -normal.hksj.ci_high, 1e-12);
}

TEST(MetaTest, SingleTaskAndBadInput) {
  const MetaResult r = dersimonian_laird({{"a", 2.0, 0.25}});
  EXPECT_EQ(r.status, MetaStatus::kSingleStudy);
  EXPECT_EQ(r.tau2, 0.0);
  EXPECT_NEAR(r.estimate, 2.0, kTol);
  EXPECT_NEAR(r.se, 0.5, kTol);
  EXPECT_FALSE(r.hksj.defined);  // no degrees of freedom
  EXPECT_TRUE(std::isnan(r.hksj.ci_low));
  EXPECT_TRUE(std::isnan(r.hksj.p_value));
  EXPECT_THROW(dersimonian_laird({}), std::invalid_argument);
  EXPECT_THROW(dersimonian_laird({{"a", 1.0, 0.0}}), std::invalid_argument);
  EXPECT_THROW(dersimonian_laird({{"a", 1.0, 1.0}}, 1.0), std::invalid_argument);
}

}  // namespace
}  // namespace muft::stats
