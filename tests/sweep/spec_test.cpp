#include "muft/sweep/spec.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace muft::sweep {
namespace {

const char* kSpec = R"(
name = "t"
out_dir = "out"
[trainer]
args = ["--device", "cpu"]
[[pretrain]]
name = "lm"
optimizers = ["adam", "muon"]
seeds = [0, 1]
steps = 100
eval_every = 10
[pretrain.optimizer_args]
adam = ["--lr", "0.003"]
[[finetune]]
name = "sweep"
from = "lm"
from_seeds = [0]
seeds = [0, 1, 2]
[[finetune.methods]]
name = "lora-muon"
method = "lora"
optimizer = "muon"
lrs = [1e-3, 3e-3]
ranks = [4, 8]
)";

TEST(SpecTest, ParsesEveryField) {
  const ExperimentSpec s = parse_spec(kSpec, "mem.toml");
  EXPECT_EQ(s.name, "t");
  EXPECT_EQ(s.out_dir, "out");
  EXPECT_EQ(s.trainer.common_args, (std::vector<std::string>{"--device", "cpu"}));
  ASSERT_EQ(s.pretrain.size(), 1u);
  EXPECT_EQ(s.pretrain[0].seeds, (std::vector<long>{0, 1}));
  EXPECT_EQ(s.pretrain[0].optimizer_args.at("adam"), (std::vector<std::string>{"--lr", "0.003"}));
  ASSERT_EQ(s.finetune.size(), 1u);
  EXPECT_EQ(s.finetune[0].from_seeds, (std::vector<long>{0}));
  ASSERT_EQ(s.finetune[0].methods.size(), 1u);
  EXPECT_EQ(s.finetune[0].methods[0].lrs, (std::vector<double>{1e-3, 3e-3}));
  EXPECT_EQ(s.finetune[0].methods[0].alpha, "2r");  // default: the paper's α = 2r
}

