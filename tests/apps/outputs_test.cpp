#include "muft/app/outputs.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace fs = std::filesystem;

namespace muft::app {
namespace {

class OutputsTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("muft_outputs_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "sub");
    std::ofstream(dir_ / "v.json") << "{}";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string at(const std::string& rel) const { return (dir_ / rel).string(); }
  fs::path dir_;
};

TEST_F(OutputsTest, SameFileAfterNormalization) {
  EXPECT_TRUE(same_file(at("v.json"), at("v.json")));
  EXPECT_TRUE(same_file(at("v.json"), at("./v.json")));
  EXPECT_TRUE(same_file(at("v.json"), at("sub/../v.json")));
  EXPECT_TRUE(same_file(at("new.h5"), at("sub/.././new.h5")));  // neither exists yet
  fs::create_symlink("v.json", at("link.json"));
  EXPECT_TRUE(same_file(at("v.json"), at("link.json")));
  fs::create_directory_symlink("sub", at("subl"));
  EXPECT_TRUE(same_file(at("sub/x.csv"), at("subl/x.csv")));
  // A symlink whose target does not exist yet: writing through it creates the target.
  fs::create_symlink("later.csv", at("dangling.csv"));
  EXPECT_TRUE(same_file(at("dangling.csv"), at("later.csv")));
  fs::create_hard_link(at("v.json"), at("hard.json"));
  EXPECT_TRUE(same_file(at("hard.json"), at("v.json")));
  // ".." after a symlinked directory goes to the link target's parent, as the kernel does.
  fs::create_directories(at("deep/inner"));
  fs::create_directory_symlink(at("deep/inner"), at("jump"));
  EXPECT_TRUE(same_file(at("jump/../x.csv"), at("deep/x.csv")));
  EXPECT_FALSE(same_file(at("jump/../x.csv"), at("x.csv")));
}

TEST_F(OutputsTest, DifferentFiles) {
  EXPECT_FALSE(same_file(at("v.json"), at("v.h5")));
  EXPECT_FALSE(same_file(at("a.csv"), at("sub/a.csv")));
  std::ofstream(dir_ / "copy.json") << "{}";
  EXPECT_FALSE(same_file(at("v.json"), at("copy.json")));
}

TEST_F(OutputsTest, CheckOutputsNamesTheFlags) {
  EXPECT_NO_THROW(check_outputs({{"--json", at("v.json")}, {"--h5", at("v.h5")}, {"--csv", ""}}));
  EXPECT_NO_THROW(check_outputs({{"--json", ""}, {"--h5", ""}}));  // options not given
  try {
    check_outputs({{"--json", at("v.json")}, {"--h5", at("./v.json")}});
    FAIL() << "two outputs on one file accepted";
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("--json and --h5 name the same file"), std::string::npos) << m;
  }
  try {
    check_outputs({{"--out", at("sub/../v.json")}}, {{"SPEC", at("v.json")}});
    FAIL() << "an output on an input accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("is also an input (SPEC)"), std::string::npos);
  }
  EXPECT_NO_THROW(check_outputs({{"--out", at("o.csv")}}, {{"SPEC", at("v.json")}, {"x", ""}}));
}

}  // namespace
}  // namespace muft::app
