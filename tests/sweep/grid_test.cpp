#include "muft/sweep/grid.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "muft/sweep/scheduler.h"

namespace muft::sweep {
namespace {

ExperimentSpec Spec() {
  return parse_spec(R"(
name = "g"
out_dir = "o"
[[pretrain]]
name = "lm"
optimizers = ["adam", "muon"]
seeds = [0]
steps = 50
eval_every = 10
[[finetune]]
name = "s"
from = "lm"
seeds = [0, 1]
steps = 20
[[finetune.methods]]
name = "full-adam"
method = "full"
optimizer = "adam"
lrs = [0.001, 0.0003]
[[finetune.methods]]
name = "lora-muon"
method = "lora"
optimizer = "muon"
lrs = [0.01]
ranks = [4, 16]
)",
                    "mem");
}

TEST(GridTest, CountsIdsAndArguments) {
  const auto runs = expand_grid(Spec());
  // 2 pretraining + 2 pretrained models × (full: 2 lr × 2 seeds + lora: 2 ranks × 1 lr × 2 seeds)
  ASSERT_EQ(runs.size(), 2u + 2u * (4u + 4u));
  EXPECT_EQ(runs[0].id, "pretrain/lm/adam-s0");
  EXPECT_EQ(runs[0].dir, "o/pretrain/lm/adam-s0");
  EXPECT_EQ(runs[0].args, (std::vector<std::string>{"pretrain", "--optimizer", "adam", "--seed",
                                                    "0", "--steps", "50", "--eval-every", "10"}));
  EXPECT_EQ(runs[2].id, "finetune/s/lm-adam-s0/full-adam/lr0.001-s0");
  EXPECT_EQ(runs[2].depends_on, "pretrain/lm/adam-s0");
  EXPECT_EQ(runs[4].id, "finetune/s/lm-adam-s0/full-adam/lr0.0003-s0");
  const RunSpec& lora = runs[6];
  EXPECT_EQ(lora.id, "finetune/s/lm-adam-s0/lora-muon-r4/lr0.01-s0");
  EXPECT_EQ(lora.rank, 4);
  EXPECT_EQ(lora.alpha, 8.0);  // α = 2r
  EXPECT_EQ(lora.args, (std::vector<std::string>{"finetune", "--method", "lora", "--optimizer",
                                                 "muon", "--lr", "0.01", "--seed", "0", "--rank",
                                                 "4", "--alpha", "8", "--steps", "20"}));
  std::set<std::string> ids;
  for (const auto& r : runs) ids.insert(r.id);
  EXPECT_EQ(ids.size(), runs.size());
}

TEST(GridTest, IdsAreStableWhenTheSpecGrows) {
  auto spec = Spec();
  const auto before = expand_grid(spec);
  spec.finetune[0].methods[0].lrs.insert(spec.finetune[0].methods[0].lrs.begin(), 0.1);
  spec.finetune[0].seeds.push_back(2);
  const auto after = expand_grid(spec);
  std::set<std::string> ids;
  for (const auto& r : after) ids.insert(r.id);
  for (const auto& r : before) EXPECT_TRUE(ids.count(r.id)) << r.id;
}

TEST(GridTest, ShardsPartitionTheGrid) {
  const auto runs = expand_grid(Spec());
  std::multiset<std::string> all;
  for (std::size_t i = 0; i < 3; ++i)
    for (const auto& r : shard(runs, i, 3)) all.insert(r.id);
  EXPECT_EQ(all.size(), runs.size());
  std::set<std::string> unique(all.begin(), all.end());
  EXPECT_EQ(unique.size(), runs.size());
  EXPECT_EQ(shard(runs, 1, 3)[0].id, runs[1].id);
  std::size_t i = 9, n = 9;
  parse_shard("2/5", &i, &n);
  EXPECT_EQ(i, 2u);
  EXPECT_EQ(n, 5u);
  EXPECT_THROW(parse_shard("5/5", &i, &n), std::invalid_argument);
  EXPECT_THROW(parse_shard("1", &i, &n), std::invalid_argument);
  EXPECT_THROW(parse_shard("a/2", &i, &n), std::invalid_argument);
}

TEST(GridTest, TrainerArgvAddsOutFromResume) {
  const auto runs = expand_grid(Spec());
  const TrainerInterface iface;
  const auto argv = trainer_argv("/bin/muft-train", iface, runs[2], "ck/step_000050.h5", true);
  const std::vector<std::string> tail(argv.end() - 6, argv.end());
  EXPECT_EQ(tail, (std::vector<std::string>{"--out", runs[2].dir, "--from", "ck/step_000050.h5",
                                            "--resume", runs[2].dir}));
  EXPECT_EQ(argv.front(), "/bin/muft-train");
  const auto pre = trainer_argv("t", iface, runs[0], "", false);
  EXPECT_EQ(pre.back(), runs[0].dir);  // no --from, no --resume
}

TEST(GridTest, SizeIsCountedBeforeExpanding) {
  {
    const ExperimentSpec s = load_spec("data/experiments/smoke.toml");
    EXPECT_EQ(grid_size(s), expand_grid(s).size());
  }
  {
    // A staged study: grid_size bounds its last stage. With every run finished and the
    // smallest candidate rate always the best (each selection extends at its lower edge), all
    // stages expand and the bound holds; the first stage alone is smaller.
    const ExperimentSpec s = load_spec("data/experiments/paper-toy.toml");
    const OutcomeFn all_finished = [](const RunSpec& r, const std::string&) {
      RunOutcome o;
      o.finished = o.usable = true;
      o.value = r.lr;  // lower is better: the smallest rate wins and sits at the edge
      return o;
    };
    const std::size_t first = expand_grid(s).size();
    const std::size_t last = expand_grid(s, all_finished).size();
    EXPECT_LT(first, last);
    EXPECT_LE(last, grid_size(s));
  }
  ExperimentSpec s = Spec();
  s.finetune[0].from_optimizers = {"muon"};
  EXPECT_EQ(grid_size(s), expand_grid(s).size());
  EXPECT_EQ(grid_size(s), 2u + 1 * (2 + 2) * 2);
  // 2 pretraining runs x 1000 lrs x 50 seeds = 100000 fine-tuning runs: one past the limit.
  FinetuneMethod& m = s.finetune[0].methods[0];
  m.lrs.clear();
  for (int i = 1; i <= 1000; ++i) m.lrs.push_back(i * 1e-4);
  s.finetune[0].methods.resize(1);
  s.finetune[0].from_optimizers.clear();
  s.finetune[0].seeds.clear();
  for (long k = 0; k < 50; ++k) s.finetune[0].seeds.push_back(k);
  EXPECT_EQ(grid_size(s), 2u + 100000u);
  try {
    expand_grid(s);
    FAIL() << "a 100002-run grid was expanded";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("has 100002 runs, more than the 100000"),
              std::string::npos)
        << e.what();
  }
  s.finetune[0].seeds.resize(49);  // 2 + 98000 runs: allowed
  EXPECT_EQ(expand_grid(s).size(), 98002u);
}