void ExpectError(const std::string& text, const std::string& fragment) {
  try {
    parse_spec(text, "bad.toml");
    FAIL() << "expected an error mentioning '" << fragment << "'";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(SpecTest, RejectsBadSpecsWithUsefulMessages) {
  const std::string base = "name = \"t\"\n[[pretrain]]\nname = \"lm\"\noptimizers = [\"adam\"]\n";
  ExpectError(base + "stepz = 3\n", "unknown key 'stepz'");
  ExpectError("name = \"t\"\n", "at least one [[pretrain]]");
  ExpectError("name = 't\n", "bad.toml:1");  // TOML syntax error with its position
  ExpectError(base + "[[finetune]]\nname = \"f\"\nfrom = \"nope\"\n", "names no pretrain group");
  ExpectError(base +
                  "[[finetune]]\nname = \"f\"\nfrom = \"lm\"\n[[finetune.methods]]\nname = "
                  "\"m\"\nmethod = \"half\"\noptimizer = \"adam\"\nlrs = [0.1]\n",
              "\"full\" or \"lora\"");
  ExpectError(base +
                  "[[finetune]]\nname = \"f\"\nfrom = \"lm\"\n[[finetune.methods]]\nname = "
                  "\"m\"\nmethod = \"full\"\noptimizer = \"adam\"\nlrs = [0.1, 0.1]\n",
              "repeated learning rate");
  ExpectError(base +
                  "[[finetune]]\nname = \"f\"\nfrom = \"lm\"\n[[finetune.methods]]\nname = "
                  "\"m\"\nmethod = \"lora\"\noptimizer = \"adam\"\nlrs = [0.1]\nalpha = \"x\"\n",
              "alpha must be");
  ExpectError(base + "seeds = [0, -1]\n", "seeds must be >= 0, got -1");
  ExpectError(base + "[[finetune]]\nname = \"f\"\nfrom = \"lm\"\nseeds = [-3]\n",
              "finetune 'f': seeds must be >= 0, got -3");
  ExpectError("name = \"a b\"\n[[pretrain]]\nname = \"lm\"\noptimizers = [\"adam\"]\n",
              "name must match");
  EXPECT_THROW(load_spec("/nonexistent/spec.toml"), std::runtime_error);
}

TEST(SpecTest, NonAsciiTextThatToml33CannotClassify) {
  // toml++ 3.3 reaches __builtin_unreachable() when it asks whether some non-ASCII code points
  // (here U+00A7 §, U+00D7 ×, U+03B1 α, U+00E9 é, U+3001 、) are whitespace, e.g. right after
  // a line-ending backslash in a multi-line string (tomlplusplus#190). parse_spec shields them:
  // the values come back byte for byte, comments may hold them, and a UBSan build stays quiet.
  const std::string text =
      "name = \"t\"  # \u00a7 \u00d7 \u03b1\n"
      "[[pretrain]]  # \u00a72\n"
      "name = \"lm\"\n"
      "optimizers = [\"adam\"]\n"
      "args = [\"--config\", \"/data/Jos\u00e9/\u03b1\u00d7\u3001.json\", \"\"\"\\\n"
      "\u00a7x\"\"\"]\n";
  const ExperimentSpec s = parse_spec(text, "u.toml");
  ASSERT_EQ(s.pretrain.size(), 1u);
  EXPECT_EQ(
      s.pretrain[0].args,
      (std::vector<std::string>{"--config", "/data/Jos\u00e9/\u03b1\u00d7\u3001.json", "\u00a7x"}));
  EXPECT_EQ(s.source_text, text);  // stored as written
  const std::string base = "name = \"t\"\n[[pretrain]]\nname = \"lm\"\noptimizers = [\"adam\"]\n";
  ExpectError(base + "\"\u00e9\u00a7\" = 1\n", "unknown key '\u00e9\u00a7'");
  // The shielded range itself (plane-15 private use) is refused, as text or as an escape.
  ExpectError(base + "args = [\"\xf3\xb0\x82\xa7\"]\n", "private-use character U+F00A7");
  ExpectError(base + "args = [\"\\U000F00A7\"]\n", "\\U000F");
}

TEST(SpecTest, ShippedProfilesAreValid) {
  // data/experiments/*.toml must always parse (run from the repository root).
  for (const char* p : {"data/experiments/smoke.toml", "data/experiments/paper-toy.toml"}) {
    EXPECT_NO_THROW(load_spec(p)) << p;
  }
}

TEST(SpecTest, InputPathsResolveAgainstTheSpecFileNotTheCurrentDirectory) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("muft_spec_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "sub");
  std::ofstream(dir / "model.json") << "{}";
  std::ofstream(dir / "sub" / "ft.json") << "{}";
  const std::string text = R"(
name = "p"
[[pretrain]]
name = "lm"
optimizers = ["adam"]
args = ["--config", "model.json", "--steps", "3"]
[pretrain.optimizer_args]
adam = ["--config=sub/ft.json"]
[[finetune]]
name = "f"
from = "lm"
args = ["--config", "/dev/null", "--val", "{dir}/x"]
[[finetune.methods]]
name = "full-adam"
method = "full"
optimizer = "adam"
lrs = [0.1]
)";
  std::ofstream(dir / "spec.toml") << text;
  const ExperimentSpec s = load_spec((dir / "spec.toml").string());
  EXPECT_EQ(s.pretrain[0].args[1], (dir / "model.json").string());
  EXPECT_EQ(s.pretrain[0].args[3], "3");  // not a path flag: untouched
  EXPECT_EQ(s.pretrain[0].optimizer_args.at("adam")[0],
            "--config=" + (dir / "sub/ft.json").string());
  EXPECT_EQ(s.finetune[0].args[1], "/dev/null");  // absolute: as written
  EXPECT_EQ(s.finetune[0].args[3], "{dir}/x");    // a template: the sweep fills it in
  EXPECT_EQ(s.out_dir, "runs/p");                 // outputs stay relative to the current dir
  // From text without a base directory nothing is resolved (nor checked).
  EXPECT_EQ(parse_spec(text, "mem").pretrain[0].args[1], "model.json");
  // A missing input file is an error at load time, naming the flag and the spec's rule.
  fs::remove(dir / "model.json");
  try {
    load_spec((dir / "spec.toml").string());
    FAIL() << "a missing --config file was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--config 'model.json' does not exist"), std::string::npos)
        << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace muft::sweep
