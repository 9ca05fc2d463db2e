/// \file plan_adapter_test.cpp
/// The batch runner on PEFT adapters written by muft::checkpoint with an adapter_config.json:
/// DoRA (diff, and spectra without a base), AdaLoRA, fan_in_fan_out on a square weight, the
/// warnings and notes of the reason column, and diff --intruders on matrices and adapters.
/// Every merged ΔW is checked against a dense merge written out here.

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include <gtest/gtest.h>
#include <Eigen/QR>

#include "muft/analysis/batch.h"
#include "muft/checkpoint/safetensors.h"

namespace muft::analysis {
namespace {

namespace fs = std::filesystem;
namespace ck = muft::checkpoint;
using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

RowMajor gaussian(int rows, int cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0, 1);
  RowMajor m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = g(rng);
  return m;
}

ck::NamedTensor tensor(const std::string& name, const RowMajor& m) {
  return ck::make_tensor(name, {m.rows(), m.cols()}, ck::DType::F64,
                         std::vector<double>(m.data(), m.data() + m.size()));
}

ck::NamedTensor vec(const std::string& name, const Eigen::VectorXd& v) {
  return ck::make_tensor(name, {v.size()}, ck::DType::F64,
                         std::vector<double>(v.data(), v.data() + v.size()));
}

constexpr double kTol = 1e-10;  // double throughout, matrices <= 16 x 12

class PlanAdapterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("muft_plan_adapter_test_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "adapter");
    q0_ = gaussian(16, 12, 1);  // [out, in]
    c0_ = gaussian(12, 12, 2);  // square: fan_in_fan_out decides the orientation
    ck::write_safetensors(path("base.safetensors"),
                          {tensor("model.layers.0.self_attn.q_proj.weight", q0_),
                           tensor("model.layers.0.attn.c_attn.weight", c0_)});
    opts_.jobs = 2;
    opts_.metrics.method = SvdMethod::Exact;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& rel) const { return (dir_ / rel).string(); }
  void config(const std::string& json) {
    std::ofstream(path("adapter/adapter_config.json")) << json;
  }
  std::map<std::string, Record> diff(const DiffOptions& extra = {}, BatchSummary* out = nullptr) {
    DiffOptions d = extra;
    d.base = path("base.safetensors");
    std::map<std::string, Record> m;
    const BatchSummary s = run_diff({path("adapter/adapter_model.safetensors")}, d, opts_,
                                    [&](const Record& r) { m[r.tensor] = r; });
    if (out) *out = s;
    return m;
  }
  /// The delta row against the dense merge W (row-major, stored orientation) of base W0.
  void expect_delta(const Record& r, const RowMajor& W, const RowMajor& W0) {
    const DiffMetrics want = compute_diff(W.data(), W0.data(), W.rows(), W.cols(), opts_.metrics);
    EXPECT_EQ(r.kind, RecordKind::LoraDelta);
    EXPECT_NEAR(r.diff.l2_distance / want.l2_distance, 1, kTol) << r.tensor;
    EXPECT_NEAR(r.diff.cosine_distance / want.cosine_distance, 1, 1e-8) << r.tensor;
    EXPECT_NEAR(r.metrics.stable_rank / want.delta.stable_rank, 1, kTol) << r.tensor;
    EXPECT_NEAR(r.metrics.svd_entropy / want.delta.svd_entropy, 1, kTol) << r.tensor;
    EXPECT_NEAR(r.metrics.max_abs / want.delta.max_abs, 1, kTol) << r.tensor;
  }

  fs::path dir_;
  RowMajor q0_, c0_;
  BatchOptions opts_;
};