TEST(GridTest, NumberFormat) {
  EXPECT_EQ(format_number(0.001), "0.001");
  EXPECT_EQ(format_number(3e-5), "3e-05");
  EXPECT_EQ(format_number(8.0), "8");
}

/// A staged spec: Adam's pretraining rate is matched to Muon's loss, the fine-tuning rate is
/// selected on seed 100 over a ×2 grid that may grow twice past an edge, then run with seeds 0–1;
/// a second study reuses the chosen rates.
ExperimentSpec Staged() {
  return parse_spec(R"(
name = "st"
out_dir = "o"
[[pretrain]]
name = "lm"
optimizers = ["adam", "muon"]
match_loss_to = "muon"
[pretrain.optimizer_lrs]
adam = [0.001, 0.002, 0.004]
[[finetune]]
name = "sel"
from = "lm"
select_seeds = [100]
seeds = [0, 1]
extend_at_edge = 2
[[finetune.methods]]
name = "full-adam"
method = "full"
optimizer = "adam"
lrs = [0.01, 0.02, 0.04]
[[finetune]]
name = "ranks"
from = "lm"
lr_from = "sel"
seeds = [0]
[[finetune.methods]]
name = "full-adam"
method = "full"
optimizer = "adam"
)",
                    "mem");
}

/// Outcomes by run id: unlisted runs have not finished.
struct FakeOutcomes {
  std::map<std::string, RunOutcome> by_id;
  void set(const std::string& id, double v) { by_id[id] = {true, std::isfinite(v), v}; }
  OutcomeFn fn() const {
    return [this](const RunSpec& r, const std::string&) {
      auto it = by_id.find(r.id);
      return it == by_id.end() ? RunOutcome{} : it->second;
    };
  }
};

