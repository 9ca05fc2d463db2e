/// \file batch_test.cpp
/// The batch runner on real files written by muft::checkpoint: spectra, diff (map, missing,
/// shape mismatch, totals, --relative-to, LoRA adapters) and series by layer group.

#include "muft/analysis/batch.h"

#include <unistd.h>
#include <cmath>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "muft/checkpoint/checkpoint.h"
#include "muft/checkpoint/safetensors.h"

namespace muft::analysis {
namespace {

namespace fs = std::filesystem;
namespace ck = muft::checkpoint;
using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

std::vector<double> gaussian(std::size_t n, uint64_t seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0, scale);
  std::vector<double> v(n);
  for (double& x : v) x = g(rng);
  return v;
}

ck::NamedTensor tensor(const std::string& name, int64_t rows, int64_t cols,
                       const std::vector<double>& v, ck::DType t = ck::DType::F64) {
  return ck::make_tensor(name, {rows, cols}, t, v);
}

std::map<std::string, Record> by_tensor(const std::vector<Record>& recs) {
  std::map<std::string, Record> m;
  for (const Record& r : recs) m[r.tensor.empty() ? r.base_tensor : r.tensor] = r;
  return m;
}

class BatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One directory per test and process: ctest -j runs tests of this fixture in parallel.
    dir_ = fs::path(::testing::TempDir()) /
           ("muft_batch_test_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    q0_ = gaussian(12 * 8, 1);
    fc0_ = gaussian(20 * 8, 2);
    ck::write_safetensors(
        path("base.safetensors"),
        {tensor("blocks.0.attn.c_q.weight", 12, 8, q0_),
         tensor("blocks.0.mlp.c_fc.weight", 20, 8, fc0_),
         ck::make_tensor("blocks.0.ln.weight", {8}, ck::DType::F64, std::vector<double>(8, 1.0))});
    opts_.jobs = 2;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& rel) const { return (dir_ / rel).string(); }
  std::vector<Record> collect_spectra(const std::vector<std::string>& paths, BatchSummary* s) {
    std::vector<Record> out;
    *s = run_spectra(paths, opts_, [&](const Record& r) { out.push_back(r); });
    return out;
  }

  fs::path dir_;
  std::vector<double> q0_, fc0_;
  BatchOptions opts_;
};

TEST_F(BatchTest, SpectraMatchesDirectMetricsAndReportsBadFiles) {
  std::ofstream(path("bad.safetensors")) << "not a checkpoint";
  BatchSummary s;
  const auto recs = collect_spectra({path("base.safetensors"), path("bad.safetensors")}, &s);
  EXPECT_EQ(s.rows, 3u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.skipped, 1u);  // the rank-1 layer norm
  EXPECT_FALSE(s.ok());
  const auto m = by_tensor(recs);
  const Record& q = m.at("blocks.0.attn.c_q.weight");
  EXPECT_EQ(q.group, "Q");
  EXPECT_EQ(q.dtype, "F64");
  const MatrixMetrics want = compute_metrics(q0_.data(), 12, 8, opts_.metrics);
  EXPECT_DOUBLE_EQ(q.metrics.stable_rank, want.stable_rank);
  EXPECT_DOUBLE_EQ(q.metrics.svd_entropy, want.svd_entropy);
  const Record& bad = m.at("");
  EXPECT_EQ(bad.kind, RecordKind::File);
  EXPECT_TRUE(bad.failed());
}

TEST_F(BatchTest, ThrowingSinkSurfacesAsExceptionNotCrash) {
  // Workers must not die on a sink failure (e.g. disk full): run() rethrows it.
  EXPECT_THROW(run_spectra({path("base.safetensors")}, opts_,
                           [](const Record&) { throw std::runtime_error("disk full"); }),
               std::runtime_error);
}

TEST_F(BatchTest, IncludeExclude) {
  opts_.include = {"attn"};
  BatchSummary s;
  auto recs = collect_spectra({path("base.safetensors")}, &s);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].tensor, "blocks.0.attn.c_q.weight");
  opts_.include.clear();
  opts_.exclude = {"c_q"};
  recs = collect_spectra({path("base.safetensors")}, &s);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].tensor, "blocks.0.mlp.c_fc.weight");
  opts_.exclude = {"("};
  EXPECT_THROW(collect_spectra({path("base.safetensors")}, &s), std::invalid_argument);
}

