/// \file lora_test.cpp
/// LoRA: adapter tensor names and pairing, the scale, the core-matrix merge against the explicit
/// product, and DoRA's merged weight against the formula written out.

#include "muft/analysis/lora.h"

#include <cmath>
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

TEST(LoraTest, ParsesEveryAdapterTensor) {
  std::string module;
  AdapterRole role{};
  bool embedding = false;
  struct Case {
    const char* name;
    const char* module;
    AdapterRole role;
    bool embedding;
  };
  const Case cases[] = {
      {"m.q_proj.lora_A.weight", "m.q_proj", AdapterRole::A, false},
      {"m.q_proj.lora_B", "m.q_proj", AdapterRole::B, false},  // AdaLoRA's ParameterDict
      {"m.q_proj.lora_E", "m.q_proj", AdapterRole::E, false},
      {"m.q_proj.lora_E.default", "m.q_proj", AdapterRole::E, false},
      {"m.q_proj.lora_magnitude_vector", "m.q_proj", AdapterRole::Magnitude, false},
      {"m.q_proj.lora_magnitude_vector.weight", "m.q_proj", AdapterRole::Magnitude, false},
      {"m.q_proj.lora_magnitude_vector.default.weight", "m.q_proj", AdapterRole::Magnitude, false},
      {"m.q_proj.ranknum.default", "m.q_proj", AdapterRole::Ranknum, false},
      {"m.embed_tokens.lora_embedding_A", "m.embed_tokens", AdapterRole::A, true},
      {"m.embed_tokens.lora_embedding_B.default", "m.embed_tokens", AdapterRole::B, true},
  };
  for (const Case& c : cases) {
    ASSERT_TRUE(parse_adapter_name(c.name, &module, &role, &embedding)) << c.name;
    EXPECT_EQ(module, c.module) << c.name;
    EXPECT_EQ(role, c.role) << c.name;
    EXPECT_EQ(embedding, c.embedding) << c.name;
  }
  for (const char* no : {"m.q_proj.weight", "m.q_proj.lora_B.bias", "m.lora_Ex", "lora_A",
                         "m.q_proj.lora_A.a.b", "m.q_proj.lora_A.", "m.ranknumber"}) {
    EXPECT_FALSE(parse_adapter_name(no, &module, &role)) << no;
  }
  char ab = 0;
  EXPECT_FALSE(parse_lora_name("m.q_proj.lora_E", &module, &ab));  // not a factor
  ASSERT_TRUE(parse_lora_name("m.embed_tokens.lora_embedding_B", &module, &ab));
  EXPECT_EQ(ab, 'B');
}

TEST(LoraTest, PairsCollectTheirParts) {
  std::vector<std::string> unpaired;
  const auto pairs =
      find_lora_pairs({"base_model.model.l.q.lora_A", "base_model.model.l.q.lora_B",
                       "base_model.model.l.q.lora_E", "base_model.model.l.q.ranknum",
                       "l.v.lora_A.weight", "l.v.lora_B.weight", "l.v.lora_magnitude_vector",
                       "e.lora_embedding_A", "e.lora_embedding_B", "l.k.lora_magnitude_vector"},
                      &unpaired);
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(pairs[0].module, "base_model.model.l.q");
  EXPECT_EQ(pairs[0].e_name, "base_model.model.l.q.lora_E");
  EXPECT_EQ(pairs[0].ranknum_name, "base_model.model.l.q.ranknum");
  EXPECT_EQ(pairs[0].base_name, "l.q.weight");
  EXPECT_TRUE(pairs[1].embedding);
  EXPECT_EQ(pairs[2].magnitude_name, "l.v.lora_magnitude_vector");
  EXPECT_TRUE(pairs[2].e_name.empty());
  EXPECT_EQ(unpaired, std::vector<std::string>{"l.k.lora_magnitude_vector"});
}

TEST(LoraTest, AdaLoraScale) {
  LoraScale s;
  s.alpha = 32;
  s.rank = 12;
  s.adalora = true;
  EXPECT_DOUBLE_EQ(s.scale(3), 32 / 12.00001);  // PEFT: alpha / (ranknum + 1e-5)
  s.rank = NAN;
  EXPECT_DOUBLE_EQ(s.scale(3), 32 / 3.00001);
}

/// Row i of W' = m_i · V_i / ‖V_i‖, written out entry by entry (the test's own implementation).
RowMatrixXd dora_by_rows(const RowMatrixXd& V, const Eigen::VectorXd& m) {
  RowMatrixXd out = V;
  for (Eigen::Index i = 0; i < V.rows(); ++i) {
    double ss = 0;
    for (Eigen::Index j = 0; j < V.cols(); ++j) ss += V(i, j) * V(i, j);
    for (Eigen::Index j = 0; j < V.cols(); ++j) out(i, j) = m[i] * V(i, j) / std::sqrt(ss);
  }
  return out;
}

TEST(LoraTest, DoraRescalesEachOutputFeature12x9Rank3) {
  const Eigen::MatrixXd B = gaussian(12, 3, 11), A = gaussian(3, 9, 12);
  const RowMatrixXd W0 = gaussian(12, 9, 13);
  Eigen::VectorXd m = gaussian(12, 1, 14).cwiseAbs();
  const double s = 0.5;
  const RowMatrixXd V = W0 + s * B * A;
  const RowMatrixXd got = dora_merge(W0, B, A, s, m, /*outputs_are_rows=*/true);
  const RowMatrixXd want = dora_by_rows(V, m);
  EXPECT_LE((got - want).cwiseAbs().maxCoeff(), 1e-14 * want.cwiseAbs().maxCoeff());
  // Each output row of the merged weight has norm m_i: DoRA's magnitude is the row norm.
  for (Eigen::Index i = 0; i < got.rows(); ++i) expect_rel(got.row(i).norm(), m[i], 1e-14, "norm");
  // Stored transposed ([in, out]): the norms run over columns, i.e. the transpose of the above.
  const RowMatrixXd W0t = W0.transpose();
  const Eigen::MatrixXd Bt = A.transpose(), At = B.transpose();
  const RowMatrixXd got_t = dora_merge(W0t, Bt, At, s, m, /*outputs_are_rows=*/false);
  EXPECT_LE((got_t - want.transpose()).cwiseAbs().maxCoeff(), 1e-14 * want.cwiseAbs().maxCoeff());
  // Untrained DoRA (B = 0, m = ‖W0ᵢ‖): the merged weight is W0.
  const Eigen::VectorXd m0 = W0.rowwise().norm();
  const RowMatrixXd same = dora_merge(W0, Eigen::MatrixXd::Zero(12, 3), A, s, m0, true);
  EXPECT_LE((same - W0).cwiseAbs().maxCoeff(), 1e-15 * W0.cwiseAbs().maxCoeff());
  EXPECT_THROW(dora_merge(W0, B, A, s, Eigen::VectorXd::Ones(9), true), std::invalid_argument);
  EXPECT_THROW(dora_merge(W0, B, gaussian(3, 8, 1), s, m, true), std::invalid_argument);
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
