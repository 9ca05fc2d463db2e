#include "muft/train/eval.h"
#include "muft/train/forgetting.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "muft/train/trainer.h"
#include "test_util.h"

namespace muft::train {
namespace {

namespace fs = std::filesystem;

GPTConfig small_gpt() {
  GPTConfig g;
  g.sequence_len = 16;
  g.n_layer = 1;
  g.n_head = 2;
  g.n_embd = 16;
  return g;
}

TEST(EvaluateLmTest, ZeroHeadGivesUniformLossOverTheVocabulary) {
  torch::manual_seed(0);
  GPT model(small_gpt());
  {
    torch::NoGradGuard ng;
    model->lm_head->weight.zero_();  // logits ≡ 0: every token has probability 1/260
  }
  const TextCorpus c(synthetic_text(500, 1), "mem");
  const EvalResult r = evaluate_lm(model, c, 0, 4, torch::Device(torch::kCPU));
  constexpr double kTol = 1e-6;  // float32 log-softmax of zeros
  EXPECT_NEAR(r.loss, std::log(260.0), kTol);
  EXPECT_NEAR(r.ppl, 260.0, 1e-3);
  EXPECT_NEAR(r.bpb, std::log2(260.0), kTol);
  EXPECT_EQ(r.tokens, (500 - 1) / 16 * 16);  // 31 whole windows of 16 (+1) tokens
  const EvalResult capped = evaluate_lm(model, c, 5, 2, torch::Device(torch::kCPU));
  EXPECT_EQ(capped.tokens, 5 * 16);
  EXPECT_THROW(evaluate_lm(model, TextCorpus("short", "s"), 0, 4, torch::Device(torch::kCPU)),
               std::invalid_argument);
}

TEST(EvaluateLmTest, BatchingDoesNotChangeTheMean) {
  torch::manual_seed(1);
  GPT model(small_gpt());
  const TextCorpus c(synthetic_text(2000, 2), "mem");
  const double a = evaluate_lm(model, c, 0, 1, torch::Device(torch::kCPU)).loss;
  const double b = evaluate_lm(model, c, 0, 7, torch::Device(torch::kCPU)).loss;
  EXPECT_NEAR(a, b, 1e-6);
}

TEST(ForgettingTest, FineTuningOnANewLanguageRaisesOldLossAndLowersNewLoss) {
  const fs::path root = fs::temp_directory_path() / ("muft_forget_" + std::to_string(getpid()));
  fs::remove_all(root);
  fs::create_directories(root);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream((root / name).string()) << text;
    return (root / name).string();
  };
  // Old task: synthetic language 1; new task: reversed bytes of another synthetic language.
  std::string other = synthetic_text(30000, 40);
  std::reverse(other.begin(), other.end());
  std::string other_val = synthetic_text(3000, 41);
  std::reverse(other_val.begin(), other_val.end());
  TrainConfig pc;
  pc.model = small_gpt();
  pc.optim.optimizer = OptimizerChoice::kAdamW;
  pc.optim.matrix_lr = 1e-2;
  pc.schedule.kind = ScheduleKind::kConstant;
  pc.schedule.warmup_ratio = 0;
  pc.steps = 40;
  pc.batch_size = 8;
  pc.eval_every = 40;
  pc.threads = 1;
  pc.data.train = write("old_train.txt", synthetic_text(30000, 30));
  pc.data.val = write("old_val.txt", synthetic_text(3000, 31));
  pc.data.eval_windows = 16;
  TrainOptions quiet;
  const std::string pre = (root / "pre").string(), ft = (root / "ft").string();
  ASSERT_EQ(train_lm(pc, load_corpora(pc.data), pre, quiet).status, RunStatus::kCompleted);

  TrainConfig fc = finetune_config(OptimizerChoice::kAdamW, 1e-2);
  fc.init_from = RunDir(pre).checkpoints().back().path;
  fc.steps = 40;
  fc.eval_every = 20;
  fc.batch_size = 8;
  fc.threads = 1;
  fc.data.train = write("new_train.txt", other);
  fc.data.val = write("new_val.txt", other_val);
  fc.data.old_val = pc.data.val;
  fc.data.eval_windows = 16;
  ASSERT_EQ(train_lm(fc, load_corpora(fc.data), ft, quiet).status, RunStatus::kCompleted);

  std::vector<ForgettingRow> rows;
  ForgettingOptions fo;
  const int64_t errors = forgetting_curves({ft, (root / "missing").string()}, fo,
                                           [&](const ForgettingRow& r) { rows.push_back(r); });
  EXPECT_EQ(errors, 1);  // the missing run is one error row; the batch went on
  // Reference (old, new), then checkpoints 0, 20, 40 × (old, new), then the error row.
  ASSERT_EQ(rows.size(), 9u);
  EXPECT_EQ(rows[0].checkpoint, fc.init_from);
  EXPECT_EQ(rows[0].dataset, "old");
  EXPECT_EQ(rows[0].delta_loss, 0.0);
  EXPECT_EQ(rows[2].step, 0);
  EXPECT_NEAR(rows[2].delta_loss, 0.0, 1e-12);  // the run's step 0 is the pretrained model
  const ForgettingRow& old_end = rows[6];
  const ForgettingRow& new_end = rows[7];
  EXPECT_EQ(old_end.step, 40);
  EXPECT_EQ(old_end.dataset, "old");
  EXPECT_GT(old_end.delta_loss, 0.0) << "no forgetting of the old task measured";
  EXPECT_LT(new_end.delta_loss, 0.0) << "the new task did not improve";
  // The metrics.csv of the run agrees with the offline evaluation (same windows).
  const auto m = RunDir(ft).read_metrics().rows;
  EXPECT_NEAR(m.back().old_val_loss, old_end.result.loss, 1e-5);
  EXPECT_NEAR(m.back().val_loss, new_end.result.loss, 1e-5);
  EXPECT_FALSE(rows.back().error.empty());

  std::vector<ForgettingRow> only_old;
  fo.data = "old";
  forgetting_curves({ft}, fo, [&](const ForgettingRow& r) { only_old.push_back(r); });
  EXPECT_EQ(only_old.size(), 4u);
  fo.data = "neither";
  EXPECT_THROW(forgetting_curves({ft}, fo, [](const ForgettingRow&) {}), std::invalid_argument);
  fs::remove_all(root);
}

}  // namespace
}  // namespace muft::train
