#include "muft/train/digits.h"

#include "muft/checkpoint/checkpoint.h"

#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace muft::train {
namespace {

namespace fs = std::filesystem;

std::string csv_row(int pixel, int label) {
  std::string s;
  for (int i = 0; i < 64; ++i) s += std::to_string(i == 0 ? pixel : 0) + ",";
  return s + std::to_string(label) + "\n";
}

TEST(DigitsCsvTest, ParsesPixelsScaledAndLabels) {
  const DigitsData d = parse_digits_csv(csv_row(16, 3) + csv_row(8, 9));
  ASSERT_EQ(d.size(), 2);
  EXPECT_FLOAT_EQ(d.x[0][0].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(d.x[1][0].item<float>(), 0.5f);
  EXPECT_EQ(d.y[0].item<int64_t>(), 3);
  EXPECT_EQ(d.y[1].item<int64_t>(), 9);
}

TEST(DigitsCsvTest, RejectsMalformedRows) {
  EXPECT_THROW(parse_digits_csv("1,2,3\n"), std::invalid_argument);       // too few values
  EXPECT_THROW(parse_digits_csv(csv_row(17, 1)), std::invalid_argument);  // pixel > 16
  EXPECT_THROW(parse_digits_csv(csv_row(1, 10)), std::invalid_argument);  // label > 9
  EXPECT_THROW(parse_digits_csv(csv_row(1, 1) + "x" + csv_row(1, 1).substr(1)),
               std::invalid_argument);
  EXPECT_THROW(parse_digits_csv(""), std::invalid_argument);
}

TEST(DigitsSplitTest, SelectAndSplitAreDeterministicAndDisjoint) {
  const DigitsData d = synthetic_digits(500, 1);
  const DigitsData low = select_digits(d, 0, 4);
  EXPECT_EQ(low.size(), 250);
  EXPECT_LE(low.y.max().item<int64_t>(), 4);
  const auto [tr, va] = split_digits(low, 20, 5);
  const auto [tr2, va2] = split_digits(low, 20, 5);
  EXPECT_EQ(tr.size() + va.size(), 250);
  EXPECT_TRUE(torch::equal(va.x, va2.x));
  EXPECT_NEAR(static_cast<double>(va.size()), 50.0, 20.0);
}

TEST(DigitsExperimentTest, PretrainLearnsOldTaskAndFineTuningForgetsIt) {
  const fs::path dir = fs::temp_directory_path() / ("muft_digits_" + std::to_string(getpid()));
  fs::remove_all(dir);
  DigitsConfig c;
  c.hidden = 32;
  c.pretrain_steps = 60;
  c.finetune_steps = 60;
  c.batch_size = 32;
  c.finetune_optimizer = OptimizerChoice::kAdamW;
  c.finetune_lr = 1e-2;
  c.eval_every = 20;
  const DigitsResult r = run_digits(c, synthetic_digits(600, 2), dir.string());
  EXPECT_EQ(r.status, RunStatus::kCompleted);
  EXPECT_GT(r.pretrained_old_acc, 0.9);
  EXPECT_GT(r.final_new_acc, 0.9);
  EXPECT_DOUBLE_EQ(r.forgetting, r.pretrained_old_acc - r.final_old_acc);
  // Before pretraining the new classes are at chance; rows: 1 + 3 per phase.
  ASSERT_EQ(r.rows.size(), 8u);
  EXPECT_LT(r.rows.front().new_acc, 0.5);
  EXPECT_TRUE(fs::exists(dir / "digits.csv"));
  EXPECT_TRUE(fs::exists(dir / "summary.json"));
  EXPECT_TRUE(fs::exists(dir / "checkpoints/step_000120.h5"));
  EXPECT_EQ(RunDir(dir.string(), false).read_status()["status"], "completed");
  fs::remove_all(dir);
}

TEST(DigitsExperimentTest, LoRAFinetuneLearnsTheNewClasses) {
  DigitsConfig c;
  c.hidden = 32;
  c.pretrain_steps = 40;
  c.finetune_steps = 40;
  c.method = "lora";
  c.finetune_lr = 0.02;
  const DigitsResult r = run_digits(c, synthetic_digits(400, 3), "");
  EXPECT_EQ(r.status, RunStatus::kCompleted);
  EXPECT_GT(r.final_new_acc, 0.5);  // the adapters alone learn the new classes
  DigitsConfig bad = c;
  bad.method = "prefix";
  EXPECT_THROW(run_digits(bad, synthetic_digits(100, 3), ""), std::invalid_argument);
}

}  // namespace
}  // namespace muft::train

