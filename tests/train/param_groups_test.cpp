// Tests of the hybrid parameter groups (lib/train/src/param_groups.cpp).
#include "muft/train/param_groups.h"

#include <gtest/gtest.h>

#include <cmath>

#include "muft/train/gpt.h"

#include "test_util.h"

namespace muft::train {
namespace {

using test_support::micro_config;

const ParamGroup& find(const std::vector<ParamGroup>& gs, const std::string& name) {
  for (const auto& g : gs)
    if (g.name == name) return g;
  throw std::runtime_error("no group " + name);
}

TEST(ParamGroupsTest, WidthFactor) {
  EXPECT_DOUBLE_EQ(width_lr_factor(768), 1.0);
  EXPECT_NEAR(width_lr_factor(1536), 1.0 / std::sqrt(2.0), 1e-15);
  EXPECT_DOUBLE_EQ(width_lr_factor(192), 2.0);
  EXPECT_DOUBLE_EQ(width_lr_factor(0), 1.0);
  // The paper's NanoChat rates at d = 1536: 0.2 → ≈0.14, 0.004 → ≈0.003 (App. C).
  EXPECT_NEAR(0.2 * width_lr_factor(1536), 0.1414, 1e-4);
  EXPECT_NEAR(0.004 * width_lr_factor(1536), 0.00283, 1e-5);
}

TEST(ParamGroupsTest, MuonForHiddenMatricesAdamWForEmbeddingAndHead) {
  GPT model(micro_config());
  ParamGroupOptions o;
  o.optimizer = OptimizerChoice::kMuonPE;
  o.model_dim = 192;  // factor 2
  auto gs = build_param_groups(*model, o);
  ASSERT_EQ(gs.size(), 3u);
  const auto& matrix = find(gs, "matrix");
  EXPECT_EQ(matrix.rule(), UpdateRule::kMuon);
  EXPECT_EQ(matrix.params.size(), 12u);
  EXPECT_EQ(matrix.muon().lr, 0.02);
  EXPECT_EQ(matrix.muon().ns.coefficients, NSCoefficients::kPolarExpress);
  for (const auto& n : matrix.names) EXPECT_EQ(n.rfind("transformer.h.", 0), 0u) << n;
  const auto& emb = find(gs, "embedding");
  EXPECT_EQ(emb.rule(), UpdateRule::kAdamW);
  ASSERT_EQ(emb.names, std::vector<std::string>{"transformer.wte.weight"});
  EXPECT_DOUBLE_EQ(emb.adamw().lr, 0.4);
  EXPECT_EQ(emb.adamw().beta1, 0.8);
  EXPECT_EQ(emb.adamw().beta2, 0.95);
  const auto& head = find(gs, "head");
  ASSERT_EQ(head.names, std::vector<std::string>{"lm_head.weight"});
  EXPECT_DOUBLE_EQ(head.adamw().lr, 0.008);
  // Every trainable parameter is in exactly one group (the optimizer checks duplicates).
  EXPECT_NO_THROW(Optimizer{gs});
}

TEST(ParamGroupsTest, AdamChoiceAndSingleSweptRate) {
  GPT model(micro_config());
  ParamGroupOptions o;
  o.optimizer = OptimizerChoice::kAdamW;
  o.model_dim = 768;
  o.set_single_lr(0.03);
  auto gs = build_param_groups(*model, o);
  const auto& matrix = find(gs, "matrix");
  EXPECT_EQ(matrix.rule(), UpdateRule::kAdamW);
  EXPECT_EQ(matrix.adamw().lr, 0.03);
  EXPECT_EQ(matrix.adamw().beta2, 0.999);
  EXPECT_EQ(find(gs, "embedding").adamw().lr, 0.03);
  EXPECT_EQ(find(gs, "head").adamw().lr, 0.03);
}

TEST(ParamGroupsTest, FrozenParametersAreLeftOutAndScalarsGoToAdamW) {
  // A module with a 1-D parameter and a frozen matrix.
  struct Toy : torch::nn::Module {
    Toy() {
      w = register_parameter("w", torch::ones({3, 4}));
      bias = register_parameter("bias", torch::ones({4}));
      frozen = register_parameter("frozen", torch::ones({4, 4}), /*requires_grad=*/false);
    }
    torch::Tensor w, bias, frozen;
  } toy;
  ParamGroupOptions o;
  auto gs = build_param_groups(toy, o);
  ASSERT_EQ(gs.size(), 2u);
  EXPECT_EQ(find(gs, "matrix").names, std::vector<std::string>{"w"});
  EXPECT_EQ(find(gs, "scalar").names, std::vector<std::string>{"bias"});
  EXPECT_EQ(find(gs, "scalar").rule(), UpdateRule::kAdamW);
  toy.w.set_requires_grad(false);
  toy.bias.set_requires_grad(false);
  EXPECT_THROW(build_param_groups(toy, o), std::invalid_argument);
}

TEST(ParamGroupsTest, ParsingAndValidation) {
  EXPECT_EQ(parse_optimizer_choice("adam"), OptimizerChoice::kAdamW);
  EXPECT_EQ(parse_optimizer_choice("muon-pe"), OptimizerChoice::kMuonPE);
  EXPECT_THROW(parse_optimizer_choice("sgd"), std::invalid_argument);
  ParamGroupOptions o;
  o.matrix_lr = -1;
  std::string error;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace muft::train