TEST_F(BatchTest, DiffPerTensorTotalMissingMismatchAndMap) {
  // Fine-tuned: c_q renamed (needs --map), c_fc perturbed, plus a wrongly shaped extra tensor.
  std::vector<double> q1 = q0_, fc1 = fc0_;
  for (std::size_t i = 0; i < q1.size(); ++i) q1[i] += 0.01 * std::sin(double(i));
  for (std::size_t i = 0; i < fc1.size(); ++i) fc1[i] *= 1.5;
  ck::write_safetensors(path("ft.safetensors"),
                        {tensor("model.blocks.0.attn.c_q.weight", 12, 8, q1),
                         tensor("blocks.0.mlp.c_fc.weight", 20, 8, fc1)});
  DiffOptions d;
  d.base = path("base.safetensors");
  d.map_rules = {"^model\\.=>"};
  std::vector<Record> recs;
  BatchSummary s =
      run_diff({path("ft.safetensors")}, d, opts_, [&](const Record& r) { recs.push_back(r); });
  EXPECT_EQ(s.failed, 0u);
  auto m = by_tensor(recs);
  const Record& fc = m.at("blocks.0.mlp.c_fc.weight");
  double n0 = 0;
  for (double v : fc0_) n0 += v * v;
  EXPECT_NEAR(fc.diff.relative_distance, 0.5, 1e-14);  // ΔW = W0/2
  EXPECT_NEAR(fc.diff.cosine_distance, 0.0, 1e-14);
  EXPECT_NEAR(fc.diff.l2_distance, 0.5 * std::sqrt(n0), 1e-12);
  EXPECT_EQ(m.at("model.blocks.0.attn.c_q.weight").base_tensor, "blocks.0.attn.c_q.weight");
  // Total = the distances of both tensors concatenated.
  DiffTotals t;
  t.add(fc.diff);
  t.add(m.at("model.blocks.0.attn.c_q.weight").diff);
  const Record& total = m.at("__total__");
  EXPECT_EQ(total.kind, RecordKind::Total);
  EXPECT_DOUBLE_EQ(total.diff.l2_distance, t.total().l2_distance);

  // Without the map: the renamed tensor is an error row, and base's c_q is reported missing.
  d.map_rules.clear();
  recs.clear();
  s = run_diff({path("ft.safetensors")}, d, opts_, [&](const Record& r) { recs.push_back(r); });
  EXPECT_EQ(s.failed, 2u);
  m = by_tensor(recs);
  EXPECT_NE(m.at("model.blocks.0.attn.c_q.weight").metrics.reason.find("not in base"),
            std::string::npos);

  // Shape mismatch.
  ck::write_safetensors(path("wrong.safetensors"),
                        {tensor("blocks.0.attn.c_q.weight", 8, 12, q1),
                         tensor("blocks.0.mlp.c_fc.weight", 20, 8, fc1)});
  recs.clear();
  s = run_diff({path("wrong.safetensors")}, d, opts_, [&](const Record& r) { recs.push_back(r); });
  EXPECT_EQ(s.failed, 1u);
  EXPECT_NE(by_tensor(recs).at("blocks.0.attn.c_q.weight").metrics.reason.find("shape mismatch"),
            std::string::npos);
}

