// Tests of the NanoChat-style GPT (lib/train/src/gpt.cpp).
#include "muft/train/gpt.h"

#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>

namespace muft::train {
namespace {

using test_support::micro_config;

// Replaces every parameter by U(−0.5, 0.5) so that zero-initialized projections
// do not hide bugs in attention or the MLP.
void randomize(torch::nn::Module& m, int64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto& p : m.parameters()) p.uniform_(-0.5, 0.5);
}

TEST(GPTConfigTest, DefaultIsTheValidTinyModel) {
  const GPTConfig c = tiny_config();
  std::string error;
  EXPECT_TRUE(c.IsValid(&error)) << error;
  EXPECT_EQ(c.n_layer, 4);
  EXPECT_EQ(c.n_embd, 128);
  EXPECT_EQ(c.vocab_size, 260);
  EXPECT_EQ(c.head_dim(), 32);
}

TEST(GPTConfigTest, RejectsInconsistentShapes) {
  std::string error;
  GPTConfig c = micro_config();
  c.n_head = 3;  // 16 % 3 != 0
  EXPECT_FALSE(c.IsValid(&error));
  EXPECT_NE(error.find("divisible"), std::string::npos) << error;
  c = micro_config();
  c.n_head = 16;  // head_dim 1 is odd
  EXPECT_FALSE(c.IsValid(&error));
  EXPECT_NE(error.find("even"), std::string::npos) << error;
  c = micro_config();
  c.n_layer = 0;
  EXPECT_FALSE(c.IsValid(&error));
  EXPECT_THROW(GPT{c}, std::invalid_argument);
}

TEST(GPTConfigTest, JsonRoundTripAndStrictParsing) {
  GPTConfig c = micro_config();
  c.rope_base = 500.0;
  c.logit_softcap = 0.0;
  const GPTConfig back = GPTConfig::from_json(c.to_json());
  EXPECT_EQ(back.to_json(), c.to_json());
  EXPECT_EQ(back.n_embd, 16);
  EXPECT_DOUBLE_EQ(back.rope_base, 500.0);

  auto j = c.to_json();
  j["n_embed"] = 8;  // typo: unknown key
  EXPECT_THROW(GPTConfig::from_json(j), std::invalid_argument);
  j = c.to_json();
  j["n_layer"] = "four";
  EXPECT_THROW(GPTConfig::from_json(j), std::invalid_argument);
  j = c.to_json();
  j["n_head"] = 3;
  EXPECT_THROW(GPTConfig::from_json(j), std::invalid_argument);
}

TEST(GPTTest, ParameterNamesAndShapesFollowNanoChat) {
  const GPTConfig c = micro_config();
  GPT model(c);
  std::map<std::string, std::vector<int64_t>> got;
  for (const auto& p : model->named_parameters()) got[p.key()] = p.value().sizes().vec();
  std::map<std::string, std::vector<int64_t>> want = {
      {"transformer.wte.weight", {32, 16}},
      {"lm_head.weight", {32, 16}},
  };
  for (int i = 0; i < 2; ++i) {
    const std::string b = "transformer.h." + std::to_string(i) + ".";
    want[b + "attn.c_q.weight"] = {16, 16};
    want[b + "attn.c_k.weight"] = {16, 16};
    want[b + "attn.c_v.weight"] = {16, 16};
    want[b + "attn.c_proj.weight"] = {16, 16};
    want[b + "mlp.c_fc.weight"] = {64, 16};
    want[b + "mlp.c_proj.weight"] = {16, 64};
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(model->num_parameters(), 2 * 32 * 16 + 2 * (4 * 16 * 16 + 2 * 64 * 16));
  EXPECT_EQ(model->named_buffers().size(), 0u);
}

TEST(GPTTest, InitZeroesOutputProjectionsAndGivesUniformPredictions) {
  torch::manual_seed(1);
  GPT model(micro_config());
  for (const auto& p : model->named_parameters()) {
    if (p.key().find("c_proj") != std::string::npos) {
      EXPECT_EQ(p.value().abs().max().item<float>(), 0.0f) << p.key();
    }
  }
  EXPECT_NEAR(model->transformer->wte->weight.std().item<double>(), 1.0, 0.1);
  EXPECT_NEAR(model->lm_head->weight.std().item<double>(), 0.001, 2e-4);
  // Head std 0.001 on unit-RMS features: logits ~1e-3, so the loss is log V to ~1e-3.
  auto idx = torch::randint(0, 32, {3, 16}, torch::kInt64);
  const double loss = model->loss(idx, idx).item<double>();
  EXPECT_NEAR(loss, std::log(32.0), 5e-3);
}

TEST(GPTTest, RmsNormMatchesHandComputedValues) {
  auto x = torch::tensor({3.0f, 4.0f}).view({1, 2});
  auto y = rms_norm(x, 0.0);
  const double rms = std::sqrt(12.5);
  EXPECT_NEAR(y[0][0].item<double>(), 3.0 / rms, 1e-6);
  EXPECT_NEAR(y[0][1].item<double>(), 4.0 / rms, 1e-6);
}

TEST(GPTTest, ForwardIsCausal) {
  GPT model(micro_config());
  randomize(*model, 7);
  torch::manual_seed(3);
  auto idx = torch::randint(0, 32, {2, 12}, torch::kInt64);
  auto logits = model->forward(idx);
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{2, 12, 32}));
  auto changed = idx.clone();
  changed[0][8] = (changed[0][8].item<int64_t>() + 1) % 32;
  auto logits2 = model->forward(changed);
  // Positions before 8 cannot see token 8; positions from 8 on must change.
  EXPECT_TRUE(torch::equal(logits.slice(1, 0, 8), logits2.slice(1, 0, 8)));
  EXPECT_GT((logits[0].slice(0, 8) - logits2[0].slice(0, 8)).abs().max().item<double>(), 1e-4);
  EXPECT_TRUE(torch::equal(logits[1], logits2[1]));
}

