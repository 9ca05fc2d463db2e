/// \file adapter_config_test.cpp
/// adapter_config.json: every key muft reads, PEFT's pattern and target matching rules, the
/// per-module scale, base-changing initializations, and refused files.

#include "muft/analysis/adapter_config.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace muft::analysis {
namespace {

class AdapterConfigTest : public ::testing::Test {
 protected:
  // One file per test: CTest runs the tests of this fixture as parallel processes.
  std::string path_ = ::testing::TempDir() + "/adapter_config_" +
                      ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".json";
  void TearDown() override { std::remove(path_.c_str()); }
  AdapterConfig read(const std::string& json) {
    std::ofstream(path_) << json;
    const auto c = read_adapter_config(path_);
    EXPECT_TRUE(c.has_value());
    return c.value_or(AdapterConfig{});
  }
  void expect_refused(const std::string& json, const std::string& needle) {
    std::ofstream(path_) << json;
    try {
      read_adapter_config(path_);
      ADD_FAILURE() << "accepted: " << json;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path_), std::string::npos) << e.what();
    }
  }
};

TEST_F(AdapterConfigTest, ReadsEveryKey) {
  const AdapterConfig c = read(R"({
    "peft_type": "LORA", "r": 8, "lora_alpha": 16, "use_rslora": true, "use_dora": true,
    "fan_in_fan_out": true, "init_lora_weights": "gaussian",
    "rank_pattern": {"q_proj": 4}, "alpha_pattern": {"v_proj": 32},
    "target_modules": ["q_proj", "v_proj"], "exclude_modules": "lm_head",
    "lora_dropout": 0.05, "bias": "none", "task_type": "CAUSAL_LM"})");
  EXPECT_EQ(c.peft_type, "LORA");
  EXPECT_EQ(c.r, 8);
  EXPECT_EQ(c.lora_alpha, 16);
  EXPECT_TRUE(c.use_rslora);
  EXPECT_TRUE(c.use_dora);
  EXPECT_TRUE(c.fan_in_fan_out);
  EXPECT_EQ(c.init_lora_weights, "gaussian");
  ASSERT_EQ(c.rank_pattern.size(), 1u);
  EXPECT_EQ(c.rank_pattern[0].first, "q_proj");
  EXPECT_EQ(c.rank_pattern[0].second, 4);
  ASSERT_EQ(c.alpha_pattern.size(), 1u);
  EXPECT_EQ(c.alpha_pattern[0].second, 32);
  EXPECT_TRUE(c.target_modules.present);
  EXPECT_FALSE(c.target_modules.is_regex);
  EXPECT_TRUE(c.exclude_modules.is_regex);
  EXPECT_EQ(c.path, path_);
  EXPECT_TRUE(c.unsupported_type_note().empty());

  // Defaults: nothing but r.
  const AdapterConfig d = read(R"({"r": 4, "rank_pattern": null, "target_modules": null})");
  EXPECT_TRUE(std::isnan(d.lora_alpha));
  EXPECT_FALSE(d.use_rslora || d.use_dora || d.fan_in_fan_out);
  EXPECT_EQ(d.init_lora_weights, "true");
  EXPECT_TRUE(d.rank_pattern.empty());
  EXPECT_FALSE(d.target_modules.present);
  EXPECT_TRUE(d.targets("anything"));
  EXPECT_FALSE(read_adapter_config(path_ + ".missing").has_value());
}

