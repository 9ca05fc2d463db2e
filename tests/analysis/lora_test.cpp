/// \file lora_test.cpp
/// LoRA: name pairing, adapter_config.json, and the core-matrix merge against the explicit product.

#include "muft/analysis/lora.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

namespace muft::analysis {
namespace {

constexpr double kTol = 1e-10;  // double, r = 4, sizes <= 70

Eigen::MatrixXd gaussian(int rows, int cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0, 1);
  Eigen::MatrixXd M(rows, cols);
  for (Eigen::Index j = 0; j < M.cols(); ++j)
    for (Eigen::Index i = 0; i < M.rows(); ++i) M(i, j) = g(rng);
  return M;
}

void expect_rel(double got, double want, double tol, const char* what) {
  EXPECT_LE(std::fabs(got - want), tol * std::fabs(want)) << what << ": " << got << " vs " << want;
}

TEST(LoraTest, ParsesMuftAndPeftNames) {
  std::string module;
  char role = 0;
  ASSERT_TRUE(parse_lora_name("blocks.0.attn.c_q.lora_A", &module, &role));
  EXPECT_EQ(module, "blocks.0.attn.c_q");
  EXPECT_EQ(role, 'A');
  ASSERT_TRUE(parse_lora_name("base_model.model.model.layers.3.self_attn.v_proj.lora_B.weight",
                              &module, &role));
  EXPECT_EQ(module, "base_model.model.model.layers.3.self_attn.v_proj");
  EXPECT_EQ(role, 'B');
  ASSERT_TRUE(parse_lora_name("x.q_proj.lora_A.default.weight", &module, &role));
  EXPECT_EQ(module, "x.q_proj");
  EXPECT_FALSE(parse_lora_name("blocks.0.attn.c_q.weight", &module, &role));
  EXPECT_FALSE(parse_lora_name("x.lora_A.bias", &module, &role));
  EXPECT_FALSE(parse_lora_name("x.lora_Aweight", &module, &role));
}

TEST(LoraTest, FindsPairsAndBaseNames) {
  std::vector<std::string> unpaired;
  const auto pairs = find_lora_pairs(
      {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
       "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", "blocks.1.attn.c_v.lora_A",
       "blocks.1.attn.c_v.lora_B", "blocks.2.mlp.c_fc.lora_A", "blocks.0.attn.c_q.weight"},
      &unpaired);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].base_name, "model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(pairs[1].module, "blocks.1.attn.c_v");
  EXPECT_EQ(pairs[1].base_name, "blocks.1.attn.c_v.weight");
  EXPECT_EQ(pairs[1].a_name, "blocks.1.attn.c_v.lora_A");
  ASSERT_EQ(unpaired.size(), 1u);
  EXPECT_EQ(unpaired[0], "blocks.2.mlp.c_fc.lora_A");
}

TEST(LoraTest, ScaleFromConfig) {
  const std::string path = ::testing::TempDir() + "/adapter_config_test.json";
  {
    std::ofstream f(path);
    f << R"({"r": 8, "lora_alpha": 16, "use_rslora": false, "target_modules": ["q_proj"]})";
  }
  const auto s = read_adapter_config(path);
  ASSERT_TRUE(s.has_value());
  EXPECT_DOUBLE_EQ(s->scale(8), 2.0);
  LoraScale rs = *s;
  rs.rslora = true;
  EXPECT_DOUBLE_EQ(rs.scale(8), 16.0 / std::sqrt(8.0));
  EXPECT_DOUBLE_EQ(LoraScale{}.scale(8), 1.0);
  EXPECT_FALSE(read_adapter_config(path + ".missing").has_value());
  {
    std::ofstream f(path);
    f << "{not json";
  }
  EXPECT_THROW(read_adapter_config(path), std::runtime_error);
  std::remove(path.c_str());
}

TEST(LoraTest, MergedMetricsEqualExplicitProduct50x70Rank4) {
  const Eigen::MatrixXd B = gaussian(50, 4, 1), A = gaussian(4, 70, 2);
  const double s = 0.75;
  MetricOptions opts;
  opts.method = SvdMethod::Exact;
  opts.keep_spectrum = true;
  const MatrixMetrics got = lora_delta_metrics(B, A, s, opts);
  const MatrixMetrics want = compute_metrics(s * B * A, opts);
  EXPECT_EQ(got.rows, 50);
  EXPECT_EQ(got.cols, 70);
  expect_rel(got.frobenius_norm, want.frobenius_norm, kTol, "frobenius");
  expect_rel(got.spectral_norm, want.spectral_norm, kTol, "sigma1");
  expect_rel(got.nuclear_norm, want.nuclear_norm, kTol, "nuclear");
  expect_rel(got.stable_rank, want.stable_rank, kTol, "stable rank");
  expect_rel(got.svd_entropy, want.svd_entropy, kTol, "entropy");
  expect_rel(got.effective_rank, want.effective_rank, 1e-8, "effective rank");  // σ₅.. ≈ 1e-15
  expect_rel(got.max_abs, want.max_abs, kTol, "max_abs");
  EXPECT_EQ(got.numerical_rank, 4);
  EXPECT_EQ(want.numerical_rank, 4);
}

TEST(LoraTest, DiffEqualsDenseDiff) {
  const Eigen::MatrixXd B = gaussian(40, 3, 3), A = gaussian(3, 30, 4), W0 = gaussian(40, 30, 5);
  const double s = 2.0;
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const RowMajor w0 = W0, w = W0 + s * B * A;
  MetricOptions opts;
  opts.method = SvdMethod::Exact;
  const DiffMetrics got = lora_diff(w0.data(), B, A, s, opts);
  const DiffMetrics want = compute_diff(w.data(), w0.data(), 40, 30, opts);
  expect_rel(got.l2_distance, want.l2_distance, kTol, "l2");
  expect_rel(got.relative_distance, want.relative_distance, kTol, "relative");
  expect_rel(got.cosine_distance, want.cosine_distance, 1e-9, "cosine");
  expect_rel(got.norm, want.norm, kTol, "norm");
  expect_rel(got.delta.stable_rank, want.delta.stable_rank, kTol, "dW stable rank");
  expect_rel(got.delta.svd_entropy, want.delta.svd_entropy, kTol, "dW entropy");
}

TEST(LoraTest, ZeroBAndBadShapes) {
  const Eigen::MatrixXd B = Eigen::MatrixXd::Zero(10, 2), A = gaussian(2, 8, 6);
  const MatrixMetrics m = lora_delta_metrics(B, A, 1.0, MetricOptions{});
  EXPECT_EQ(m.status, MetricStatus::Zero);  // freshly initialized LoRA: B = 0
  EXPECT_EQ(m.frobenius_norm, 0);
  EXPECT_THROW(lora_delta_metrics(gaussian(10, 3, 7), A, 1.0, MetricOptions{}),
               std::invalid_argument);
}

}  // namespace
}  // namespace muft::analysis
