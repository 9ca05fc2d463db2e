// The staged report (study_report.h) on a constructed grid with hand-computed contrasts.
#include "muft/sweep/study_report.h"

#include <cmath>

#include <fmt/core.h>
#include <gtest/gtest.h>

namespace muft::sweep {
namespace {

ExperimentSpec Staged(bool second_model = false) {
  std::string s = R"(
name = "st"
[[pretrain]]
name = "lm"
optimizers = ["adam", "muon"]
[[pretrain]]
name = "lm2"
optimizers = ["adam", "muon"]
)";
  std::vector<std::pair<const char*, const char*>> tasks = {{"near", "lm"}, {"far", "lm"}};
  if (second_model) tasks.push_back({"other", "lm2"});
  for (const auto& [task, from] : tasks) {
    s += fmt::format(
        "[[finetune]]\nname = \"{}\"\nfrom = \"{}\"\nselect_seeds = [100]\nseeds = [0, 1, 2]\n",
        task, from);
    for (const char* m : {"full", "lora"})
      for (const char* o : {"adam", "muon"})
        s += fmt::format(
            "[[finetune.methods]]\nname = \"{0}-{1}\"\nmethod = \"{0}\"\noptimizer = \"{1}\"\n"
            "lrs = [0.1]\n{2}",
            m, o, std::string(m) == "lora" ? "ranks = [8]\n" : "");
  }
  return parse_spec(s, "mem");
}

/// A run of `role` whose normalized new-task ppl is `norm` (initial ppl 10) and whose old-task
/// ppl doubles; step-0 loss `start`.
CollectedRun Made(const std::string& study, const std::string& pre, const std::string& method,
                  long seed, double norm, RunRole role, double start = 2.0,
                  rundir::RunState state = rundir::RunState::kCompleted) {
  CollectedRun r;
  r.spec.kind = RunKind::kFinetune;
  r.spec.role = role;
  r.spec.study = study;
  r.spec.pretrain_optimizer = pre;
  r.spec.depends_on = (study == "other" ? "pretrain/lm2/" : "pretrain/lm/") + pre + "-s0";
  r.spec.method_name = method;
  r.spec.method = method.substr(0, 4);
  r.spec.optimizer = method.substr(5);
  r.spec.rank = r.spec.method == "lora" ? 8 : 0;
  r.spec.lr = 0.1;
  r.spec.seed = seed;
  r.status.state = state;
  r.metric_columns = {"step", "val_ppl", "old_val_ppl", "val_loss"};
  r.metrics = {{0, 10}, {10, 10 * norm}, {5, 10}, {start, std::log(10 * norm)}};
  return r;
}

// Per-seed normalized ppl of the four methods; Full gap (muon − adam) and LoRA gap per seed.
//   full-adam {0.50, 0.52, 0.54}, full-muon {0.60, 0.61, 0.66}  → Full gap {0.10, 0.09, 0.12}
//   lora-adam {0.70, 0.70, 0.70}, lora-muon {0.72, 0.70, 0.75}  → LoRA gap {0.02, 0.00, 0.05}
//   reduction {0.08, 0.09, 0.07}: mean 0.08, s = 0.01, t(0.975, 2) = 4.302653
//   → 95 % CI 0.08 ± 4.302653·0.01/√3 = [0.05516, 0.10484].
std::vector<CollectedRun> Runs(bool with_select, bool diverge_one, bool second_model = false) {
  std::vector<CollectedRun> runs;
  const double fa[] = {0.50, 0.52, 0.54}, fm[] = {0.60, 0.61, 0.66}, la[] = {0.70, 0.70, 0.70},
               lm[] = {0.72, 0.70, 0.75};
  std::vector<const char*> tasks = {"near", "far"};
  if (second_model) tasks.push_back("other");
  for (const char* task : tasks) {
    const double start = std::string(task) == "near" ? 1.5 : 3.0;
    for (long s = 0; s < 3; ++s) {
      runs.push_back(Made(task, "adam", "full-adam", s, fa[s], RunRole::kReport, start));
      runs.push_back(Made(task, "adam", "full-muon", s, fm[s], RunRole::kReport, start));
      runs.push_back(Made(task, "adam", "lora-adam", s, la[s], RunRole::kReport, start));
      runs.push_back(
          Made(task, "adam", "lora-muon", s, lm[s], RunRole::kReport, start,
               diverge_one && s == 2 ? rundir::RunState::kDiverged : rundir::RunState::kCompleted));
    }
    if (with_select)  // a selection-seed run with absurd numbers: must not enter a table
      runs.push_back(Made(task, "adam", "full-adam", 100, 99.0, RunRole::kSelect, start));
  }
  return runs;
}

TEST(StudyReportTest, PairedReductionHandComputedAndSelectionRunsLeftOut) {
  std::vector<Verdict> v;
  const std::string md = staged_report(Staged(), Runs(true, false), {}, &v);
  // Table row of task near, Adam-pretrained: Full gap mean +0.1033, LoRA gap +0.0233,
  // reduction +0.0800 [+0.0552, +0.1048] over 3 seeds.
  EXPECT_NE(md.find("| adam | muon | +0.1033"), std::string::npos) << md;
  EXPECT_NE(md.find("+0.0800 [+0.0552, +0.1048] | 3 |"), std::string::npos) << md;
  EXPECT_EQ(md.find("99."), std::string::npos) << "a selection run reached a table";
  // Tasks are ordered by the starting loss: near (1.5) before far (3.0).
  EXPECT_LT(md.find("## Task `near`"), md.find("## Task `far`"));
  // Pooled over the two identical tasks: the reduction is reproduced, with its verdict listed.
  bool found = false;
  for (const auto& x : v) {
    if (x.claim.find("LoRA shrinks") == std::string::npos) continue;
    found = true;
    EXPECT_NEAR(x.estimate, 0.08, 1e-12);
    EXPECT_EQ(x.verdict, "reproduced");
    // Identical tasks: Q = 0, so the untruncated HKSJ interval has width 0; the modified one
    // uses se = sqrt(1/Σw*) with w* = 1/(0.01²/3) per task: sqrt(0.0001/6) = 0.0040825, and
    // t(0.975, 1) = 12.7062 gives 0.08 ± 0.051874.
    EXPECT_EQ(x.interval, "modified HKSJ");
    EXPECT_NEAR(x.low, 0.08 - 12.7062047 * std::sqrt(0.0001 / 6), 1e-6);
    EXPECT_NEAR(x.high, 0.08 + 12.7062047 * std::sqrt(0.0001 / 6), 1e-6);
  }
  EXPECT_TRUE(found);
  const std::string csv = verdicts_csv(v);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "claim,scope,quantity,estimate,low,high,interval,verdict,note");
}

