#include "muft/stats/meta.h"

#include <cmath>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace muft::stats {
namespace {

constexpr double kTol = 1e-12;  // a few dozen double operations on O(1) values

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

TEST(MetaTest, GapReductionHandComputed) {
  // (61.2 - 57.9) - (58.4 - 58.0) = 3.3 - 0.4 = 2.9;
  // variance = (0.64 + 1.21 + 0.36 + 0.81)/3 = 3.02/3 = 1.00667.
  const Effect e =
      gap_reduction("math", {61.2, 0.8, 3}, {57.9, 1.1, 3}, {58.4, 0.6, 3}, {58.0, 0.9, 3});
  EXPECT_NEAR(e.y, 2.9, 1e-12);
  EXPECT_NEAR(e.variance, 3.02 / 3.0, 1e-12);
  EXPECT_THROW(gap_reduction("x", {1, 1, 0}, {1, 1, 3}, {1, 1, 3}, {1, 1, 3}),
               std::invalid_argument);
  EXPECT_THROW(gap_reduction("x", {1, -1, 3}, {1, 1, 3}, {1, 1, 3}, {1, 1, 3}),
               std::invalid_argument);
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

TEST(MetaTest, TaskFilterKeepsOnlyNamedTasks) {
  const auto rows = read_method_table("tests/stats/data/meta_table.csv");
  const auto all =
      gap_reductions(rows, "full-adam", "full-muon", "lora-adam", "lora-muon", nullptr);
  ASSERT_GE(all.size(), 2u);
  const auto kept = rows_of_tasks(rows, {all[1].task});
  for (const auto& r : kept) EXPECT_EQ(r.task, all[1].task);
  const auto one =
      gap_reductions(kept, "full-adam", "full-muon", "lora-adam", "lora-muon", nullptr);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].y, all[1].y);
  EXPECT_EQ(rows_of_tasks(rows, {}).size(), rows.size());
  EXPECT_THROW(rows_of_tasks(rows, {"no-such-task"}), std::invalid_argument);
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
}

// Writes `text` to a fresh file under the test's temporary directory and returns its path.
std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/muft_stats_" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(MetaTest, HugeSeedCountIsAnErrorNotAnOverflow) {
  // n = 1e30 used to be cast to long first (undefined; -9223372036854775808 on x86-64) and then
  // reported as "n must be >= 1, got -9223372036854775808".
  for (const char* n : {"1e30", "inf", "-1e30"}) {
    const std::string path =
        write_temp("huge_n.csv", std::string("task,method,mean,std,n\na,fa,1,0.1,") + n + "\n");
    try {
      read_method_table(path);
      ADD_FAILURE() << "n = " << n << " accepted";
    } catch (const std::invalid_argument& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(std::string("n must be a whole number")), std::string::npos) << m;
      EXPECT_NE(m.find(std::string("'") + n + "'"), std::string::npos) << m;
      EXPECT_EQ(m.find("9223372036854775808"), std::string::npos) << m;
    }
  }
}

TEST(MetaTest, SingleTaskAndBadInput) {
  const MetaResult r = dersimonian_laird({{"a", 2.0, 0.25}});
  EXPECT_EQ(r.status, MetaStatus::kSingleStudy);
  EXPECT_EQ(r.tau2, 0.0);
  EXPECT_NEAR(r.estimate, 2.0, kTol);
  EXPECT_NEAR(r.se, 0.5, kTol);
  EXPECT_THROW(dersimonian_laird({}), std::invalid_argument);
  EXPECT_THROW(dersimonian_laird({{"a", 1.0, 0.0}}), std::invalid_argument);
  EXPECT_THROW(read_method_table("tests/stats/data/does_not_exist.csv"), std::runtime_error);
}

}  // namespace
}  // namespace muft::stats
