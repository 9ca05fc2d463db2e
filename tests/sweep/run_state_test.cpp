#include "muft/sweep/run_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace fs = std::filesystem;

namespace muft::sweep {
namespace {

class RunStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("muft_run_state_" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& rel, const std::string& text) {
    fs::create_directories(fs::path(dir_ + "/" + rel).parent_path());
    std::ofstream(dir_ + "/" + rel) << text;
  }
  std::string dir_;
};

TEST_F(RunStateTest, EveryState) {
  EXPECT_EQ(inspect_run(dir_).state, RunState::kPending);  // missing directory
  fs::create_directories(dir_);
  EXPECT_EQ(inspect_run(dir_).state, RunState::kPending);  // empty directory
  Write("metrics.csv", "step\n0\n");
  EXPECT_EQ(inspect_run(dir_).state, RunState::kInterrupted);
  Write("checkpoints/step_000010.h5", "x");
  Write("checkpoints/step_000002.h5", "x");
  Write("checkpoints/step_000020.h5.tmp.123", "partial");  // an interrupted write: ignored
  Write("status.json", R"({"status": "running", "reason": ""})");
  RunStatus s = inspect_run(dir_);
  EXPECT_EQ(s.state, RunState::kInterrupted);
  EXPECT_EQ(s.last_checkpoint_step, 10);
  EXPECT_EQ(fs::path(s.last_checkpoint).filename(), "step_000010.h5");
  Write("status.json", R"({"status": "diverged", "reason": "nan loss at step 12"})");
  s = inspect_run(dir_);
  EXPECT_EQ(s.state, RunState::kDiverged);
  EXPECT_EQ(s.reason, "nan loss at step 12");
  Write("status.json", R"({"status": "completed"})");
  EXPECT_EQ(inspect_run(dir_).state, RunState::kCompleted);
  fs::remove(dir_ + "/metrics.csv");
  EXPECT_EQ(inspect_run(dir_).state, RunState::kCorrupt);  // completed without metrics
  Write("status.json", "{\"status\": ");
  s = inspect_run(dir_);
  EXPECT_EQ(s.state, RunState::kCorrupt);
  EXPECT_NE(s.reason.find("not valid JSON"), std::string::npos);
  Write("status.json", R"({"status": "weird"})");
  EXPECT_EQ(inspect_run(dir_).state, RunState::kCorrupt);
  write_status(dir_, "failed", "trainer exited with code 1");
  s = inspect_run(dir_);
  EXPECT_EQ(s.state, RunState::kFailed);
  EXPECT_EQ(s.reason, "trainer exited with code 1");
}

TEST_F(RunStateTest, LiveLockMeansRunning) {
  fs::create_directories(dir_);
  Write("status.json", R"({"status": "running"})");
  const int fd = ::open((dir_ + "/.sweep.lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  // flock locks belong to the open file description: a second open in this process conflicts
  // with it exactly as another process would.
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  EXPECT_EQ(inspect_run(dir_).state, RunState::kRunning);
  ::close(fd);
  EXPECT_EQ(inspect_run(dir_).state, RunState::kInterrupted);
}

TEST_F(RunStateTest, AtomicWriteReplaces) {
  fs::create_directories(dir_);
  write_file_atomic(dir_ + "/a.txt", "one");
  write_file_atomic(dir_ + "/a.txt", "two");
  std::ifstream in(dir_ + "/a.txt");
  std::string s;
  in >> s;
  EXPECT_EQ(s, "two");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator{}), 1);
  EXPECT_THROW(write_file_atomic(dir_ + "/no/such/dir/a.txt", "x"), std::runtime_error);
}

}  // namespace
}  // namespace muft::sweep