TEST(StudyReportTest, TasksOfAnotherPretrainedModelAreNotPooledAndOneTaskUsesItsTInterval) {
  std::vector<Verdict> v;
  staged_report(Staged(true), Runs(false, false, true), {}, &v);
  int seen = 0;
  for (const auto& x : v) {
    if (x.claim.find("LoRA shrinks") == std::string::npos) continue;
    if (x.scope.rfind("lm/adam-pretrained, pooled over 2 tasks", 0) == 0) ++seen;
    if (x.scope.rfind("lm2/adam-pretrained, 1 task", 0) == 0) {
      ++seen;
      // The task's own paired t interval: 0.08 ± t(0.975, 2)·0.01/√3.
      EXPECT_NEAR(x.estimate, 0.08, 1e-12);
      EXPECT_NEAR(x.low, 0.08 - 4.30265273 * 0.01 / std::sqrt(3.0), 1e-6);
      EXPECT_NEAR(x.high, 0.08 + 4.30265273 * 0.01 / std::sqrt(3.0), 1e-6);
      EXPECT_EQ(x.interval, "Student-t over seeds (1 task)");
    }
  }
  EXPECT_EQ(seen, 2);
}

TEST(StudyReportTest, ADivergedSeedIsCountedAndDroppedFromItsContrasts) {
  std::vector<Verdict> v;
  const std::string md = staged_report(Staged(), Runs(false, true), {}, &v);
  EXPECT_NE(md.find("| 1 diverged |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 2 (1 dropped) |"), std::string::npos) << md;
}

TEST(StudyReportTest, VerdictsDecideOnTheIntervalAndSayInconclusiveWhenItAllowsBoth) {
  EXPECT_EQ(decide(0.01, 0.2, true), "reproduced");
  EXPECT_EQ(decide(0.01, 0.2, false), "not reproduced");
  EXPECT_EQ(decide(-0.2, -0.01, true), "not reproduced");
  EXPECT_EQ(decide(-0.2, -0.01, false), "reproduced");
  EXPECT_EQ(decide(-0.1, 0.1, true), "inconclusive");
  EXPECT_EQ(decide(std::nan(""), 0.1, true), "inconclusive");
  // A reduction that changes sign across seeds: its pooled interval contains 0.
  auto runs = Runs(false, false);
  for (auto& r : runs)
    if (r.spec.method_name == "lora-muon" && r.spec.seed == 1 && r.spec.study == "far")
      r.metrics[1][1] = 10 * 0.85;  // LoRA gap 0.15 on this seed
  std::vector<Verdict> v;
  staged_report(Staged(), runs, {}, &v);
  for (const auto& x : v) {
    if (x.claim.find("LoRA shrinks") != std::string::npos) {
      EXPECT_EQ(x.verdict, "inconclusive");
    }
  }
}

}  // namespace
}  // namespace muft::sweep
