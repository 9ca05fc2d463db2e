#include "muft/rundir/run_dir.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "scratch.h"

namespace muft::rundir {
namespace {

namespace fs = std::filesystem;
using RunDirTest = testing::ScratchTest;

TEST(CheckpointNamesTest, FileNames) {
  EXPECT_EQ(checkpoint_file_name(0), "step_000000.h5");
  EXPECT_EQ(checkpoint_file_name(123), "step_000123.h5");
  EXPECT_EQ(checkpoint_file_name(12345678), "step_12345678.h5");
  EXPECT_THROW(checkpoint_file_name(-1), std::invalid_argument);
  EXPECT_EQ(RunDir("runs/a").checkpoint_path(5), "runs/a/checkpoints/step_000005.h5");
  EXPECT_THROW(RunDir(""), std::invalid_argument);
}

TEST_F(RunDirTest, CreatesLayoutAndListsCheckpointsByStepIgnoringOthers) {
  RunDir run(dir_ + "/");
  EXPECT_EQ(run.path(), dir_);
  EXPECT_FALSE(run.exists());
  EXPECT_TRUE(run.checkpoints().empty());
  EXPECT_FALSE(run.latest_checkpoint().has_value());
  run.create();
  EXPECT_TRUE(fs::is_directory(dir_ + "/checkpoints"));
  EXPECT_FALSE(run.holds_run());
  for (const char* name : {"step_000500.h5", "step_000020.h5", "step_1000000.h5",
                           "step_000600.h5.tmp.1234", "step_abc.h5", "notes.txt", "step_.h5"}) {
    Write(std::string("checkpoints/") + name, "x");
  }
  const auto all = run.checkpoints();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].step, 20);
  EXPECT_EQ(all[1].step, 500);
  EXPECT_EQ(all[2].step, 1000000);
  EXPECT_EQ(run.latest_checkpoint()->path, dir_ + "/checkpoints/step_1000000.h5");
  EXPECT_TRUE(run.holds_run());
}

TEST_F(RunDirTest, AtomicTextWriteReplacesAndLeavesNoTemporary) {
  fs::create_directories(dir_);
  write_file_atomic(dir_ + "/status.json", "{\"state\": \"running\"}\n");
  write_file_atomic(dir_ + "/status.json", "{\"state\": \"completed\"}\n", /*durable=*/false);
  EXPECT_EQ(read_file(dir_ + "/status.json"), "{\"state\": \"completed\"}\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator{}), 1);
  EXPECT_THROW(write_file_atomic(dir_ + "/missing/status.json", "x"), std::runtime_error);
  EXPECT_THROW(read_file(dir_ + "/missing.txt"), std::runtime_error);
}

TEST_F(RunDirTest, StatusAndConfigRoundTrip) {
  RunDir run(dir_);
  run.create();
  EXPECT_THROW(run.read_status(), std::runtime_error);
  run.write_status({RunStatus::kDiverged,
                    "non-finite training loss at step 7",
                    7,
                    {{"last_good_checkpoint", "x.h5"}}});
  const nlohmann::json s = run.read_status_json();
  EXPECT_EQ(s["status"], "diverged");
  EXPECT_EQ(s["reason"], "non-finite training loss at step 7");
  EXPECT_EQ(s["step"], 7);
  EXPECT_EQ(s["last_good_checkpoint"], "x.h5");
  EXPECT_FALSE(s.contains("state"));  // one key for the status, not two
  EXPECT_TRUE(s["last_checkpoint"].is_null());
  EXPECT_TRUE(s.contains("updated"));
  const StatusRecord rec = run.read_status();
  EXPECT_EQ(rec.status, RunStatus::kDiverged);
  EXPECT_EQ(rec.step, 7);
  EXPECT_EQ(rec.extra["last_good_checkpoint"], "x.h5");
  EXPECT_FALSE(rec.extra.contains("status"));
  Write("checkpoints/step_000005.h5", "x");
  run.write_status({RunStatus::kCollapsed, "uniform", 5, {}});
  EXPECT_EQ(run.read_status_json()["last_checkpoint"], "checkpoints/step_000005.h5");
  EXPECT_EQ(run.read_status().status, RunStatus::kCollapsed);
  Write("status.json", R"({"status": "weird"})");
  EXPECT_THROW(run.read_status(), std::runtime_error);
  run.write_config({{"steps", 3}});
  EXPECT_TRUE(run.has_config());
  EXPECT_EQ(run.read_config()["steps"], 3);
  Write("config.json", "{broken");
  EXPECT_THROW(run.read_config(), std::runtime_error);
}

TEST_F(RunDirTest, MetricsRoundTripAndMalformedIsAnError) {
  RunDir run(dir_);
  run.create();
  EXPECT_TRUE(run.read_metrics().rows.empty());
  Metrics m;
  m.rows.push_back({0, 0, 0.02, std::nan(""), 5.5, std::exp(5.5), 5.5, std::exp(5.5), 0.25, {}});
  run.write_metrics(m);
  EXPECT_EQ(run.read_metrics().rows.size(), 1u);
  Write("metrics.csv", "step,tokens\n1,2\n");
  EXPECT_THROW(run.read_metrics(), std::runtime_error);
}

TEST_F(RunDirTest, LegacyDigitsAccuraciesAreMergedByStep) {
  RunDir run(dir_);
  run.create();
  Metrics m;
  for (int64_t s : {0, 20, 40}) m.rows.push_back({s, s * 64, 0.01, 1, 2, 7.4, 3, 20, 1, {}});
  run.write_metrics(m);
  Write("digits.csv", "step,val_acc,old_val_acc\n0,0.1,0.9\n40,0.8,0.5\n");
  const Metrics r = run.read_metrics();
  ASSERT_EQ(r.extra_columns, (std::vector<std::string>{"val_acc", "old_val_acc"}));
  EXPECT_DOUBLE_EQ(r.rows[0].extra[0], 0.1);
  EXPECT_TRUE(std::isnan(r.rows[1].extra[0]));  // no accuracy row for step 20
  EXPECT_DOUBLE_EQ(r.rows[2].extra[1], 0.5);
  Write("digits.csv", "step,val_acc\n0,zero\n");
  EXPECT_THROW(run.read_metrics(), std::runtime_error);
}

TEST_F(RunDirTest, StaleTemporariesOfDeadWritersAreRemovedLiveOnesKept) {
  RunDir run(dir_);
  run.create();
  // A pid that certainly does not exist any more: a child that has exited and been reaped.
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ASSERT_GT(dead, 0);
  ::waitpid(dead, nullptr, 0);
  const std::string d = std::to_string(dead), live = std::to_string(::getpid());
  Write("status.json.tmp." + d, "partial");
  Write("checkpoints/step_000010.h5.tmp." + d, "partial");
  Write("metrics.csv.tmp." + live, "being written");
  Write("checkpoints/step_000010.h5", "kept");
  Write("notes.tmp.abc", "not a pid");
  EXPECT_EQ(run.remove_stale_temporaries(), 2u);
  EXPECT_FALSE(fs::exists(dir_ + "/status.json.tmp." + d));
  EXPECT_FALSE(fs::exists(dir_ + "/checkpoints/step_000010.h5.tmp." + d));
  EXPECT_TRUE(fs::exists(dir_ + "/metrics.csv.tmp." + live));
  EXPECT_TRUE(fs::exists(dir_ + "/checkpoints/step_000010.h5"));
  EXPECT_TRUE(fs::exists(dir_ + "/notes.tmp.abc"));
  EXPECT_EQ(run.remove_stale_temporaries(), 0u);
}

}  // namespace
}  // namespace muft::rundir