TEST_F(PlanAdapterTest, DoraDiffEqualsDenseMergeAndSpectraNeedsTheBase) {
  const std::string m = "base_model.model.model.layers.0.self_attn.q_proj";
  const RowMajor A = gaussian(3, 12, 3), B = gaussian(16, 3, 4);
  const Eigen::VectorXd mag = (gaussian(16, 1, 5).col(0).array().abs() + 1.0).matrix();
  ck::write_safetensors(path("adapter/adapter_model.safetensors"),
                        {tensor(m + ".lora_A.weight", A), tensor(m + ".lora_B.weight", B),
                         vec(m + ".lora_magnitude_vector", mag)});
  config(R"({"peft_type": "LORA", "r": 3, "lora_alpha": 6, "use_dora": true})");
  // W' = diag(m / ‖(W0 + 2·B·A)ᵢ‖) (W0 + 2·B·A), the norm over each output row.
  RowMajor V = q0_ + 2.0 * B * A;
  for (Eigen::Index i = 0; i < V.rows(); ++i) V.row(i) *= mag[i] / V.row(i).norm();
  BatchSummary s;
  const auto rows = diff({}, &s);
  EXPECT_EQ(s.failed, 0u);
  expect_delta(rows.at(m + ".lora_delta"), V, q0_);
  EXPECT_EQ(rows.at(m + ".lora_delta").metrics.reason, "");
  EXPECT_EQ(rows.at(m + ".lora_delta").base_tensor, "model.layers.0.self_attn.q_proj.weight");
  // The magnitude vector has no row: it is part of the merge.
  EXPECT_EQ(rows.count(m + ".lora_magnitude_vector"), 0u);
  ASSERT_EQ(s.skipped_tensors.size(), 1u);
  EXPECT_NE(s.skipped_tensors[0].reason.find("DoRA magnitude vector"), std::string::npos);

  // spectra: no base, so no ΔW, and the row says why.
  std::vector<Record> recs;
  const BatchSummary ss = run_spectra({path("adapter/adapter_model.safetensors")}, opts_,
                                      [&](const Record& r) { recs.push_back(r); });
  EXPECT_EQ(ss.failed, 1u);
  bool seen = false;
  for (const Record& r : recs) {
    if (r.kind != RecordKind::LoraDelta) continue;
    seen = true;
    EXPECT_TRUE(r.failed());
    EXPECT_NE(r.metrics.reason.find("needs the base weight W0"), std::string::npos);
  }
  EXPECT_TRUE(seen);

  // use_dora without magnitudes: an error row, not a plain-LoRA answer.
  ck::write_safetensors(path("adapter/adapter_model.safetensors"),
                        {tensor(m + ".lora_A.weight", A), tensor(m + ".lora_B.weight", B)});
  const auto no_mag = diff({}, &s);
  EXPECT_TRUE(no_mag.at(m + ".lora_delta").failed());
  EXPECT_NE(no_mag.at(m + ".lora_delta").metrics.reason.find("no lora_magnitude_vector"),
            std::string::npos);
}

TEST_F(PlanAdapterTest, AdaLoraMergesEIntoAWithAlphaOverRanknum) {
  const std::string m = "base_model.model.model.layers.0.self_attn.q_proj";
  const RowMajor A = gaussian(2, 12, 6), B = gaussian(16, 2, 7);
  const Eigen::Vector2d E(0.7, -1.3);
  RowMajor E2(2, 1);
  E2 << E[0], E[1];
  ck::write_safetensors(
      path("adapter/adapter_model.safetensors"),
      {tensor(m + ".lora_A", A), tensor(m + ".lora_B", B), tensor(m + ".lora_E", E2)});
  config(R"({"peft_type": "ADALORA", "r": 8, "init_r": 6, "target_r": 2, "lora_alpha": 12})");
  const double s = 12.0 / (6.0 + 1e-5);  // PEFT: alpha / (ranknum + 1e-5), ranknum = init_r
  const RowMajor W = q0_ + s * B * E.asDiagonal() * A;
  BatchSummary sum;
  const auto rows = diff({}, &sum);
  EXPECT_EQ(sum.failed, 0u);
  expect_delta(rows.at(m + ".lora_delta"), W, q0_);
  EXPECT_EQ(rows.count(m + ".lora_E"), 0u);  // no "not in base" error row for lora_E
}

TEST_F(PlanAdapterTest, FanInFanOutTransposesASquareWeight) {
  const std::string m = "base_model.model.model.layers.0.attn.c_attn";
  const RowMajor A = gaussian(2, 12, 8), B = gaussian(12, 2, 9);
  ck::write_safetensors(path("adapter/adapter_model.safetensors"),
                        {tensor(m + ".lora_A.weight", A), tensor(m + ".lora_B.weight", B)});
  config(R"({"r": 2, "lora_alpha": 2, "fan_in_fan_out": true})");
  // Conv1D stores [in, out]: ΔW = (B·A)ᵀ. The square shape alone cannot tell.
  const RowMajor Wt = c0_ + (B * A).transpose();
  auto rows = diff();
  expect_delta(rows.at(m + ".lora_delta"), Wt, c0_);
  // Without fan_in_fan_out the same factors are merged untransposed: a different answer.
  config(R"({"r": 2, "lora_alpha": 2})");
  rows = diff();
  const RowMajor W = c0_ + B * A;
  expect_delta(rows.at(m + ".lora_delta"), W, c0_);
  const DiffMetrics t = compute_diff(Wt.data(), c0_.data(), 12, 12, opts_.metrics);
  EXPECT_GT(std::fabs(rows.at(m + ".lora_delta").diff.cosine_distance / t.cosine_distance - 1),
            1e-3);
}

