// Tests of LoRA layers and apply/merge/unmerge (lib/train/src/lora.cpp).
#include "muft/train/lora.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

#include "muft/train/gpt.h"
#include "muft/train/optim.h"
#include "muft/train/param_groups.h"

#include "test_util.h"

namespace muft::train {
namespace {

using test_support::micro_config;

GPT random_model(int64_t seed) {
  torch::manual_seed(seed);
  GPT model(micro_config());
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.uniform_(-0.5, 0.5);
  return model;
}

std::map<std::string, torch::Tensor> snapshot(const torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m.named_parameters()) out[p.key()] = p.value().detach().clone();
  return out;
}

// A few training steps on a fixed batch with the given optimizer over the trainable parameters.
void train_steps(GPT& model, OptimizerChoice choice, int steps, double lr) {
  ParamGroupOptions o;
  o.optimizer = choice;
  o.set_single_lr(lr);
  o.muon.ns.bf16 = false;
  Optimizer opt(build_param_groups(*model, o));
  torch::manual_seed(5);
  auto idx = torch::randint(0, 32, {4, 16}, torch::kInt64);
  auto tgt = torch::randint(0, 32, {4, 16}, torch::kInt64);
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    model->loss(idx, tgt).backward();
    opt.step();
  }
}

TEST(LoRAOptionsTest, ScaleAndValidation) {
  LoRAOptions o;
  EXPECT_DOUBLE_EQ(o.scale(), 2.0);  // α/r = 16/8
  o.scaling = LoRAScaling::kAlphaOverSqrtR;
  EXPECT_DOUBLE_EQ(o.scale(), 16.0 / std::sqrt(8.0));
  std::string error;
  EXPECT_TRUE(o.IsValid(&error)) << error;
  o.rank = 0;
  EXPECT_FALSE(o.IsValid(&error));
  o = LoRAOptions{};
  o.targets = {"c_q("};
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_NE(error.find("regular expression"), std::string::npos);
  EXPECT_EQ(parse_lora_scaling("alpha_over_sqrt_r"), LoRAScaling::kAlphaOverSqrtR);
  EXPECT_EQ(parse_lora_init("pissa"), LoRAInit::kPiSSA);
  EXPECT_THROW(parse_lora_init("gaussian"), std::invalid_argument);
}

TEST(LoRATest, AdapterNamesShapesAndTrainableSet) {
  GPT model = random_model(1);
  LoRAOptions o;
  o.rank = 4;
  const auto adapted = apply_lora(*model, o);
  EXPECT_EQ(adapted.size(), 12u);  // 6 projections × 2 layers
  EXPECT_EQ(adapted.front(), "transformer.h.0.attn.c_q");
  std::map<std::string, std::vector<int64_t>> trainable;
  for (const auto& p : model->named_parameters())
    if (p.value().requires_grad()) trainable[p.key()] = p.value().sizes().vec();
  EXPECT_EQ(trainable.size(), 24u);
  EXPECT_EQ(trainable.at("transformer.h.0.attn.c_q.lora_A"), (std::vector<int64_t>{4, 16}));
  EXPECT_EQ(trainable.at("transformer.h.0.attn.c_q.lora_B"), (std::vector<int64_t>{16, 4}));
  EXPECT_EQ(trainable.at("transformer.h.1.mlp.c_fc.lora_B"), (std::vector<int64_t>{64, 4}));
  EXPECT_EQ(trainable.at("transformer.h.1.mlp.c_proj.lora_A"), (std::vector<int64_t>{4, 64}));
  for (const auto& [name, shape] : trainable) EXPECT_TRUE(is_lora_parameter_name(name)) << name;
  // Kaiming-uniform A within ±1/√in, B exactly zero.
  auto& q = model->transformer->h[0]->as<BlockImpl>()->attn->c_q;
  EXPECT_LE(q->lora_A.abs().max().item<double>(), 1.0 / std::sqrt(16.0));
  EXPECT_GT(q->lora_A.abs().max().item<double>(), 0.5 / std::sqrt(16.0));
  EXPECT_EQ(q->lora_B.abs().max().item<double>(), 0.0);
}

TEST(LoRATest, TargetsSelectLayersAndErrorsAreClear) {
  GPT model = random_model(2);
  LoRAOptions o;
  o.targets = {R"(\.attn\.c_v$)"};
  EXPECT_EQ(apply_lora(*model, o).size(), 2u);
  EXPECT_THROW(apply_lora(*model, o), std::invalid_argument);  // already attached

  GPT other = random_model(2);
  o.targets = {"no_such_layer"};
  EXPECT_THROW(apply_lora(*other, o), std::invalid_argument);
  o = LoRAOptions{};
  o.rank = 17;  // > min(16, 16)
  EXPECT_THROW(apply_lora(*other, o), std::invalid_argument);
}

