#include "muft/train/digits.h"

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
