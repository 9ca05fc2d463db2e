#include "muft/train/trainer.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "muft/checkpoint/checkpoint.h"
#include "muft/train/tokenizer.h"
#include "muft/train/trainer_checkpoint.h"

namespace muft::train {
namespace {

namespace fs = std::filesystem;

/// A model and run small enough to train in a second on one core.
TrainConfig small_config(OptimizerChoice opt) {
  TrainConfig c;
  c.model.sequence_len = 32;
  c.model.n_layer = 2;
  c.model.n_head = 2;
  c.model.n_embd = 32;
  c.optim.optimizer = opt;
  c.optim.model_dim = 32;
  c.optim.matrix_lr = opt == OptimizerChoice::kAdamW ? 1e-2 : 0.05;
  c.schedule.kind = ScheduleKind::kConstant;
  c.schedule.warmup_ratio = 0.0;
  c.steps = 60;
  c.batch_size = 8;
  c.eval_every = 30;
  c.data.eval_windows = 8;
  c.seed = 1;
  c.threads = 1;
  return c;
}

TrainCorpora synthetic_corpora(uint64_t seed) {
  TrainCorpora d;
  d.train = TextCorpus(synthetic_text(40000, seed), "synthetic-train");
  d.val = TextCorpus(synthetic_text(4000, seed + 100), "synthetic-val");
  return d;
}

fs::path temp_dir(const std::string& tag) {
  const fs::path p =
      fs::temp_directory_path() / ("muft_trainer_" + std::to_string(::getpid()) + "_" + tag);
  fs::remove_all(p);
  return p;
}

TrainOptions quiet() {
  TrainOptions o;
  o.log_evals = false;
  return o;
}

class TrainerLossTest : public ::testing::TestWithParam<OptimizerChoice> {};

TEST_P(TrainerLossTest, ValidationLossDecreasesOnSyntheticCorpus) {
  const fs::path dir = temp_dir("loss_" + to_string(GetParam()));
  const auto data = synthetic_corpora(1);
  const TrainResult r = run_training(small_config(GetParam()), data, dir.string(), quiet());
  EXPECT_EQ(r.status, RunStatus::kCompleted);
  EXPECT_EQ(r.exit_code, kExitOk);
  EXPECT_EQ(r.step, 60);
  RunDir run(dir.string(), false);
  const auto rows = run.read_metrics();
  ASSERT_EQ(rows.size(), 3u);  // steps 0, 30, 60
  const double initial = rows.front().val_loss, final_loss = rows.back().val_loss;
  // At init the head is ~0, so the loss is near ln(260) = 5.56 nats.
  EXPECT_NEAR(initial, std::log(260.0), 0.1);
  const double unigram_nats = unigram_entropy_bits(data.train.text()) * std::log(2.0);
  RecordProperty("final_val_loss", std::to_string(final_loss));
  EXPECT_LT(final_loss, unigram_nats) << "not better than the unigram baseline";
  EXPECT_EQ(rows.back().tokens, 60 * 8 * 32);
  EXPECT_EQ(run.list_checkpoints().size(), 3u);
  EXPECT_EQ(run.read_status()["status"], "completed");
  EXPECT_EQ(run.read_config()["optim"]["optimizer"], to_string(GetParam()));
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Optimizers, TrainerLossTest,
                         ::testing::Values(OptimizerChoice::kAdamW, OptimizerChoice::kMuon,
                                           OptimizerChoice::kMuonPE),
                         [](const auto& info) {
                           std::string n = to_string(info.param);
                           for (auto& ch : n) {
                             if (ch == '-') ch = '_';
                           }
                           return n;
                         });

TEST(TrainerDivergenceTest, HugeLearningRateMarksRunDivergedAndKeepsLastGoodCheckpoint) {
  const fs::path dir = temp_dir("diverge");
  TrainConfig c = small_config(OptimizerChoice::kAdamW);
  c.optim.set_single_lr(1e30);  // weights of ~1e30 overflow float32 products within steps
  c.steps = 20;
  c.eval_every = 5;
  const TrainResult r = run_training(c, synthetic_corpora(1), dir.string(), quiet());
  EXPECT_EQ(r.status, RunStatus::kDiverged);
  EXPECT_EQ(r.exit_code, kExitDiverged);
  EXPECT_LT(r.step, 5);  // before the first checkpoint after step 0
  RunDir run(dir.string(), false);
  const auto status = run.read_status();
  EXPECT_EQ(status["status"], "diverged");
  EXPECT_NE(status["reason"].get<std::string>().find("non-finite"), std::string::npos);
  const auto ckpts = run.list_checkpoints();
  ASSERT_EQ(ckpts.size(), 1u);  // the step-0 checkpoint survives, nothing after it
  EXPECT_EQ(status["last_good_checkpoint"], ckpts.back().second);
  const auto ck = checkpoint::read_checkpoint(ckpts.back().second);
  for (const auto& p : ck.parameters) {
    EXPECT_TRUE(torch::isfinite(from_named_tensor(p)).all().item<bool>()) << p.name;
  }
  fs::remove_all(dir);
}

TEST(TrainerDivergenceTest, ModerateLearningRateDoesNotTrigger) {  // the check can pass too
  const fs::path dir = temp_dir("nodiverge");
  TrainConfig c = small_config(OptimizerChoice::kAdamW);
  c.steps = 5;
  c.eval_every = 5;
  EXPECT_EQ(run_training(c, synthetic_corpora(1), dir.string(), quiet()).status,
            RunStatus::kCompleted);
  fs::remove_all(dir);
}

TEST(TrainerFinetuneTest, LoRAFinetuneKeepsBaseWeightsAndTracksOldTask) {
  const fs::path pre = temp_dir("pre"), ft = temp_dir("ft");
  TrainConfig pc = small_config(OptimizerChoice::kAdamW);
  pc.steps = 20;
  pc.eval_every = 20;
  ASSERT_EQ(run_training(pc, synthetic_corpora(1), pre.string(), quiet()).status,
            RunStatus::kCompleted);
  const std::string base_ckpt = RunDir(pre.string(), false).list_checkpoints().back().second;

  TrainConfig fc = finetune_config(OptimizerChoice::kMuon, 0.02);
  fc.init_from = base_ckpt;
  fc.method = "lora";
  fc.lora.rank = 4;
  fc.steps = 10;
  fc.eval_every = 5;
  fc.batch_size = 8;
  fc.data.eval_windows = 8;
  fc.threads = 1;
  TrainCorpora d = synthetic_corpora(7);  // a different "language" as the new task
  d.old_val = TextCorpus(synthetic_text(4000, 101), "old-val");
  const TrainResult r = run_training(fc, d, ft.string(), quiet());
  ASSERT_EQ(r.status, RunStatus::kCompleted);
  EXPECT_LT(r.trainable_parameters, r.num_parameters / 2);

  RunDir run(ft.string(), false);
  EXPECT_EQ(run.read_config()["model"]["n_embd"], 32);  // model config taken from the checkpoint
  const auto rows = run.read_metrics();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_NE(rows.back().val_loss, rows.back().old_val_loss);
  const auto base = checkpoint::read_checkpoint(base_ckpt);
  const auto last = checkpoint::read_checkpoint(run.list_checkpoints().back().second);
  bool saw_adapter = false;
  for (const auto& p : last.parameters) {
    if (is_lora_parameter_name(p.name)) {
      saw_adapter = true;
      continue;
    }
    for (const auto& q : base.parameters) {
      if (q.name == p.name) {
        EXPECT_EQ(p.bytes, q.bytes) << p.name << " changed under LoRA";
      }
    }
  }
  EXPECT_TRUE(saw_adapter);
  fs::remove_all(pre);
  fs::remove_all(ft);
}

TEST(TrainerTest, RefusesToOverwriteAnExistingRun) {
  const fs::path dir = temp_dir("overwrite");
  TrainConfig c = small_config(OptimizerChoice::kAdamW);
  c.steps = 1;
  ASSERT_EQ(run_training(c, synthetic_corpora(1), dir.string(), quiet()).status,
            RunStatus::kCompleted);
  EXPECT_THROW(run_training(c, synthetic_corpora(1), dir.string(), quiet()), std::invalid_argument);
  fs::remove_all(dir);
}

TEST(TrainConfigTest, JsonRoundTripAndStrictKeys) {
  TrainConfig c = tiny_pretrain_config(OptimizerChoice::kMuonPE);
  c.lora.rank = 3;
  c.seed = 42;
  const auto j = c.to_json();
  const TrainConfig back = TrainConfig::from_json(j);
  EXPECT_EQ(back.to_json(), j);
  EXPECT_EQ(back.optim.optimizer, OptimizerChoice::kMuonPE);
  EXPECT_THROW(TrainConfig::from_json({{"stepz", 3}}), std::invalid_argument);
  EXPECT_THROW(TrainConfig::from_json({{"steps", "many"}}), std::invalid_argument);
  EXPECT_THROW(TrainConfig::from_json({{"optim", {{"matrix_lr", "x"}}}}), std::invalid_argument);
  EXPECT_THROW(TrainConfig::from_json({{"steps", 0}}), std::invalid_argument);
  EXPECT_THROW(TrainConfig::from_json({{"method", "lora"}}), std::invalid_argument);  // pretrain
  const TrainConfig partial = TrainConfig::from_json({{"steps", 7}, {"model", {{"n_layer", 2}}}});
  EXPECT_EQ(partial.steps, 7);
  EXPECT_EQ(partial.schedule.total_steps, 7);
  EXPECT_EQ(partial.model.n_layer, 2);
  EXPECT_EQ(partial.model.n_embd, 128);
  std::string err;
  TrainConfig bad;
  bad.device = "tpu";
  EXPECT_FALSE(bad.IsValid(&err));
  EXPECT_NE(err.find("device"), std::string::npos);
}

}  // namespace
}  // namespace muft::train