TEST(LoRATest, AtInitReproducesTheBaseModelExactly) {
  GPT model = random_model(3);
  auto idx = torch::randint(0, 32, {2, 16}, torch::kInt64);
  auto before = model->forward(idx);
  apply_lora(*model, LoRAOptions{});
  auto after = model->forward(idx);
  EXPECT_TRUE(torch::equal(before, after));  // B = 0 adds exact zeros
}

TEST(LoRATest, FrozenBaseIsBitIdenticalAfterTraining) {
  for (auto choice : {OptimizerChoice::kAdamW, OptimizerChoice::kMuon}) {
    GPT model = random_model(4);
    apply_lora(*model, LoRAOptions{});
    const auto base = snapshot(*model);
    train_steps(model, choice, 4, 0.02);
    int adapters_moved = 0;
    for (const auto& p : model->named_parameters()) {
      if (is_lora_parameter_name(p.key())) {
        adapters_moved += !torch::equal(p.value(), base.at(p.key()));
      } else {
        EXPECT_TRUE(torch::equal(p.value(), base.at(p.key())))
            << p.key() << " changed under " << to_string(choice);
      }
    }
    EXPECT_EQ(adapters_moved, 24) << to_string(choice);
  }
}

TEST(LoRATest, MergedWeightsEqualTheAdapterForwardAndUnmergeRestores) {
  GPT model = random_model(5);
  auto idx = torch::randint(0, 32, {2, 16}, torch::kInt64);
  auto base_logits = model->forward(idx).detach();
  apply_lora(*model, LoRAOptions{});
  train_steps(model, OptimizerChoice::kMuon, 3, 0.05);
  const auto weights = snapshot(*model);
  auto adapter_logits = model->forward(idx).detach();
  // The adapters must matter, or the comparison below proves nothing.
  ASSERT_GT((adapter_logits - base_logits).abs().max().item<double>(), 1e-2);
  merge_lora(*model);
  auto& q = model->transformer->h[0]->as<BlockImpl>()->attn->c_q;
  EXPECT_TRUE(q->merged());
  auto merged_logits = model->forward(idx).detach();
  const double diff = (merged_logits - adapter_logits).abs().max().item<double>();
  constexpr double kTol = 1e-4;  // float32 rounding of W0 + s·B·A versus the factored product
  EXPECT_LT(diff, kTol);
  merge_lora(*model);  // idempotent
  EXPECT_LT((model->forward(idx) - adapter_logits).abs().max().item<double>(), kTol);
  unmerge_lora(*model);
  for (const auto& p : model->named_parameters())
    EXPECT_LT((p.value() - weights.at(p.key())).abs().max().item<double>(), 1e-6) << p.key();
  EXPECT_LT((model->forward(idx) - adapter_logits).abs().max().item<double>(), kTol);
}

TEST(LoRATest, PiSSAKeepsOutputsAndMovesPrincipalDirections) {
  GPT model = random_model(6);
  auto idx = torch::randint(0, 32, {2, 16}, torch::kInt64);
  auto before = model->forward(idx).detach();
  auto& fc = model->transformer->h[1]->as<BlockImpl>()->mlp->c_fc;
  auto w_before = fc->weight.detach().clone();
  auto sv = torch::linalg_svdvals(w_before.to(torch::kFloat64));
  LoRAOptions o;
  o.init = LoRAInit::kPiSSA;
  o.rank = 4;
  o.scaling = LoRAScaling::kAlphaOverSqrtR;
  apply_lora(*model, o);
  auto after = model->forward(idx).detach();
  const double diff = (after - before).abs().max().item<double>();
  EXPECT_LT(diff, 1e-4);  // float32 rounding of the residual W0 − s·B·A
  // W0 + s·B·A reproduces W; the residual's top singular value is σ_{r+1} of W.
  auto recon = fc->weight + fc->lora_B.mm(fc->lora_A) * o.scale();
  EXPECT_LT((recon - w_before).abs().max().item<double>(), 1e-5);
  auto res_sv = torch::linalg_svdvals(fc->weight.detach().to(torch::kFloat64));
  EXPECT_NEAR(res_sv[0].item<double>(), sv[4].item<double>(), 1e-4);
  EXPECT_GT(fc->lora_B.abs().max().item<double>(), 0.0);
}

TEST(LoRATest, ParamGroupsPutEveryAdapterUnderTheChosenOptimizer) {
  GPT model = random_model(7);
  apply_lora(*model, LoRAOptions{});
  ParamGroupOptions o;
  o.optimizer = OptimizerChoice::kMuon;
  auto groups = build_param_groups(*model, o);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].name, "lora");
  EXPECT_EQ(groups[0].rule(), UpdateRule::kMuon);
  EXPECT_EQ(groups[0].params.size(), 24u);
  o.optimizer = OptimizerChoice::kAdamW;
  groups = build_param_groups(*model, o);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].rule(), UpdateRule::kAdamW);
}

}  // namespace
}  // namespace muft::train
