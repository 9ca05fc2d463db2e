// Tests of run_dir.cpp: checkpoint file names, listing and atomic text writes.

#include "muft/checkpoint/run_dir.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.h"

namespace muft::checkpoint {
namespace {

using testing::ScratchDir;

TEST(RunDirTest, FileNames) {
  EXPECT_EQ(checkpoint_file_name(0), "step_000000.h5");
  EXPECT_EQ(checkpoint_file_name(123), "step_000123.h5");
  EXPECT_EQ(checkpoint_file_name(12345678), "step_12345678.h5");
  EXPECT_THROW(checkpoint_file_name(-1), std::invalid_argument);
  EXPECT_EQ(checkpoint_path("runs/a", 5), "runs/a/checkpoints/step_000005.h5");
}

TEST(RunDirTest, ListsCheckpointsByStepIgnoringOthers) {
  ScratchDir dir;
  EXPECT_TRUE(list_checkpoints(dir.path()).empty());
  EXPECT_FALSE(latest_checkpoint(dir.path()).has_value());
  std::filesystem::create_directory(dir.file("checkpoints"));
  for (const char* name : {"step_000500.h5", "step_000020.h5", "step_1000000.h5",
                           "step_000600.h5.tmp.1234", "step_abc.h5", "notes.txt", "step_.h5"}) {
    testing::write_file(dir.file(std::string("checkpoints/") + name), "x");
  }
  const auto all = list_checkpoints(dir.path());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].step, 20);
  EXPECT_EQ(all[1].step, 500);
  EXPECT_EQ(all[2].step, 1000000);
  EXPECT_EQ(latest_checkpoint(dir.path())->path, dir.file("checkpoints/step_1000000.h5"));
}

TEST(RunDirTest, AtomicTextWrite) {
  ScratchDir dir;
  write_file_atomic(dir.file("status.json"), "{\"state\": \"running\"}\n");
  write_file_atomic(dir.file("status.json"), "{\"state\": \"completed\"}\n");
  EXPECT_EQ(testing::read_file(dir.file("status.json")), "{\"state\": \"completed\"}\n");
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1);
  EXPECT_THROW(write_file_atomic(dir.file("missing/status.json"), "x"), std::runtime_error);
}

}  // namespace
}  // namespace muft::checkpoint