TEST_F(AdapterConfigTest, PatternsMatchAsPeftDoes) {
  // PEFT: re.match(rf"(.*\.)?({key})$", module) over the keys in file order.
  const std::vector<std::pair<std::string, double>> p = {
      {"q_proj", 4}, {"layers\\.1\\..*", 2}, {"model.layers.0.self_attn.v_proj", 16}};
  auto hit = [&](const std::string& key) {
    const auto* m = match_pattern(p, key);
    return m ? m->second : -1.0;
  };
  EXPECT_EQ(hit("model.layers.0.self_attn.q_proj"), 4);     // a dotted suffix
  EXPECT_EQ(hit("q_proj"), 4);                              // the whole name
  EXPECT_EQ(hit("model.layers.0.self_attn.xq_proj"), -1);   // not at a dot boundary
  EXPECT_EQ(hit("model.layers.0.self_attn.q_proj.x"), -1);  // must reach the end
  EXPECT_EQ(hit("model.layers.1.self_attn.q_proj"), 4);     // first key in order wins
  EXPECT_EQ(hit("model.layers.1.mlp.up_proj"), 2);          // a regex key
  EXPECT_EQ(hit("model.layers.0.self_attn.v_proj"), 16);
  EXPECT_EQ(hit("model.layers.0.self_attn.k_proj"), -1);
}

TEST_F(AdapterConfigTest, ScaleUsesPatternsInFileOrder) {
  // The file lists "q_proj" before "layers\\.1\\..*": a map sorted by key would try the regex
  // first and give r = 2 to layers.1.q_proj; PEFT (and muft) give r = 4.
  const AdapterConfig c = read(R"({"r": 8, "lora_alpha": 16,
      "rank_pattern": {"q_proj": 4, "layers\\.1\\..*": 2}, "alpha_pattern": {"v_proj": 40}})");
  ASSERT_EQ(c.rank_pattern.size(), 2u);
  EXPECT_EQ(c.rank_pattern[0].first, "q_proj");
  EXPECT_DOUBLE_EQ(c.scale_for("model.layers.1.self_attn.q_proj").scale(4), 16.0 / 4);
  EXPECT_DOUBLE_EQ(c.scale_for("model.layers.1.mlp.up_proj").scale(2), 16.0 / 2);
  EXPECT_DOUBLE_EQ(c.scale_for("model.layers.0.self_attn.v_proj").scale(8), 40.0 / 8);
  EXPECT_DOUBLE_EQ(c.scale_for("model.layers.0.self_attn.k_proj").scale(8), 16.0 / 8);
  // The pattern's rank is used, not the factors' inner dimension.
  EXPECT_DOUBLE_EQ(c.scale_for("model.layers.0.self_attn.q_proj").scale(99), 16.0 / 4);

  const AdapterConfig rs = read(R"({"r": 16, "lora_alpha": 8, "use_rslora": true})");
  EXPECT_DOUBLE_EQ(rs.scale_for("m").scale(16), 8.0 / 4.0);
  EXPECT_DOUBLE_EQ(LoraScale{}.scale(8), 1.0);  // nothing known: s = 1
}

TEST_F(AdapterConfigTest, AdaLoraScaleIsAlphaOverRanknum) {
  // AdaLoRA's rank_pattern holds keep-masks (lists of booleans): not an error, not a rank.
  const AdapterConfig c = read(R"({"peft_type": "ADALORA", "r": 8, "init_r": 12,
      "target_r": 4, "lora_alpha": 32,
      "rank_pattern": {"base_model.model.q.lora_E": [true, false, true]}})");
  EXPECT_TRUE(c.is_adalora());
  EXPECT_TRUE(c.rank_pattern.empty());
  const LoraScale s = c.scale_for("q");
  EXPECT_TRUE(s.adalora);
  EXPECT_DOUBLE_EQ(s.scale(2), 32.0 / (12.0 + 1e-5));  // ranknum = init_r, not the pruned rank
  const AdapterConfig z = read(R"({"peft_type": "ADALORA", "init_r": 6, "lora_alpha": 0})");
  EXPECT_DOUBLE_EQ(z.scale_for("q").scale(6), 6.0 / (6.0 + 1e-5));  // alpha <= 0: alpha = r
}

