/// \file inputs_test.cpp
/// Expansion of files, directories and globs; steps from file names.

#include "muft/analysis/inputs.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace muft::analysis {
namespace {

namespace fs = std::filesystem;

class InputsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One directory per test and process: ctest -j runs tests of this fixture in parallel.
    root_ = fs::path(::testing::TempDir()) /
            ("muft_inputs_test_" +
             std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
             std::to_string(::getpid()));
    fs::remove_all(root_);
    for (const char* f :
         {"a/x.safetensors", "a/sub/y.h5", "a/notes.txt", "b/model.safetensors.index.json",
          "b/model-00001-of-00002.safetensors", "b/model-00002-of-00002.safetensors",
          "run/checkpoints/step_000100.h5", "run/checkpoints/step_000020.h5"}) {
      fs::create_directories((root_ / f).parent_path());
      std::ofstream(root_ / f) << "x";
    }
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string p(const char* rel) const { return (root_ / rel).string(); }
  fs::path root_;
};

TEST_F(InputsTest, DirectoriesRecursiveIndexReplacesShards) {
  std::vector<std::string> errors;
  const auto got = expand_inputs({p("a"), p("b")}, &errors);
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], p("a/x.safetensors"));
  EXPECT_EQ(got[1], p("a/sub/y.h5"));
  EXPECT_EQ(got[2], p("b/model.safetensors.index.json"));
}

TEST_F(InputsTest, GlobsFilesAndMisses) {
  std::vector<std::string> errors;
  const auto got =
      expand_inputs({(root_ / "run/checkpoints/step_*.h5").string(), p("a/x.safetensors"),
                     p("a/x.safetensors"), (root_ / "nothing*.h5").string()},
                    &errors);
  ASSERT_EQ(got.size(), 3u);  // duplicate removed
  EXPECT_EQ(got[0], p("run/checkpoints/step_000020.h5"));
  EXPECT_EQ(got[1], p("run/checkpoints/step_000100.h5"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("matches no file"), std::string::npos);
}

TEST_F(InputsTest, RunCheckpoints) {
  std::vector<std::string> errors;
  const auto got = run_checkpoints(p("run"), &errors);
  EXPECT_EQ(got.size(), 2u);
  EXPECT_TRUE(run_checkpoints(p("nope"), &errors).empty());
  EXPECT_EQ(errors.size(), 1u);
}

TEST_F(InputsTest, PytorchAndGgufFilesWithoutTrainerState) {
  // A Hugging Face Trainer checkpoint directory, a sharded .bin model, a GGUF file, and a repo
  // shipping both safetensors and pytorch_model.bin.
  for (const char* f :
       {"hf/checkpoint-10/pytorch_model.bin", "hf/checkpoint-10/optimizer.pt",
        "hf/checkpoint-10/scheduler.pt", "hf/checkpoint-10/rng_state.pth",
        "hf/checkpoint-10/training_args.bin", "hf/checkpoint-10/scaler.pt",
        "hf/sharded/pytorch_model.bin.index.json", "hf/sharded/pytorch_model-00001-of-00002.bin",
        "hf/sharded/pytorch_model-00002-of-00002.bin", "hf/q/model-q8_0.gguf",
        "hf/both/model.safetensors", "hf/both/pytorch_model.bin", "hf/nano/model_000500.pt",
        "hf/nano/optim_000500_rank0.pt"}) {
    fs::create_directories((root_ / f).parent_path());
    std::ofstream(root_ / f) << "x";
  }
  std::vector<std::string> errors;
  const auto got = expand_inputs({p("hf")}, &errors);
  EXPECT_TRUE(errors.empty());
  const std::vector<std::string> want = {
      p("hf/both/model.safetensors"), p("hf/checkpoint-10/pytorch_model.bin"),
      p("hf/nano/model_000500.pt"),   p("hf/nano/optim_000500_rank0.pt"),
      p("hf/q/model-q8_0.gguf"),      p("hf/sharded/pytorch_model.bin.index.json")};
  EXPECT_EQ(got, want);
  EXPECT_TRUE(is_checkpoint_name("adapter_model.bin"));
  EXPECT_FALSE(is_checkpoint_name("training_args.bin"));
  EXPECT_FALSE(is_checkpoint_name("notes.txt"));
}

TEST(StepFromNameTest, Patterns) {
  EXPECT_EQ(step_from_name("run/checkpoints/step_000500.h5"), 500);
  EXPECT_EQ(step_from_name("out/checkpoint-1200/model.safetensors"), 1200);
  EXPECT_EQ(step_from_name("ckpt_7_of_run3.h5"), 3);  // the last number wins
  EXPECT_FALSE(step_from_name("final/model.safetensors").has_value());
}

}  // namespace
}  // namespace muft::analysis
