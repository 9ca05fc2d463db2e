#include "muft/rundir/inspect.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "muft/rundir/run_dir.h"
#include "scratch.h"

namespace fs = std::filesystem;

namespace muft::rundir {
namespace {

using InspectTest = testing::ScratchTest;

TEST_F(InspectTest, EveryState) {
  EXPECT_EQ(inspect_run(dir_).state, RunState::kPending);  // missing directory
  fs::create_directories(dir_);
  EXPECT_EQ(inspect_run(dir_).state, RunState::kPending);  // empty directory
  Write("metrics.csv", "step\n0\n");
  EXPECT_EQ(inspect_run(dir_).state, RunState::kInterrupted);
  Write("checkpoints/step_000010.h5", "x");
  Write("checkpoints/step_000002.h5", "x");
  Write("checkpoints/step_000020.h5.tmp.123", "partial");  // an interrupted write: ignored
  Write("status.json", R"({"status": "running", "reason": ""})");
  Inspection s = inspect_run(dir_);
  EXPECT_EQ(s.state, RunState::kInterrupted);
  EXPECT_EQ(s.last_checkpoint_step, 10);
  EXPECT_EQ(fs::path(s.last_checkpoint).filename(), "step_000010.h5");
  Write("status.json", R"({"status": "diverged", "reason": "nan loss at step 12"})");
  s = inspect_run(dir_);
  EXPECT_EQ(s.state, RunState::kDiverged);
  EXPECT_EQ(s.reason, "nan loss at step 12");
  Write("status.json", R"({"status": "collapsed", "reason": "uniform predictions"})");
  s = inspect_run(dir_);
  EXPECT_EQ(s.state, RunState::kCollapsed);
  EXPECT_TRUE(is_unhealthy(s.state));
  Write("status.json", R"({"status": "completed"})");
  EXPECT_EQ(inspect_run(dir_).state, RunState::kCompleted);
  EXPECT_FALSE(is_unhealthy(RunState::kCompleted));
  fs::remove(dir_ + "/metrics.csv");
  EXPECT_EQ(inspect_run(dir_).state, RunState::kCorrupt);  // completed without metrics
  Write("status.json", "{\"status\": ");
  s = inspect_run(dir_);
  EXPECT_EQ(s.state, RunState::kCorrupt);
  EXPECT_NE(s.reason.find("not valid JSON"), std::string::npos);
  Write("status.json", R"({"status": "weird"})");
  EXPECT_EQ(inspect_run(dir_).state, RunState::kCorrupt);
  RunDir(dir_).write_status(
      {RunStatus::kFailed, "trainer exited with code 1", 0, {{"written_by", "muft-sweep"}}});
  s = inspect_run(dir_);
  EXPECT_EQ(s.state, RunState::kFailed);
  EXPECT_EQ(s.reason, "trainer exited with code 1");
  Write("file-not-dir", "x");
  EXPECT_EQ(inspect_run(dir_ + "/file-not-dir").state, RunState::kCorrupt);
}

TEST_F(InspectTest, LiveLockMeansRunning) {
  fs::create_directories(dir_);
  Write("status.json", R"({"status": "running"})");
  const int fd = ::open((dir_ + "/.sweep.lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  // flock locks belong to the open file description: a second open in this process conflicts
  // with it exactly as another process would.
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  EXPECT_TRUE(lock_held(dir_));
  EXPECT_EQ(inspect_run(dir_).state, RunState::kRunning);
  ::close(fd);
  EXPECT_FALSE(lock_held(dir_));
  EXPECT_EQ(inspect_run(dir_).state, RunState::kInterrupted);
}

}  // namespace
}  // namespace muft::rundir
