#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "muft/train/run_dir.h"

namespace muft::train {
namespace {

namespace fs = std::filesystem;

class RunDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("muft_rundir_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(RunDirTest, CreatesLayoutAndNamesCheckpoints) {
  RunDir run(dir_.string() + "/");
  EXPECT_TRUE(fs::is_directory(dir_ / "checkpoints"));
  EXPECT_EQ(run.checkpoint_path(42), (dir_ / "checkpoints/step_000042.h5").string());
  EXPECT_EQ(run.checkpoint_path(1234567), (dir_ / "checkpoints/step_1234567.h5").string());
  for (int s : {300, 20, 1000}) std::ofstream(run.checkpoint_path(s)) << "x";
  std::ofstream(dir_ / "checkpoints/step_000005.h5.tmp.1") << "partial";  // ignored
  std::ofstream(dir_ / "checkpoints/notes.txt") << "ignored";
  const auto ck = run.list_checkpoints();
  ASSERT_EQ(ck.size(), 3u);
  EXPECT_EQ(ck[0].first, 20);
  EXPECT_EQ(ck[1].first, 300);
  EXPECT_EQ(ck[2].first, 1000);
  EXPECT_THROW(RunDir((dir_ / "missing").string(), false), std::runtime_error);
}

TEST_F(RunDirTest, MetricsRoundTripIncludingNaN) {
  RunDir run(dir_.string());
  EXPECT_TRUE(run.read_metrics().empty());
  MetricsRow a{0, 0, 0.02, std::nan(""), 5.5, std::exp(5.5), 5.5, std::exp(5.5), 0.25};
  MetricsRow b{100, 409600, 0.0123456789, 2.5, 2.25, std::exp(2.25), 2.75, std::exp(2.75), 61.5};
  run.append_metrics(a);
  run.append_metrics(b);
  std::ifstream in(run.metrics_path());
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header, "step,tokens,lr,train_loss,val_loss,val_ppl,old_val_loss,old_val_ppl,seconds");
  const auto rows = run.read_metrics();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(std::isnan(rows[0].train_loss));
  EXPECT_EQ(rows[1].step, 100);
  EXPECT_EQ(rows[1].tokens, 409600);
  EXPECT_NEAR(rows[1].lr, 0.0123456789, 1e-17);  // %.9g keeps 9 significant digits
  EXPECT_DOUBLE_EQ(rows[1].old_val_loss, 2.75);
  EXPECT_DOUBLE_EQ(rows[1].seconds, 61.5);
  // No temporary file is left behind by the atomic writes.
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  }
}

TEST_F(RunDirTest, MalformedMetricsIsAnError) {
  RunDir run(dir_.string());
  std::ofstream(run.metrics_path()) << "step,tokens\n1,2\n";
  EXPECT_THROW(run.read_metrics(), std::runtime_error);
}

TEST_F(RunDirTest, StatusAndConfigRoundTrip) {
  RunDir run(dir_.string());
  EXPECT_THROW(run.read_status(), std::runtime_error);
  run.write_status(RunStatus::kDiverged, "non-finite training loss at step 7", 7,
                   {{"last_good_checkpoint", "x.h5"}});
  const auto s = run.read_status();
  EXPECT_EQ(s["status"], "diverged");
  EXPECT_EQ(s["reason"], "non-finite training loss at step 7");
  EXPECT_EQ(s["step"], 7);
  EXPECT_EQ(s["last_good_checkpoint"], "x.h5");
  EXPECT_FALSE(s.contains("state"));  // one key for the status, not two
  EXPECT_TRUE(s["last_checkpoint"].is_null());
  std::ofstream(run.checkpoint_path(5)) << "x";
  run.write_status(RunStatus::kRunning, "", 5);
  EXPECT_EQ(run.read_status()["last_checkpoint"], "checkpoints/step_000005.h5");
  EXPECT_EQ(parse_run_status(s["status"].get<std::string>()), RunStatus::kDiverged);
  EXPECT_THROW(parse_run_status("done"), std::invalid_argument);
  run.write_config({{"steps", 3}});
  EXPECT_EQ(run.read_config()["steps"], 3);
  std::ofstream(run.config_path()) << "{broken";
  EXPECT_THROW(run.read_config(), std::runtime_error);
}

TEST(RunStatusTest, NamesAndExitCodes) {
  EXPECT_STREQ(run_status_name(RunStatus::kCompleted), "completed");
  EXPECT_STREQ(run_status_name(RunStatus::kFailed), "failed");
  EXPECT_EQ(kExitDiverged, 3);
  EXPECT_NE(kExitFailed, kExitOk);
}

}  // namespace
}  // namespace muft::train
