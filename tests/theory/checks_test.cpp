#include "muft/theory/checks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace muft::theory {
namespace {

// Few instances keep the suite fast; every shape class still appears (8 shapes cycle).
CheckOptions Small(Fault f = Fault::kNone) {
  CheckOptions o;
  o.instances = 9;
  o.seed = 77;
  o.fault = f;
  return o;
}

class CheckTest : public ::testing::TestWithParam<std::string> {};

const std::vector<std::string> kTheorems{
    "lemma-d1",          "thm-3.1-signgd", "thm-3.2-muon", "prop-d4-continuation", "prop-d5-budget",
    "cor-d6-thresholds", "cor-d7-damage",  "prop-d8-lora", "multi-sample"};

TEST_P(CheckTest, PassesOnTheTrueStatement) {
  const CheckInfo* c = find_check(GetParam());
  ASSERT_NE(c, nullptr);
  const CheckResult r = run_check(*c, Small());
  std::printf("%s: worst %.3e bound %.3e ratio %.3f\n", r.name.c_str(), r.worst_error, r.bound,
              r.worst_ratio);
  EXPECT_EQ(r.status, CheckStatus::kPass) << r.note;
  EXPECT_LE(r.worst_ratio, 1.0);
  EXPECT_GT(r.instances, 0);
}

TEST_P(CheckTest, FailsOnAWrongLimit) {
  const CheckResult r = run_check(*find_check(GetParam()), Small(Fault::kWrongLimit));
  std::printf("%s wrong limit: %s\n", r.name.c_str(), r.note.c_str());
  EXPECT_EQ(r.status, CheckStatus::kFail);
  EXPECT_FALSE(r.note.empty());
}

TEST_P(CheckTest, FailsOnAMismatchedOptimizer) {
  const CheckResult r = run_check(*find_check(GetParam()), Small(Fault::kMismatchedOptimizer));
  std::printf("%s mismatched: %s\n", r.name.c_str(), r.note.c_str());
  EXPECT_EQ(r.status, CheckStatus::kFail);
}

INSTANTIATE_TEST_SUITE_P(AllTheorems, CheckTest, ::testing::ValuesIn(kTheorems),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return s;
                         });

TEST(ObservationTest, ImplicitBiasReportsNumbersAndCanFail) {
  const CheckResult r = run_check(*find_check("obs-implicit-bias"), Small());
  EXPECT_EQ(r.status, CheckStatus::kInfo) << r.note;
  EXPECT_FALSE(r.metrics.empty());
  for (const auto& [k, v] : r.metrics) EXPECT_TRUE(std::isfinite(v)) << k;
  ASSERT_FALSE(r.records.empty());  // the figure's trajectories
  const CheckResult bad =
      run_check(*find_check("obs-implicit-bias"), Small(Fault::kMismatchedOptimizer));
  EXPECT_EQ(bad.status, CheckStatus::kFail);
}

TEST(ObservationTest, AdamEpsAndMomentumAreInfo) {
  for (const char* name : {"obs-adam-eps", "obs-momentum"}) {
    CheckOptions o = Small();
    o.instances = 4;
    const CheckResult r = run_check(*find_check(name), o);
    EXPECT_EQ(r.status, CheckStatus::kInfo) << name << ": " << r.note;
    for (const auto& [k, v] : r.metrics) EXPECT_TRUE(std::isfinite(v)) << k;
  }
}

TEST(CheckRegistryTest, NamesUniqueAndLookup) {
  std::set<std::string> names;
  for (const auto& c : all_checks()) {
    EXPECT_TRUE(names.insert(c.name).second) << c.name;
    EXPECT_FALSE(c.statement.empty());
  }
  for (const auto& t : kTheorems) EXPECT_TRUE(names.count(t)) << t;
  EXPECT_EQ(find_check("no-such-check"), nullptr);
  CheckOptions bad;
  bad.instances = 0;
  EXPECT_THROW(run_check(all_checks().front(), bad), std::invalid_argument);
}

// Same seed, same numbers: the suite is reproducible.
TEST(CheckRegistryTest, Deterministic) {
  const CheckResult a = run_check(*find_check("thm-3.1-signgd"), Small());
  const CheckResult b = run_check(*find_check("thm-3.1-signgd"), Small());
  EXPECT_EQ(a.worst_error, b.worst_error);
}

}  // namespace
}  // namespace muft::theory
