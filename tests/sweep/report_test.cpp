#include "muft/sweep/report.h"

#include "muft/stats/csv.h"

#include <cmath>
#include <map>

#include <fmt/core.h>
#include <gtest/gtest.h>

namespace muft::sweep {
namespace {

/// An experiment "r" with one pretraining group "lm" (Adam) and the start of a study "s" on it.
constexpr const char* kLmStudyS = R"(
name = "r"
[[pretrain]]
name = "lm"
optimizers = ["adam"]
[[finetune]]
name = "s"
from = "lm"
)";

/// Full/LoRA × Adam/Muon methods of a study: full-adam at lr 0.1 and 0.2, the others at 0.1.
std::string FourMethods(long rank) {
  std::string m;
  for (const char* opt : {"adam", "muon"})
    m += fmt::format(
        "[[finetune.methods]]\nname = \"full-{0}\"\nmethod = \"full\"\n"
        "optimizer = \"{0}\"\nlrs = [{1}]\n",
        opt, std::string(opt) == "adam" ? "0.1, 0.2" : "0.1");
  for (const char* opt : {"adam", "muon"})
    m += fmt::format(
        "[[finetune.methods]]\nname = \"lora-{0}\"\nmethod = \"lora\"\n"
        "optimizer = \"{0}\"\nlrs = [0.1]\nranks = [{1}]\n",
        opt, rank);
  return m;
}

ExperimentSpec Spec() {
  return parse_spec(std::string(kLmStudyS) + "seeds = [0, 1]\n" + FourMethods(8), "mem");
}

/// A completed run whose val ppl goes from `initial` (step 0) to `final`.
CollectedRun Made(const RunSpec& spec, double initial, double final, bool completed = true) {
  CollectedRun r;
  r.spec = spec;
  r.status.state = completed ? rundir::RunState::kCompleted : rundir::RunState::kDiverged;
  r.metric_columns = {"step", "val_ppl", "old_val_ppl"};
  r.metrics = {{0, 10}, {initial, final}, {20.0, 30.0}};
  return r;
}

TEST(ReportTest, Table1GapsHandComputed) {
  const auto spec = Spec();
  std::vector<CollectedRun> runs;
  // Normalized final ppl (final / initial, initial = 10):
  //   full-adam lr 0.1: {0.50, 0.60} mean 0.55; lr 0.2: {0.40, nan (diverged)} -> not selectable
  //   full-muon: {0.80, 0.90} mean 0.85  -> Full gap = 0.85 - 0.55 = 0.30
  //   lora-adam: {0.60, 0.60} mean 0.60; lora-muon: {0.70, 0.66} mean 0.68 -> LoRA gap 0.08
  //   shrink = 100 (1 - 0.08/0.30) = 73.333...%
  const std::map<std::string, std::vector<double>> finals = {{"full-adam/lr0.1", {5.0, 6.0}},
                                                             {"full-adam/lr0.2", {4.0, 1.0}},
                                                             {"full-muon/lr0.1", {8.0, 9.0}},
                                                             {"lora-adam-r8/lr0.1", {6.0, 6.0}},
                                                             {"lora-muon-r8/lr0.1", {7.0, 6.6}}};
  for (const auto& spec_run : expand_grid(spec)) {
    if (spec_run.kind == RunKind::kPretrain) {
      runs.push_back(Made(spec_run, 10, 10));
      continue;
    }
    for (const auto& [key, vals] : finals) {
      if (spec_run.id.find("/" + key + "-s") == std::string::npos) continue;
      const bool diverged = key == "full-adam/lr0.2" && spec_run.seed == 1;
      runs.push_back(
          Made(spec_run, 10.0, vals[static_cast<std::size_t>(spec_run.seed)], !diverged));
    }
  }
  ASSERT_EQ(runs.size(), 1u + 10u);
  const auto res = study_results(spec, runs, "s", 0);
  ASSERT_EQ(res.size(), 4u);
  EXPECT_EQ(res[0].method_name, "full-adam");
  EXPECT_EQ(res[0].new_task.lr, 0.1);  // lr 0.2 has the better single run but a diverged seed
  EXPECT_NEAR(res[0].new_task.summary.mean, 0.55, 1e-12);
  EXPECT_EQ(res[0].diverged, 1u);
  EXPECT_NEAR(res[0].old_task.mean, 1.5, 1e-12);  // 30/20
  const auto gaps = mismatch_gaps(res);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0].mismatched_optimizer, "muon");
  EXPECT_NEAR(gaps[0].full_gap, 0.30, 1e-12);
  EXPECT_NEAR(gaps[0].lora_gap, 0.08, 1e-12);
  EXPECT_NEAR(gaps[0].shrink_percent, 100.0 * (1.0 - 0.08 / 0.30), 1e-9);
  // No mismatch penalty under full fine-tuning (Full-Muon better than Full-Adam): nothing to
  // shrink, so no percentage.
  auto no_penalty = res;
  no_penalty[1].new_task.summary.mean = 0.50;
  EXPECT_TRUE(std::isnan(mismatch_gaps(no_penalty)[0].shrink_percent));
  EXPECT_NEAR(mismatch_gaps(no_penalty)[0].full_gap, -0.05, 1e-12);
  // Input of muft-stats meta: one row per method at its best lr (the pretraining row is absent).
  const stats::CsvTable mc = stats::parse_csv(methods_csv(spec, runs), "methods");
  ASSERT_EQ(mc.header, (std::vector<std::string>{"task", "method", "mean", "std", "n", "lr"}));
  ASSERT_EQ(mc.rows.size(), 4u);
  const std::vector<std::pair<std::string, double>> expect = {
      {"full-adam", 0.55}, {"full-muon", 0.85}, {"lora-adam", 0.60}, {"lora-muon", 0.68}};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(mc.rows[i][0], "s/adam");
    EXPECT_EQ(mc.rows[i][1], expect[i].first);
    EXPECT_NEAR(stats::parse_double(mc.rows[i][2], "mean"), expect[i].second, 1e-12);
    EXPECT_EQ(mc.rows[i][4], "2");
    EXPECT_EQ(mc.rows[i][5], "0.1");
  }
  EXPECT_NEAR(stats::parse_double(mc.rows[0][3], "std"), std::sqrt(0.005), 1e-12);
  std::string md = markdown_report(spec, runs);
  EXPECT_NE(md.find("73.3%"), std::string::npos) << md;
  {  // A method whose runs have not finished is "incomplete", not "all diverged".
    auto pending = runs;
    for (auto& r : pending)
      if (r.spec.method_name == "lora-muon") r.status.state = rundir::RunState::kPending;
    const std::string pmd = markdown_report(spec, pending);
    EXPECT_NE(pmd.find("| adam | lora-muon | 8 | incomplete | — | — | 2 (0, 0, 2 unfinished) |"),
              std::string::npos)
        << pmd;
  }
  EXPECT_NE(md.find("No distances"), std::string::npos) << md;
  // Table 17 analogue: distances at the selected lr, relative to the Adam method of the same
  // kind: full-muon 6 / full-adam 2 = 3.00×, lora-muon 0.5 / lora-adam 1 = 0.50×. The lr-0.2
  // full-adam runs (not selected) get a distance that must not enter the mean.
  for (auto& r : runs) {
    if (r.spec.kind != RunKind::kFinetune) continue;
    const std::map<std::string, double> l2 = {{"full-adam", r.spec.lr == 0.1 ? 2.0 : 100.0},
                                              {"full-muon", 6.0},
                                              {"lora-adam", 1.0},
                                              {"lora-muon", 0.5}};
    r.l2_distance = l2.at(r.spec.method_name);
    r.cosine_distance = 0.1 * r.l2_distance;
  }
  md = markdown_report(spec, runs);
  EXPECT_NE(md.find("| adam | full-muon | 0.1 | 3.00× (6) | 3.00× (0.6) |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| adam | lora-muon | 0.1 | 0.50× (0.5) | 0.50× (0.05) |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| adam | full-adam | 0.1 | 1.00× (2) |"), std::string::npos) << md;
}

