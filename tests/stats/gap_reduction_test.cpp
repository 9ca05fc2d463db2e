#include "muft/stats/gap_reduction.h"

#include <cmath>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "muft/stats/summary.h"

namespace muft::stats {
namespace {

constexpr double kTol = 1e-12;  // a few dozen double operations on O(1) values
// The reference's t quantile is Simpson-integrated and bisected (~1e-11 absolute).
constexpr double kTolRef = 1e-9;

nlohmann::json Reference() {
  std::ifstream in("tests/stats/data/reference_stats.expected.json");
  EXPECT_TRUE(in.good()) << "run the test from the repository root";
  return nlohmann::json::parse(in);
}

// Writes `text` to a file under the test's temporary directory and returns its path.
std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/muft_stats_" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(GapReductionTest, HandComputed) {
  // (61.2 - 57.9) - (58.4 - 58.0) = 3.3 - 0.4 = 2.9;
  // variance: s^2/n = {0.64, 1.21, 0.36, 0.81}/3 = {0.213333, 0.403333, 0.12, 0.27}, sum 1.00667.
  // Welch-Satterthwaite: sum (s^2/n)^2/(n-1) = (0.0455111 + 0.1626778 + 0.0144 + 0.0729)/2
  //   = 0.1477444; df = 1.0133444/0.1477444 = 6.8589907.
  const Effect e =
      gap_reduction("math", {61.2, 0.8, 3}, {57.9, 1.1, 3}, {58.4, 0.6, 3}, {58.0, 0.9, 3});
  EXPECT_NEAR(e.y, 2.9, 1e-12);
  EXPECT_NEAR(e.variance, 3.02 / 3.0, 1e-12);
  const double u[] = {0.64 / 3, 1.21 / 3, 0.36 / 3, 0.81 / 3};
  double denom = 0.0;
  for (double x : u) denom += x * x / 2.0;
  EXPECT_NEAR(e.df, (3.02 / 3.0) * (3.02 / 3.0) / denom, 1e-10);
  EXPECT_NEAR(e.df, 6.858990749793189, 1e-10);
  EXPECT_THROW(gap_reduction("x", {1, 1, 0}, {1, 1, 3}, {1, 1, 3}, {1, 1, 3}),
               std::invalid_argument);
  EXPECT_THROW(gap_reduction("x", {1, -1, 3}, {1, 1, 3}, {1, 1, 3}, {1, 1, 3}),
               std::invalid_argument);
}

TEST(GapReductionTest, WelchDfEdgeCases) {
  // Equal cells, s = 1, n = 3: v = 4/3, df = (4/3)^2 / (4 (1/9)/2) = 8 = sum of (n - 1).
  EXPECT_NEAR(gap_reduction("x", {1, 1, 3}, {0, 1, 3}, {0, 1, 3}, {0, 1, 3}).df, 8.0, kTol);
  // One cell carries all the spread: df = n - 1 of that cell.
  EXPECT_NEAR(gap_reduction("x", {1, 2, 5}, {0, 0, 3}, {0, 0, 3}, {0, 0, 3}).df, 4.0, kTol);
  // A cell over one seed has an unknown variance: no per-task interval.
  EXPECT_TRUE(std::isnan(gap_reduction("x", {1, 0, 1}, {0, 1, 3}, {0, 1, 3}, {0, 1, 3}).df));
}

TEST(GapReductionTest, MeansTableMatchesIndependentReference) {
  const auto ref = Reference()["meta_table"];
  const auto effects = gap_reductions(read_method_table("tests/stats/data/meta_table.csv"),
                                      "full-adam", "full-muon", "lora-adam", "lora-muon", nullptr);
  ASSERT_EQ(effects.size(), ref["df"].size());
  for (std::size_t i = 0; i < effects.size(); ++i) {
    EXPECT_NEAR(effects[i].df, ref["df"][i].get<double>(), 1e-10) << i;
    const Interval ci = effect_interval(effects[i]);
    EXPECT_NEAR(ci.low, ref["task_ci"][i][0].get<double>(), kTolRef) << i;
    EXPECT_NEAR(ci.high, ref["task_ci"][i][1].get<double>(), kTolRef) << i;
  }
}

TEST(GapReductionTest, PairedHandComputed) {
  // One task, three seeds (rows deliberately out of seed order):
  //   seed 0: (5 - 3) - (4 - 3) = 1;  seed 1: (6 - 3) - (4 - 2) = 1;  seed 2: (7 - 2) - (5 - 3)
  //   = 3.
  // d = {1, 1, 3}: mean 5/3, s^2 = ((2/3)^2 + (2/3)^2 + (4/3)^2)/2 = 4/3, v = s^2/3 = 4/9,
  // df = 2, interval 5/3 ± 4.3026527297 * 2/3.
  std::vector<SeedRow> rows = {{"t", "fa", "1", 6},    {"t", "fa", "0", 5}, {"t", "fa", "2", 7},
                               {"t", "fb", "0", 3},    {"t", "fb", "2", 2}, {"t", "fb", "1", 3},
                               {"t", "la", "0", 4},    {"t", "la", "1", 4}, {"t", "la", "2", 5},
                               {"t", "lb", "2", 3},    {"t", "lb", "1", 2}, {"t", "lb", "0", 3},
                               {"t", "other", "0", 99}};
  const auto effects = paired_gap_reductions(rows, "fa", "fb", "la", "lb", nullptr);
  ASSERT_EQ(effects.size(), 1u);
  EXPECT_NEAR(effects[0].y, 5.0 / 3.0, kTol);
  EXPECT_NEAR(effects[0].variance, 4.0 / 9.0, kTol);
  EXPECT_EQ(effects[0].df, 2.0);
  const double t2 = 0.95 * std::sqrt(2.0 / (1.0 - 0.95 * 0.95));  // closed form for 2 dof
  const Interval ci = effect_interval(effects[0]);
  EXPECT_NEAR(ci.low, 5.0 / 3.0 - t2 * 2.0 / 3.0, 1e-11);
  EXPECT_NEAR(ci.high, 5.0 / 3.0 + t2 * 2.0 / 3.0, 1e-11);
  // The same numbers as paired_difference on (fa - fb) and (la - lb) per seed.
  const PairedDifference d = paired_difference({2, 3, 5}, {1, 2, 2});
  EXPECT_NEAR(ci.low, d.difference.ci_low, kTol);
  EXPECT_NEAR(ci.high, d.difference.ci_high, kTol);
  // Treated as independent means the same runs give (1 + 3 (1/3))/3 = 2/3, not 4/9: the
  // paired path must not fall back to the unpaired variance.
  const double s3 = std::sqrt(1.0 / 3.0);
  const Effect unpaired =
      gap_reduction("t", {6, 1, 3}, {8.0 / 3, s3, 3}, {13.0 / 3, s3, 3}, {8.0 / 3, s3, 3});
  EXPECT_NEAR(unpaired.variance, 2.0 / 3.0, kTol);
  EXPECT_GT(std::fabs(unpaired.variance - effects[0].variance), 0.2);
}

TEST(GapReductionTest, PairedSeedTableMatchesIndependentReference) {
  const auto ref = Reference()["meta_paired"];
  SeedColumns cols;
  cols.value = "final_val_loss";
  cols.task = {"study", "pretrain_optimizer"};
  cols.method = "method_name";
  const auto rows = read_seed_table("tests/stats/data/seed_table.csv", cols);
  std::vector<std::string> skipped;
  const auto effects =
      paired_gap_reductions(rows, "full-adam", "full-muon", "lora-adam", "lora-muon", &skipped);
  EXPECT_EQ(skipped, ref["skipped"].get<std::vector<std::string>>());
  ASSERT_EQ(effects.size(), ref["tasks"].size());
  for (std::size_t i = 0; i < effects.size(); ++i) {
    EXPECT_EQ(effects[i].task, ref["tasks"][i].get<std::string>());
    EXPECT_NEAR(effects[i].y, ref["y"][i].get<double>(), kTol) << i;
    EXPECT_NEAR(effects[i].variance, ref["v"][i].get<double>(), kTol) << i;
    EXPECT_EQ(effects[i].df, ref["df"][i].get<double>()) << i;
    const Interval ci = effect_interval(effects[i]);
    EXPECT_NEAR(ci.low, ref["task_ci"][i][0].get<double>(), kTolRef) << i;
    EXPECT_NEAR(ci.high, ref["task_ci"][i][1].get<double>(), kTolRef) << i;
  }
  const MetaResult r = dersimonian_laird(effects);
  EXPECT_NEAR(r.estimate, ref["estimate"].get<double>(), kTol);
  EXPECT_NEAR(r.tau2, ref["tau2"].get<double>(), kTol);
  EXPECT_NEAR(r.ci_low, ref["ci_low"].get<double>(), 1e-10);
  EXPECT_NEAR(r.hksj.ci_low, ref["hksj"]["ci_low"].get<double>(), kTolRef);
  EXPECT_NEAR(r.hksj.ci_high, ref["hksj"]["ci_high"].get<double>(), kTolRef);
  EXPECT_NEAR(r.hksj.p_value, ref["hksj"]["p_value"].get<double>(), kTolRef);
}

TEST(GapReductionTest, PairedRejectsWhatCannotBePaired) {
  auto four = [](const std::string& seed_lb, double value_lb) {
    std::vector<SeedRow> rows;
    for (const char* m : {"fa", "fb", "la"})
      for (const char* s : {"0", "1"}) rows.push_back({"t", m, s, 1.0});
    rows.push_back({"t", "lb", "0", 1.0});
    rows.push_back({"t", "lb", seed_lb, value_lb});
    return rows;
  };
  auto message = [](const std::vector<SeedRow>& rows) {
    try {
      paired_gap_reductions(rows, "fa", "fb", "la", "lb", nullptr);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message(four("7", 1.0)).find("not in all four: 1, 7"), std::string::npos);
  EXPECT_NE(message(four("0", 1.0)).find("appears twice"), std::string::npos);
  EXPECT_NE(message(four("1", std::nan(""))).find("not finite"), std::string::npos);
  std::vector<SeedRow> one = {
      {"t", "fa", "0", 1}, {"t", "fb", "0", 1}, {"t", "la", "0", 1}, {"t", "lb", "0", 1}};
  EXPECT_NE(message(one).find(">= 2 seeds"), std::string::npos);
  std::vector<std::string> skipped;
  EXPECT_TRUE(
      paired_gap_reductions({{"u", "fa", "0", 1}}, "fa", "fb", "la", "lb", &skipped).empty());
  EXPECT_EQ(skipped, std::vector<std::string>{"u"});
}

TEST(GapReductionTest, SeedTableColumnsAndErrors) {
  const std::string path =
      write_temp("seeds.csv", "task,method,seed,loss\na,fa, 3 ,2.5\na,fb,3,nan\n");
  SeedColumns cols;
  cols.value = "loss";
  const auto rows = read_seed_table(path, cols);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].seed, "3");  // trimmed, matched as text
  EXPECT_EQ(rows[0].value, 2.5);
  EXPECT_TRUE(std::isnan(rows[1].value));
  cols.value = "acc";
  EXPECT_THROW(read_seed_table(path, cols), std::invalid_argument);
  cols.value = "loss";
  EXPECT_THROW(read_seed_table(write_temp("bad.csv", "task,method,seed,loss\na,fa,0,x\n"), cols),
               std::invalid_argument);
  EXPECT_THROW(read_seed_table("tests/stats/data/does_not_exist.csv", cols), std::runtime_error);
}

TEST(GapReductionTest, TaskFilterKeepsOnlyNamedTasks) {
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
  const std::vector<SeedRow> seeds = {{"a", "m", "0", 1}, {"b", "m", "0", 2}};
  EXPECT_EQ(rows_of_tasks(seeds, {"b"}).size(), 1u);
  EXPECT_THROW(rows_of_tasks(seeds, {"c"}), std::invalid_argument);
}

TEST(GapReductionTest, HugeSeedCountIsAnErrorNotAnOverflow) {
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
  EXPECT_THROW(read_method_table("tests/stats/data/does_not_exist.csv"), std::runtime_error);
}

}  // namespace
}  // namespace muft::stats
