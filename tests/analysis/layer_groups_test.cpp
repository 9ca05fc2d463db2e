/// \file layer_groups_test.cpp
/// Default layer-group rules on NanoChat/muft and Hugging Face names; custom rules.

#include "muft/analysis/layer_groups.h"

#include <gtest/gtest.h>

namespace muft::analysis {
namespace {

TEST(LayerGroupsTest, DefaultsOnMuftNames) {
  const LayerGroups g = LayerGroups::defaults();
  EXPECT_EQ(g.classify("blocks.0.attn.c_q.weight"), "Q");
  EXPECT_EQ(g.classify("transformer.h.3.attn.c_k.weight"), "K");
  EXPECT_EQ(g.classify("blocks.11.attn.c_v.weight"), "V");
  EXPECT_EQ(g.classify("blocks.0.attn.c_proj.weight"), "O");
  EXPECT_EQ(g.classify("blocks.0.mlp.c_fc.weight"), "MLP-up");
  EXPECT_EQ(g.classify("blocks.0.mlp.c_proj.weight"), "MLP-down");
  EXPECT_EQ(g.classify("wte.weight"), "embedding");
  EXPECT_EQ(g.classify("transformer.wte.weight"), "embedding");
  EXPECT_EQ(g.classify("lm_head.weight"), "head");
  EXPECT_EQ(g.classify("blocks.0.attn.c_q.lora_A"), "Q.lora_A");
  EXPECT_EQ(g.classify("blocks.0.mlp.c_fc.lora_B"), "MLP-up.lora_B");
  EXPECT_EQ(g.classify("blocks.0.ln_1.weight"), "other");
}

TEST(LayerGroupsTest, DefaultsOnHuggingFaceNames) {
  const LayerGroups g = LayerGroups::defaults();
  EXPECT_EQ(g.classify("model.layers.0.self_attn.q_proj.weight"), "Q");
  EXPECT_EQ(g.classify("model.layers.0.self_attn.k_proj.weight"), "K");
  EXPECT_EQ(g.classify("model.layers.0.self_attn.v_proj.weight"), "V");
  EXPECT_EQ(g.classify("model.layers.0.self_attn.o_proj.weight"), "O");
  EXPECT_EQ(g.classify("model.layers.0.mlp.up_proj.weight"), "MLP-up");
  EXPECT_EQ(g.classify("model.layers.0.mlp.gate_proj.weight"), "MLP-up");
  EXPECT_EQ(g.classify("model.layers.0.mlp.down_proj.weight"), "MLP-down");
  EXPECT_EQ(g.classify("model.embed_tokens.weight"), "embedding");
  EXPECT_EQ(g.classify("tok_embeddings.weight"), "embedding");
  EXPECT_EQ(g.classify("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"),
            "Q.lora_A");
}

TEST(LayerGroupsTest, DefaultsOnGgufNames) {
  const LayerGroups g = LayerGroups::defaults();
  EXPECT_EQ(g.classify("blk.0.attn_q.weight"), "Q");
  EXPECT_EQ(g.classify("blk.12.attn_k.weight"), "K");
  EXPECT_EQ(g.classify("blk.0.attn_v.weight"), "V");
  EXPECT_EQ(g.classify("blk.0.attn_output.weight"), "O");
  EXPECT_EQ(g.classify("blk.0.ffn_up.weight"), "MLP-up");
  EXPECT_EQ(g.classify("blk.0.ffn_gate.weight"), "MLP-up");
  EXPECT_EQ(g.classify("blk.0.ffn_gate_exps.weight"), "MLP-up");
  EXPECT_EQ(g.classify("blk.0.ffn_down.weight"), "MLP-down");
  EXPECT_EQ(g.classify("token_embd.weight"), "embedding");
  EXPECT_EQ(g.classify("output.weight"), "head");
  EXPECT_EQ(g.classify("blk.0.attn_qkv.weight"), "other");  // fused: no single group
  EXPECT_EQ(g.classify("blk.0.attn_norm.weight"), "other");
  EXPECT_EQ(g.classify("output_norm.weight"), "other");
}

TEST(LayerGroupsTest, CustomRulesFirstMatchWins) {
  LayerGroups g;
  g.add_rule("attn=attn\\.");
  g.add_rule("q=c_q");
  EXPECT_EQ(g.classify("blocks.0.attn.c_q.weight"), "attn");
  EXPECT_EQ(g.classify("c_q"), "q");
  EXPECT_EQ(g.classify("mlp"), "other");
  EXPECT_EQ(g.rules().size(), 2u);
  EXPECT_THROW(g.add_rule("noequals"), std::invalid_argument);
  EXPECT_THROW(g.add_rule("bad=("), std::invalid_argument);
}

}  // namespace
}  // namespace muft::analysis