TEST_F(PlanAdapterTest, ReasonCarriesWarningsAndNotes) {
  const std::string m = "base_model.model.model.layers.0.self_attn.q_proj";
  ck::write_safetensors(path("adapter/adapter_model.safetensors"),
                        {tensor(m + ".lora_A.weight", gaussian(2, 12, 10)),
                         tensor(m + ".lora_B.weight", gaussian(16, 2, 11))});
  config(
      R"({"r": 2, "lora_alpha": 4, "init_lora_weights": "pissa", "target_modules": ["v_proj"]})");
  auto rows = diff();
  const std::string why = rows.at(m + ".lora_delta").metrics.reason;
  EXPECT_NE(why.find("init_lora_weights=pissa changes the base weights"), std::string::npos) << why;
  EXPECT_NE(why.find("not selected by target_modules"), std::string::npos) << why;
  EXPECT_FALSE(rows.at(m + ".lora_delta").failed());  // a warning, not an error
  config(R"({"r": 2, "lora_alpha": 4, "init_lora_weights": true, "target_modules": "all-linear"})");
  EXPECT_EQ(diff().at(m + ".lora_delta").metrics.reason, "");
  // A peft_type muft does not merge: every row says so.
  config(R"({"peft_type": "IA3", "target_modules": ["q_proj"]})");
  BatchSummary s;
  rows = diff({}, &s);
  EXPECT_NE(rows.at(m + ".lora_delta").metrics.reason.find("peft_type IA3"), std::string::npos);
  ASSERT_EQ(s.notes.size(), 1u);
}

TEST_F(PlanAdapterTest, IntrudersOnMatricesAndAdaptersWithTotal) {
  // A full fine-tune of q_proj and a LoRA on c_attn, in two files.
  const RowMajor q = q0_ + 3.0 * gaussian(16, 12, 12);
  ck::write_safetensors(path("full.safetensors"),
                        {tensor("model.layers.0.self_attn.q_proj.weight", q),
                         tensor("model.layers.0.attn.c_attn.weight", c0_)});
  DiffOptions d;
  d.base = path("base.safetensors");
  d.intruders = true;
  d.intruder.top_k = 5;
  std::map<std::string, Record> rows;
  run_diff({path("full.safetensors")}, d, opts_, [&](const Record& r) { rows[r.tensor] = r; });
  const IntruderResult want = intruder_dimensions(q.data(), q0_.data(), 16, 12, d.intruder);
  EXPECT_EQ(rows.at("model.layers.0.self_attn.q_proj.weight").intruders, want.count);
  EXPECT_EQ(rows.at("model.layers.0.attn.c_attn.weight").intruders, 0);  // W = W0
  EXPECT_EQ(rows.at("__total__").intruders, want.count);

  // A LoRA whose B lies outside W0's column space: its two directions are new to W0.
  const std::string m = "base_model.model.model.layers.0.self_attn.q_proj";
  const Eigen::MatrixXd Q = Eigen::HouseholderQR<Eigen::MatrixXd>(Eigen::MatrixXd(q0_))
                                .householderQ();  // 16 x 16; columns 12.. are orthogonal to W0
  const RowMajor A = gaussian(2, 12, 13), B = Q.rightCols(4) * gaussian(4, 2, 14);
  ck::write_safetensors(path("adapter/adapter_model.safetensors"),
                        {tensor(m + ".lora_A.weight", A), tensor(m + ".lora_B.weight", B)});
  config(R"({"r": 2, "lora_alpha": 20})");
  const RowMajor W = q0_ + 10.0 * B * A;
  const auto ar = diff(d);
  const IntruderResult wa = intruder_dimensions(W.data(), q0_.data(), 16, 12, d.intruder);
  EXPECT_EQ(ar.at(m + ".lora_delta").intruders, wa.count);
  EXPECT_GE(wa.count, 2);  // max |cos| ≈ ‖W0‖/(10‖B·A‖) for the two planted directions
  // Not asked: NaN, and no SVD is computed.
  EXPECT_TRUE(std::isnan(diff().at(m + ".lora_delta").intruders));
  d.intruder.epsilon = 0;
  EXPECT_THROW(diff(d), std::invalid_argument);
}

}  // namespace
}  // namespace muft::analysis