namespace muft::train {
namespace {

TrainConfig digits_task_config(const std::string& mode) {
  TrainConfig c = mode == "pretrain" ? tiny_pretrain_config(OptimizerChoice::kAdamW)
                                     : finetune_config(OptimizerChoice::kMuon, 0.02);
  c.task = "digits";
  c.digits.hidden = 32;
  c.steps = 40;
  c.eval_every = 10;
  c.batch_size = 32;
  c.threads = 1;
  if (mode == "finetune") {
    c.digits.classes = {5, 6, 7, 8, 9};
    c.digits.old_classes = {0, 1, 2, 3, 4};
  }
  return c;
}

TEST(DigitsTaskTest, PretrainFinetuneAndResumeThroughTheRunDirectory) {
  const fs::path root = fs::temp_directory_path() / ("muft_dtask_" + std::to_string(getpid()));
  fs::remove_all(root);
  const DigitsData data = synthetic_digits(600, 4);
  TrainOptions quiet;
  quiet.log_evals = false;
  const TrainConfig pc = digits_task_config("pretrain");
  const TrainResult pr = run_digits_task(pc, data, (root / "pre").string(), quiet);
  ASSERT_EQ(pr.status, RunStatus::kCompleted);
  RunDir pre((root / "pre").string(), false);
  const auto pm = pre.read_metrics();
  ASSERT_EQ(pm.size(), 5u);
  EXPECT_LT(pm.back().val_loss, 0.5 * pm.front().val_loss);
  EXPECT_EQ(pm.back().val_loss, pm.back().old_val_loss);  // pretraining: old task = task

  TrainConfig fc = digits_task_config("finetune");
  fc.method = "lora";
  fc.lora.rank = 2;
  fc.init_from = pre.list_checkpoints().back().second;
  ASSERT_EQ(run_digits_task(fc, data, (root / "ft").string(), quiet).status, RunStatus::kCompleted);
  const auto fm = RunDir((root / "ft").string(), false).read_metrics();
  EXPECT_LT(fm.back().val_loss, fm.front().val_loss);          // learns 5-9
  EXPECT_GT(fm.back().old_val_loss, fm.front().old_val_loss);  // forgets 0-4 (10-way loss)

  // Interrupted at step 20 and resumed: identical final parameters.
  TrainOptions stop = quiet;
  stop.stop_after_step = 20;
  ASSERT_EQ(run_digits_task(fc, data, (root / "ft2").string(), stop).step, 20);
  TrainOptions resume = quiet;
  resume.resume = true;
  ASSERT_EQ(run_digits_task(fc, data, (root / "ft2").string(), resume).status,
            RunStatus::kCompleted);
  const auto a = checkpoint::read_checkpoint(
      RunDir((root / "ft").string(), false).list_checkpoints().back().second);
  const auto b = checkpoint::read_checkpoint(
      RunDir((root / "ft2").string(), false).list_checkpoints().back().second);
  ASSERT_EQ(a.parameters.size(), b.parameters.size());
  for (size_t i = 0; i < a.parameters.size(); ++i) {
    EXPECT_EQ(a.parameters[i].bytes, b.parameters[i].bytes) << a.parameters[i].name;
  }
  // A huge lr diverges with the documented exit code.
  TrainConfig bad = digits_task_config("pretrain");
  bad.optim.matrix_lr = 1e30;
  EXPECT_EQ(run_digits_task(bad, data, (root / "bad").string(), quiet).exit_code, kExitDiverged);
  fs::remove_all(root);
}

}  // namespace
}  // namespace muft::train
