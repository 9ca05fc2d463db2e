#include "muft/sweep/grid.h"

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
  for (const char* p : {"data/experiments/smoke.toml", "data/experiments/paper-toy.toml"}) {
    const ExperimentSpec s = load_spec(p);
    EXPECT_EQ(grid_size(s), expand_grid(s).size()) << p;
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

}  // namespace
}  // namespace muft::sweep