std::vector<std::string> ids_of(const std::vector<RunSpec>& runs, RunRole role) {
  std::vector<std::string> out;
  for (const auto& r : runs)
    if (r.kind == RunKind::kFinetune && r.role == role) out.push_back(r.id);
  return out;
}

TEST(StagedGridTest, PretrainingRateMatchedToTheReferenceLoss) {
  FakeOutcomes o;
  auto runs = expand_grid(Staged(), o.fn());
  // 3 Adam rates + Muon, and the selection runs from Muon's model (they wait for it in the
  // scheduler); nothing from an Adam model until the match is known.
  ASSERT_EQ(runs.size(), 4u + 3u);
  for (const auto& r : runs) {
    if (r.kind == RunKind::kFinetune) {
      EXPECT_EQ(r.depends_on, "pretrain/lm/muon-s0");
    }
  }
  EXPECT_EQ(runs[0].id, "pretrain/lm/adam-lr0.001-s0");
  EXPECT_EQ(runs[0].args[5], "--lr");
  EXPECT_EQ(runs[3].id, "pretrain/lm/muon-s0");
  o.set("pretrain/lm/muon-s0", 1.40);
  o.set("pretrain/lm/adam-lr0.001-s0", 1.55);
  o.set("pretrain/lm/adam-lr0.002-s0", 1.43);
  // One Adam run still going: Muon's model may be fine-tuned, Adam's waits for the match.
  runs = expand_grid(Staged(), o.fn());
  for (const auto& r : runs)
    if (r.kind == RunKind::kFinetune) {
      EXPECT_EQ(r.pretrain_optimizer, "muon") << r.id;
    }
  o.set("pretrain/lm/adam-lr0.004-s0", 1.39);  // |1.39 − 1.40| < |1.43 − 1.40|
  runs = expand_grid(Staged(), o.fn());
  bool adam_seen = false;
  for (const auto& r : runs) {
    if (r.kind != RunKind::kFinetune || r.pretrain_optimizer != "adam") continue;
    adam_seen = true;
    EXPECT_EQ(r.depends_on, "pretrain/lm/adam-lr0.004-s0");
    EXPECT_EQ(r.id.find("finetune/sel/lm-adam-lr0.004-s0/"), 0u) << r.id;
  }
  EXPECT_TRUE(adam_seen);
  o.set("pretrain/lm/adam-lr0.004-s0", std::nan(""));  // diverged: never the match
  runs = expand_grid(Staged(), o.fn());
  for (const auto& r : runs)
    if (r.kind == RunKind::kFinetune && r.pretrain_optimizer == "adam") {
      EXPECT_EQ(r.depends_on, "pretrain/lm/adam-lr0.002-s0");
    }
}