TEST_F(BatchTest, RelativeToGivesRatios) {
  std::vector<double> fc_a = fc0_, fc_b = fc0_, q = q0_;
  for (double& v : fc_a) v *= 1.1;  // distance 0.1·‖W0‖
  for (double& v : fc_b) v *= 1.3;  // distance 0.3·‖W0‖ = 3× the reference
  ck::write_safetensors(path("a.safetensors"), {tensor("blocks.0.attn.c_q.weight", 12, 8, q),
                                                tensor("blocks.0.mlp.c_fc.weight", 20, 8, fc_a)});
  ck::write_safetensors(path("b.safetensors"), {tensor("blocks.0.attn.c_q.weight", 12, 8, q),
                                                tensor("blocks.0.mlp.c_fc.weight", 20, 8, fc_b)});
  DiffOptions d;
  d.base = path("base.safetensors");
  d.relative_to = path("a.safetensors");
  std::vector<Record> recs;
  run_diff({path("b.safetensors")}, d, opts_, [&](const Record& r) { recs.push_back(r); });
  const auto m = by_tensor(recs);
  EXPECT_NEAR(m.at("blocks.0.mlp.c_fc.weight").l2_ratio, 3.0, 1e-12);
  EXPECT_NEAR(m.at("blocks.0.mlp.c_fc.weight").relative_ratio, 3.0, 1e-12);
  EXPECT_NEAR(m.at("__total__").l2_ratio, 3.0, 1e-12);  // c_q unchanged in both
}

TEST_F(BatchTest, LoraAdapterDiffEqualsDenseMerge) {
  const std::vector<double> a = gaussian(2 * 8, 7), b = gaussian(12 * 2, 8);
  ck::write_safetensors(path("adapter.safetensors"),
                        {ck::make_tensor("blocks.0.attn.c_q.lora_A", {2, 8}, ck::DType::F32, a),
                         ck::make_tensor("blocks.0.attn.c_q.lora_B", {12, 2}, ck::DType::F32, b)});
  { std::ofstream(path("adapter_config.json")) << R"({"r": 2, "lora_alpha": 6})"; }
  // Dense reference: W = W0 + 3·B·A with the float32-rounded factors.
  const auto af = ck::make_tensor("a", {2, 8}, ck::DType::F32, a);
  const auto bf = ck::make_tensor("b", {12, 2}, ck::DType::F32, b);
  Eigen::MatrixXd A(2, 8), B(12, 2);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 8; ++j)
      A(i, j) = reinterpret_cast<const float*>(af.bytes.data())[i * 8 + j];
  for (int i = 0; i < 12; ++i)
    for (int j = 0; j < 2; ++j)
      B(i, j) = reinterpret_cast<const float*>(bf.bytes.data())[i * 2 + j];
  const RowMajor W0 = Eigen::Map<const RowMajor>(q0_.data(), 12, 8);
  const RowMajor W = W0 + 3.0 * B * A;
  const DiffMetrics want = compute_diff(W.data(), W0.data(), 12, 8, opts_.metrics);

  DiffOptions d;
  d.base = path("base.safetensors");
  std::vector<Record> recs;
  const BatchSummary s = run_diff({path("adapter.safetensors")}, d, opts_,
                                  [&](const Record& r) { recs.push_back(r); });
  EXPECT_EQ(s.failed, 0u);  // no "missing" rows for an adapter
  const auto m = by_tensor(recs);
  const Record& delta = m.at("blocks.0.attn.c_q.lora_delta");
  EXPECT_EQ(delta.kind, RecordKind::LoraDelta);
  EXPECT_EQ(delta.base_tensor, "blocks.0.attn.c_q.weight");
  EXPECT_NEAR(delta.diff.l2_distance / want.l2_distance, 1, 1e-12);
  EXPECT_NEAR(delta.diff.cosine_distance / want.cosine_distance, 1, 1e-10);
  EXPECT_NEAR(delta.metrics.stable_rank / want.delta.stable_rank, 1, 1e-10);
  EXPECT_EQ(m.at("blocks.0.attn.c_q.lora_A").kind, RecordKind::LoraA);
  EXPECT_EQ(m.at("blocks.0.attn.c_q.lora_B").group, "Q.lora_B");
}

