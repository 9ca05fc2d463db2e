/// \file gap_meta_test.cpp
/// gap_meta_from_means / gap_meta_from_seeds against the independent Python reference
/// (tests/stats/data/reference_stats.py) on the same fixtures, and their errors.

#include "muft/stats/gap_meta.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

namespace muft::stats {
namespace {

constexpr double kTol = 1e-12;    // a few dozen double operations on O(1) values
constexpr double kTolRef = 1e-9;  // the reference's own t quantile is accurate to ~1e-11
const GapMethods kMethods{"full-adam", "full-muon", "lora-adam", "lora-muon"};

nlohmann::json reference() {
  std::ifstream in("tests/stats/data/reference_stats.expected.json");
  EXPECT_TRUE(in.good()) << "run from the repository root";
  return nlohmann::json::parse(in);
}

TEST(GapMetaTest, MeansTableMatchesReference) {
  const auto ref = reference()["meta_table"];
  const GapMeta g = gap_meta_from_means(read_method_table("tests/stats/data/meta_table.csv"),
                                        kMethods, {}, 0.95, "meta_table.csv");
  EXPECT_FALSE(g.paired);
  EXPECT_EQ(g.skipped, std::vector<std::string>{"dtd"});
  ASSERT_EQ(g.effects.size(), 4u);
  ASSERT_EQ(g.task_intervals.size(), 4u);
  for (std::size_t i = 0; i < g.effects.size(); ++i) {
    EXPECT_EQ(g.effects[i].task, ref["tasks"][i].get<std::string>());
    EXPECT_NEAR(g.effects[i].y, ref["y"][i].get<double>(), kTol);
    const Interval ci = effect_interval(g.effects[i], 0.95);
    EXPECT_EQ(g.task_intervals[i].low, ci.low);
    EXPECT_EQ(g.task_intervals[i].high, ci.high);
  }
  EXPECT_NEAR(g.result.estimate, ref["estimate"].get<double>(), 1e-10);
  EXPECT_NEAR(g.result.tau2, ref["tau2"].get<double>(), 1e-10);
  EXPECT_NEAR(g.result.hksj.ci_low, ref["hksj"]["ci_low"].get<double>(), kTolRef);
}

TEST(GapMetaTest, PairedSeedsMatchReference) {
  const auto ref = reference()["meta_paired"];
  SeedColumns cols;
  cols.value = "final_val_loss";
  cols.task = {"study", "pretrain_optimizer"};
  cols.method = "method_name";
  const GapMeta g = gap_meta_from_seeds(read_seed_table("tests/stats/data/seed_table.csv", cols),
                                        kMethods, {}, 0.95, "seed_table.csv");
  EXPECT_TRUE(g.paired);
  EXPECT_EQ(g.skipped, ref["skipped"].get<std::vector<std::string>>());
  ASSERT_EQ(g.effects.size(), ref["tasks"].size());
  for (std::size_t i = 0; i < g.effects.size(); ++i) {
    EXPECT_NEAR(g.task_intervals[i].low, ref["task_ci"][i][0].get<double>(), kTolRef) << i;
    EXPECT_NEAR(g.task_intervals[i].high, ref["task_ci"][i][1].get<double>(), kTolRef) << i;
  }
  EXPECT_NEAR(g.result.estimate, ref["estimate"].get<double>(), kTol);
}

TEST(GapMetaTest, TaskFilterAndErrors) {
  const auto rows = read_method_table("tests/stats/data/meta_table.csv");
  const GapMeta one = gap_meta_from_means(rows, kMethods, {"math"}, 0.9, "t.csv");
  ASSERT_EQ(one.effects.size(), 1u);
  EXPECT_EQ(one.result.status, MetaStatus::kSingleStudy);
  EXPECT_EQ(one.result.confidence, 0.9);
  try {
    gap_meta_from_means(rows, {"full-adam", "full-muon", "lora-adam", "lora-mu0n"}, {}, 0.95,
                        "t.csv");
    ADD_FAILURE() << "a misspelled method pooled nothing silently";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("no task in 't.csv' has all four methods"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(gap_meta_from_means(rows, kMethods, {"nope"}, 0.95, "t.csv"), std::invalid_argument);
  EXPECT_THROW(gap_meta_from_means(rows, kMethods, {}, 1.5, "t.csv"), std::invalid_argument);
}

}  // namespace
}  // namespace muft::stats