TEST_F(AdapterConfigTest, TargetModulesAsPeftMatchesThem) {
  ModuleSelector list;
  list.present = true;
  list.names = {"q_proj", "layers.1.mlp.up_proj"};
  EXPECT_TRUE(list.matches("q_proj"));
  EXPECT_TRUE(list.matches("model.layers.3.self_attn.q_proj"));
  EXPECT_TRUE(list.matches("model.layers.1.mlp.up_proj"));
  EXPECT_FALSE(list.matches("model.layers.2.mlp.up_proj"));
  EXPECT_FALSE(list.matches("model.layers.3.self_attn.xq_proj"));
  ModuleSelector re;
  re.present = true;
  re.is_regex = true;
  re.regex = ".*\\.(q|v)_proj";  // re.fullmatch
  EXPECT_TRUE(re.matches("model.layers.0.self_attn.v_proj"));
  EXPECT_FALSE(re.matches("model.layers.0.self_attn.v_proj.extra"));
  re.regex = "all-linear";
  EXPECT_TRUE(re.matches("anything.at.all"));

  const AdapterConfig c =
      read(R"({"target_modules": ["q_proj", "v_proj"], "exclude_modules": ["layers.0.q_proj"]})");
  EXPECT_TRUE(c.targets("layers.1.q_proj"));
  EXPECT_FALSE(c.targets("layers.0.q_proj"));
  EXPECT_FALSE(c.targets("layers.1.k_proj"));
}

TEST_F(AdapterConfigTest, WarnsAboutInitializationsThatChangeTheBase) {
  for (const char* init : {"pissa", "pissa_niter_4", "olora", "corda", "PiSSA"}) {
    const AdapterConfig c =
        read(std::string(R"({"r": 4, "init_lora_weights": ")") + init + R"("})");
    EXPECT_NE(c.base_change_warning().find("W0 - s*B0*A0"), std::string::npos) << init;
    EXPECT_NE(c.base_change_warning().find("path_initial_model_for_weight_conversion"),
              std::string::npos);
  }
  EXPECT_NE(read(R"({"init_lora_weights": "loftq"})").base_change_warning().find("quantized"),
            std::string::npos);
  // PEFT's conversion rewrites init_lora_weights to true: no warning then.
  for (const char* init : {"true", "false", "\"gaussian\"", "\"eva\"", "\"orthogonal\""}) {
    const AdapterConfig c = read(std::string(R"({"init_lora_weights": )") + init + "}");
    EXPECT_EQ(c.base_change_warning(), "") << init;
  }
}

TEST_F(AdapterConfigTest, NamesPeftTypesItDoesNotMerge) {
  EXPECT_NE(read(R"({"peft_type": "IA3"})").unsupported_type_note().find("peft_type IA3"),
            std::string::npos);
  EXPECT_EQ(read(R"({"peft_type": "ADALORA"})").unsupported_type_note(), "");
  EXPECT_EQ(read(R"({"r": 2})").unsupported_type_note(), "");
}

TEST_F(AdapterConfigTest, RefusesBadFiles) {
  expect_refused("{not json", "not valid JSON");
  expect_refused("[1, 2]", "not a JSON object");
  expect_refused(R"({"r": "8"})", "'r' must be a number");
  expect_refused(R"({"lora_alpha": true})", "'lora_alpha' must be a number");
  expect_refused(R"({"use_rslora": 1})", "'use_rslora' must be true or false");
  expect_refused(R"({"rank_pattern": {"q": "4"}})", "rank_pattern entry 'q' must be a number");
  expect_refused(R"({"rank_pattern": [4]})", "'rank_pattern' must be an object");
  expect_refused(R"({"alpha_pattern": {"q(": 4}})", "is not a valid regular expression");
  expect_refused(R"({"target_modules": "q_proj["})", "is not a valid regular expression");
  expect_refused(R"({"target_modules": [1]})", "'target_modules' must be a regex string");
  expect_refused(R"({"init_lora_weights": 3})", "'init_lora_weights' must be");
  expect_refused(R"({"peft_type": 3})", "'peft_type' must be a string");
}

}  // namespace
}  // namespace muft::analysis