TEST_F(BatchTest, SeriesAggregatesByGroupAndStep) {
  fs::create_directories(dir_ / "run/checkpoints");
  for (int step : {0, 50, 100}) {
    const double f = 1.0 + step / 100.0;
    std::vector<double> q = q0_, fc = fc0_, fc2 = gaussian(20 * 8, 9);
    for (double& v : q) v *= f;
    char name[64];
    std::snprintf(name, sizeof name, "run/checkpoints/step_%06d.safetensors", step);
    ck::write_safetensors(path(name), {tensor("blocks.0.attn.c_q.weight", 12, 8, q),
                                       tensor("blocks.0.mlp.c_fc.weight", 20, 8, fc),
                                       tensor("blocks.1.mlp.c_fc.weight", 20, 8, fc2)});
  }
  std::vector<GroupRecord> groups;
  std::vector<Record> tensors;
  const BatchSummary s = run_series(
      {path("run")}, SeriesOptions{}, opts_, [&](const Record& r) { tensors.push_back(r); },
      [&](const GroupRecord& g) { groups.push_back(g); });
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(tensors.size(), 9u);
  ASSERT_EQ(groups.size(), 6u);  // 3 steps × {Q, MLP-up}
  const MatrixMetrics fc_a = compute_metrics(fc0_.data(), 20, 8, opts_.metrics);
  const std::vector<double> fc2 = gaussian(20 * 8, 9);
  const MatrixMetrics fc_b = compute_metrics(fc2.data(), 20, 8, opts_.metrics);
  for (const GroupRecord& g : groups) {
    EXPECT_EQ(g.run, "run");
    if (g.group == "Q") {
      EXPECT_EQ(g.tensors, 1u);
      // Scaling W by f scales σ₁ by f and leaves the stable rank alone.
      const double f = 1.0 + g.step / 100.0;
      const MatrixMetrics q = compute_metrics(q0_.data(), 12, 8, opts_.metrics);
      EXPECT_NEAR(g.stats.at("spectral_norm").first, f * q.spectral_norm, 1e-12);
      EXPECT_NEAR(g.stats.at("stable_rank").first, q.stable_rank, 1e-12);
    } else {
      ASSERT_EQ(g.group, "MLP-up");
      EXPECT_EQ(g.tensors, 2u);
      const double mean = (fc_a.stable_rank + fc_b.stable_rank) / 2;
      const double sd = std::fabs(fc_a.stable_rank - fc_b.stable_rank) / std::sqrt(2.0);
      EXPECT_NEAR(g.stats.at("stable_rank").first, mean, 1e-12);
      EXPECT_NEAR(g.stats.at("stable_rank").second, sd, 1e-12);
    }
  }
}

TEST_F(BatchTest, SeriesStepFromMuftCheckpointAttribute) {
  // The file name says 7, the checkpoint's step attribute says 300: the attribute wins.
  fs::create_directories(dir_ / "run2/checkpoints");
  ck::Checkpoint c;
  c.step = 300;
  c.parameters.push_back(tensor("blocks.0.attn.c_q.weight", 12, 8, q0_, ck::DType::F32));
  ck::write_checkpoint(path("run2/checkpoints/ckpt7.h5"), c);
  std::vector<GroupRecord> groups;
  const BatchSummary s = run_series({path("run2")}, SeriesOptions{}, opts_, nullptr,
                                    [&](const GroupRecord& g) { groups.push_back(g); });
  EXPECT_TRUE(s.ok()) << (s.errors.empty() ? "" : s.errors.front());
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].step, 300);
  EXPECT_EQ(groups[0].group, "Q");
}

TEST_F(BatchTest, RecordCellsFollowColumns) {
  Record r;
  r.file = "f";
  r.tensor = "t";
  r.metrics.rows = 3;
  for (TableKind k : {TableKind::Spectra, TableKind::Diff, TableKind::Series}) {
    for (bool spectrum : {false, true}) {
      const auto cols = record_columns(k, spectrum);
      const auto cells = record_cells(r, k, spectrum);
      ASSERT_EQ(cols.size(), cells.size());
      for (std::size_t i = 0; i < cols.size(); ++i) {
        const std::size_t want = cols[i].type == ColumnType::String   ? 0
                                 : cols[i].type == ColumnType::Number ? 1
                                                                      : 2;
        EXPECT_EQ(cells[i].index(), want) << cols[i].name;
      }
    }
  }
  GroupRecord g;
  EXPECT_EQ(group_columns(true).size(), group_cells(g, true).size());
}

}  // namespace
}  // namespace muft::analysis