TEST(StagedGridTest, SelectionSeedsThenEdgeExtensionThenReportedSeeds) {
  FakeOutcomes o;
  for (const char* id : {"pretrain/lm/muon-s0", "pretrain/lm/adam-lr0.001-s0",
                         "pretrain/lm/adam-lr0.002-s0", "pretrain/lm/adam-lr0.004-s0"})
    o.set(id, 1.4);
  const std::string base = "finetune/sel/lm-muon-s0/full-adam/";
  auto runs = expand_grid(Staged(), o.fn());
  auto sel = ids_of(runs, RunRole::kSelect);
  EXPECT_EQ(std::count(sel.begin(), sel.end(), base + "lr0.01-s100"), 1);
  EXPECT_TRUE(ids_of(runs, RunRole::kReport).empty());  // nothing chosen before all finished
  // The best rate sits at the top edge: 0.08 is added (and then 0.16, the second extension).
  o.set(base + "lr0.01-s100", 3.0);
  o.set(base + "lr0.02-s100", 2.5);
  o.set(base + "lr0.04-s100", 2.2);
  runs = expand_grid(Staged(), o.fn());
  sel = ids_of(runs, RunRole::kSelect);
  EXPECT_EQ(std::count(sel.begin(), sel.end(), base + "lr0.08-s100"), 1);
  EXPECT_EQ(std::count(sel.begin(), sel.end(), base + "lr0.16-s100"), 0);
  EXPECT_TRUE(ids_of(runs, RunRole::kReport).empty());
  o.set(base + "lr0.08-s100", 2.1);
  runs = expand_grid(Staged(), o.fn());
  sel = ids_of(runs, RunRole::kSelect);
  EXPECT_EQ(std::count(sel.begin(), sel.end(), base + "lr0.16-s100"), 1);
  o.set(base + "lr0.16-s100", 2.0);  // still at the edge, but both extensions are used
  runs = expand_grid(Staged(), o.fn());
  auto rep = ids_of(runs, RunRole::kReport);
  EXPECT_EQ(std::count(rep.begin(), rep.end(), base + "lr0.16-s0"), 1);
  EXPECT_EQ(std::count(rep.begin(), rep.end(), base + "lr0.16-s1"), 1);
  // The second study runs the chosen rate with its own seeds.
  EXPECT_EQ(std::count(rep.begin(), rep.end(), "finetune/ranks/lm-muon-s0/full-adam/lr0.16-s0"), 1);
  const auto sels = lr_selections(Staged(), o.fn());
  const LrSelection* s = nullptr;
  for (const auto& x : sels)
    if (x.parent == "pretrain/lm/muon-s0") s = &x;
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->settled);
  EXPECT_EQ(s->extensions, 2);
  EXPECT_EQ(s->lrs, (std::vector<double>{0.01, 0.02, 0.04, 0.08, 0.16}));
  EXPECT_DOUBLE_EQ(s->chosen, 0.16);
}

TEST(StagedGridTest, AnInteriorOptimumIsChosenAtOnceAndUnusableRatesNever) {
  FakeOutcomes o;
  for (const char* id : {"pretrain/lm/muon-s0", "pretrain/lm/adam-lr0.001-s0",
                         "pretrain/lm/adam-lr0.002-s0", "pretrain/lm/adam-lr0.004-s0"})
    o.set(id, 1.4);
  const std::string base = "finetune/sel/lm-muon-s0/full-adam/";
  o.set(base + "lr0.01-s100", 2.5);
  o.set(base + "lr0.02-s100", 2.2);
  o.set(base + "lr0.04-s100", std::nan(""));  // diverged: worse than anything
  auto rep = ids_of(expand_grid(Staged(), o.fn()), RunRole::kReport);
  EXPECT_EQ(std::count(rep.begin(), rep.end(), base + "lr0.02-s0"), 1);
  // Lower-is-better unless the metric is an accuracy: the same numbers as accuracies pick 0.01,
  // which sits at the lower edge, so 0.005 is selected on first.
  ExperimentSpec acc = Staged();
  acc.finetune[0].select_metric = "val_acc";
  acc.finetune[0].select_maximize = true;
  const auto sel = ids_of(expand_grid(acc, o.fn()), RunRole::kSelect);
  EXPECT_EQ(std::count(sel.begin(), sel.end(), base + "lr0.005-s100"), 1);
}

TEST(StagedGridTest, SpecRules) {
  const std::string head =
      "name = \"x\"\n[[pretrain]]\nname = \"lm\"\noptimizers = [\"adam\"]\n"
      "[[finetune]]\nname = \"f\"\nfrom = \"lm\"\n";
  const std::string method =
      "[[finetune.methods]]\nname = \"m\"\nmethod = \"full\"\noptimizer = \"adam\"\nlrs = [0.1]\n";
  EXPECT_THROW(parse_spec(head + "select_seeds = [0]\nseeds = [0, 1]\n" + method, "m"),
               std::invalid_argument);  // reported seeds must be fresh
  EXPECT_THROW(parse_spec(head + "extend_at_edge = 1\n" + method, "m"), std::invalid_argument);
  EXPECT_THROW(parse_spec(head + "lr_from = \"nope\"\n" + method, "m"), std::invalid_argument);
  EXPECT_NO_THROW(parse_spec(head + "select_seeds = [9]\nextend_at_edge = 1\n" + method, "m"));
  EXPECT_EQ(parse_spec(head + "select_metric = \"val_acc\"\nselect_seeds = [9]\n" + method, "m")
                .finetune[0]
                .select_maximize,
            true);
}

}  // namespace
}  // namespace muft::sweep