TEST(GPTTest, SoftcapBoundsLogits) {
  GPTConfig c = micro_config();
  c.logit_softcap = 2.0;
  GPT model(c);
  randomize(*model, 9);
  {
    torch::NoGradGuard g;
    model->lm_head->weight.mul_(100.0);
  }
  auto logits = model->forward(torch::randint(0, 32, {1, 16}, torch::kInt64));
  EXPECT_LE(logits.abs().max().item<double>(), 2.0);
  EXPECT_GT(logits.abs().max().item<double>(), 1.9);
}

TEST(GPTTest, RejectsBadInputs) {
  GPT model(micro_config());
  EXPECT_THROW(model->forward(torch::zeros({1, 4}, torch::kInt32)), std::invalid_argument);
  EXPECT_THROW(model->forward(torch::zeros({4}, torch::kInt64)), std::invalid_argument);
  EXPECT_THROW(model->forward(torch::zeros({1, 17}, torch::kInt64)), std::invalid_argument);
}

TEST(GPTTest, SameSeedGivesSameModel) {
  torch::manual_seed(42);
  GPT a(micro_config());
  torch::manual_seed(42);
  GPT b(micro_config());
  auto pa = a->parameters();
  auto pb = b->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i]));
}

TEST(GPTTest, LossIgnoresTargetsOfMinusOne) {
  GPT model(micro_config());
  randomize(*model, 11);
  auto idx = torch::randint(0, 32, {2, 8}, torch::kInt64);
  auto targets = torch::randint(0, 32, {2, 8}, torch::kInt64);
  auto masked = targets.clone();
  masked.slice(1, 4).fill_(-1);
  auto logits = model->forward(idx);
  const double full_first_half =
      lm_cross_entropy(logits.slice(1, 0, 4), targets.slice(1, 0, 4)).item<double>();
  EXPECT_NEAR(model->loss(idx, masked).item<double>(), full_first_half, 1e-6);
}

}  // namespace
}  // namespace muft::train