TEST(ReportTest, AccuracyStudyIsMaximizedAndReportedBesideTheMainStudy) {
  // Main study "s" (LoRA rank 8) and a digits-like study "d" whose runs carry val_acc; the
  // report's lora_rank (8) is absent from "d", so its first rank (4) is reported.
  const auto spec = parse_spec(std::string(kLmStudyS) + R"([[finetune.methods]]
name = "full-adam"
method = "full"
optimizer = "adam"
lrs = [0.1]
[[finetune]]
name = "d"
from = "lm"
seeds = [0, 1]
)" + FourMethods(4) + R"(
[report]
study = "s"
lora_rank = 8
)",
                               "mem");
  // Final accuracies by (method/lr, seed); old-task accuracy = 1 − new.
  //   full-adam lr 0.1: {0.80, 0.90} mean 0.85; lr 0.2: {0.95, 0.97} mean 0.96 -> selected
  //   full-muon: {0.90, 0.92} mean 0.91 -> Full gap = 0.91 − 0.96 = −0.05
  //   lora-adam: {0.70, 0.70}; lora-muon: {0.68, 0.68} -> LoRA gap −0.02, shrink 60 %
  const std::map<std::string, std::vector<double>> acc = {{"full-adam/lr0.1", {0.80, 0.90}},
                                                          {"full-adam/lr0.2", {0.95, 0.97}},
                                                          {"full-muon/lr0.1", {0.90, 0.92}},
                                                          {"lora-adam-r4/lr0.1", {0.70, 0.70}},
                                                          {"lora-muon-r4/lr0.1", {0.68, 0.68}}};
  std::vector<CollectedRun> runs;
  for (const auto& s : expand_grid(spec)) {
    if (s.kind == RunKind::kPretrain || s.study == "s") {
      runs.push_back(Made(s, 10, 5));
      continue;
    }
    for (const auto& [key, vals] : acc) {
      if (s.id.find("/" + key + "-s") == std::string::npos) continue;
      CollectedRun r;
      r.spec = s;
      r.status.state = rundir::RunState::kCompleted;
      const double a = vals[static_cast<std::size_t>(s.seed)];
      r.metric_columns = {"step", "val_ppl", "old_val_ppl", "val_acc", "old_val_acc"};
      r.metrics = {{0, 10}, {1e6, 1.5}, {1.0, 1e3}, {0.1, a}, {1.0, 1.0 - a}};
      runs.push_back(r);
    }
  }
  const auto res = study_results(spec, runs, "d", 8);
  ASSERT_EQ(res.size(), 4u);
  EXPECT_TRUE(res[0].accuracy);
  EXPECT_EQ(res[0].new_task.lr, 0.2);  // maximized: the higher accuracy wins
  EXPECT_NEAR(res[0].new_task.summary.mean, 0.96, 1e-12);
  EXPECT_NEAR(res[0].old_task.mean, 0.04, 1e-12);
  EXPECT_EQ(res[2].rank, 4);
  const auto gaps = mismatch_gaps(res);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_NEAR(gaps[0].full_gap, -0.05, 1e-12);
  EXPECT_NEAR(gaps[0].lora_gap, -0.02, 1e-12);
  EXPECT_NEAR(gaps[0].shrink_percent, 60.0, 1e-9);
  const std::string md = markdown_report(spec, runs);
  EXPECT_NE(md.find("(study `s`)"), std::string::npos) << md;
  EXPECT_NE(md.find("## Table 1 analogue: fine-tuning (study `d`)"), std::string::npos) << md;
  EXPECT_NE(md.find("| val accuracy |"), std::string::npos) << md;
  EXPECT_NE(md.find("| adam | full-adam | — | 0.2 | 0.9600 ± 0.0141 (n=2) | +0.0000 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| adam | lora-muon | 4 |"), std::string::npos) << md;
  EXPECT_NE(md.find("60.0%"), std::string::npos) << md;
}

}  // namespace
}  // namespace muft::sweep
