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
#include <hdf5.h>

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

TEST_F(BatchTest, DiffTotalNamesTheTensorsItLeavesOutAndIsNonFiniteWhenNoneIsLeft) {
  std::vector<double> q_nan = q0_, fc1 = fc0_, fc_nan = fc0_;
  q_nan[3] = NAN;
  for (double& v : fc1) v *= 2;  // distance ‖W0‖_fc
  fc_nan[0] = NAN;
  ck::write_safetensors(path("partial.safetensors"),
                        {tensor("blocks.0.attn.c_q.weight", 12, 8, q_nan),
                         tensor("blocks.0.mlp.c_fc.weight", 20, 8, fc1)});
  ck::write_safetensors(path("all_nan.safetensors"),
                        {tensor("blocks.0.attn.c_q.weight", 12, 8, q_nan),
                         tensor("blocks.0.mlp.c_fc.weight", 20, 8, fc_nan)});
  DiffOptions d;
  d.base = path("base.safetensors");
  std::vector<Record> recs;
  run_diff({path("partial.safetensors"), path("all_nan.safetensors")}, d, opts_,
           [&](const Record& r) {
             if (r.kind == RecordKind::Total) recs.push_back(r);
           });
  ASSERT_EQ(recs.size(), 2u);
  const Record& partial = recs[0].file == path("partial.safetensors") ? recs[0] : recs[1];
  const Record& none = recs[0].file == path("partial.safetensors") ? recs[1] : recs[0];
  // Partial: the total covers c_fc alone, and says that c_q was left out.
  double n0 = 0;
  for (double v : fc0_) n0 += v * v;
  EXPECT_EQ(partial.metrics.status, MetricStatus::Ok);
  EXPECT_EQ(partial.metrics.rows, 1);
  EXPECT_NEAR(partial.diff.l2_distance, std::sqrt(n0), 1e-12);
  EXPECT_NE(partial.metrics.reason.find("omitted 1 with non-finite values: "
                                        "blocks.0.attn.c_q.weight"),
            std::string::npos)
      << partial.metrics.reason;
  // Every tensor NaN: nothing to measure, so no distance of 0 either.
  EXPECT_EQ(none.metrics.status, MetricStatus::NonFinite);
  EXPECT_TRUE(std::isnan(none.diff.l2_distance));
  EXPECT_EQ(none.metrics.rows, 0);
  EXPECT_NE(none.metrics.reason.find("omitted 2 with non-finite values"), std::string::npos)
      << none.metrics.reason;
}

TEST_F(BatchTest, ZeroRowMatrixIsAnEmptyRowNotASkip) {
  ck::write_safetensors(
      path("empty.safetensors"),
      {ck::make_tensor("blocks.0.attn.c_q.weight", {0, 5}, ck::DType::F32, {}),
       ck::make_tensor("blocks.0.ln.weight", {5}, ck::DType::F32, std::vector<double>(5, 1.0))});
  BatchSummary s;
  const auto recs = collect_spectra({path("empty.safetensors")}, &s);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].tensor, "blocks.0.attn.c_q.weight");
  EXPECT_EQ(recs[0].metrics.status, MetricStatus::Empty);
  EXPECT_EQ(recs[0].metrics.rows, 0);
  EXPECT_EQ(recs[0].metrics.cols, 5);
  EXPECT_TRUE(s.ok());
  ASSERT_EQ(s.skipped, 1u);  // the rank-1 layer norm only
  ASSERT_EQ(s.skipped_tensors.size(), 1u);
  EXPECT_EQ(s.skipped_tensors[0].tensor, "blocks.0.ln.weight");
  EXPECT_EQ(s.skipped_tensors[0].reason, "rank 1, not a matrix");
}

// A generic HDF5 file holding a complex (compound of two floats) and a record (compound of three
// fields) dataset next to a plain matrix, as h5py writes them.
void write_compound_file(const std::string& path) {
  const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hsize_t dims[2] = {2, 3};
  const hid_t space = H5Screate_simple(2, dims, nullptr);
  const hid_t complex = H5Tcreate(H5T_COMPOUND, 16);
  H5Tinsert(complex, "r", 0, H5T_IEEE_F64LE);
  H5Tinsert(complex, "i", 8, H5T_IEEE_F64LE);
  const hid_t record = H5Tcreate(H5T_COMPOUND, 12);
  H5Tinsert(record, "id", 0, H5T_STD_I32LE);
  H5Tinsert(record, "x", 4, H5T_IEEE_F32LE);
  H5Tinsert(record, "y", 8, H5T_IEEE_F32LE);
  const std::vector<unsigned char> zeros(6 * 16, 0);
  for (const auto& [name, type] : {std::pair<const char*, hid_t>{"spectrum", complex},
                                   std::pair<const char*, hid_t>{"table", record},
                                   std::pair<const char*, hid_t>{"w", H5T_IEEE_F64LE}}) {
    const hid_t d = H5Dcreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros.data());
    H5Dclose(d);
  }
  H5Tclose(record);
  H5Tclose(complex);
  H5Sclose(space);
  H5Fclose(f);
}

TEST_F(BatchTest, CompoundAndComplexDatasetsAreListedAsSkippedWithTheirReason) {
  write_compound_file(path("compound.h5"));
  BatchSummary s;
  const auto recs = collect_spectra({path("compound.h5")}, &s);
  ASSERT_EQ(recs.size(), 1u);  // w, a zero matrix
  EXPECT_EQ(recs[0].tensor, "w");
  EXPECT_EQ(recs[0].metrics.status, MetricStatus::Zero);
  ASSERT_EQ(s.skipped, 2u);
  ASSERT_EQ(s.skipped_tensors.size(), 2u);
  std::map<std::string, std::string> why;
  for (const auto& t : s.skipped_tensors) {
    EXPECT_EQ(t.file, path("compound.h5"));
    why[t.tensor] = t.reason;
  }
  EXPECT_NE(why["spectrum"].find("complex numbers"), std::string::npos) << why["spectrum"];
  EXPECT_NE(why["table"].find("compound HDF5 datatype (3 fields)"), std::string::npos)
      << why["table"];
}

TEST_F(BatchTest, CheckpointWithoutChecksumsIsNotedAndCorruptTensorIsAnErrorRow) {
  ck::Checkpoint c;
  c.parameters.push_back(tensor("blocks.0.attn.c_q.weight", 12, 8, q0_, ck::DType::F32));
  c.parameters.push_back(tensor("blocks.0.mlp.c_fc.weight", 20, 8, fc0_, ck::DType::F32));
  ck::write_checkpoint(path("old.h5"), c);
  ck::write_checkpoint(path("bad.h5"), c);
  {  // old.h5: as written before muft stored checksums
    const hid_t f = H5Fopen(path("old.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    for (const char* d : {"parameters/blocks.0.attn.c_q.weight",
                          "parameters/blocks.0.mlp.c_fc.weight", "rng_state"}) {
      const hid_t o = H5Oopen(f, d, H5P_DEFAULT);
      H5Adelete(o, "crc32");
      H5Oclose(o);
    }
    H5Fclose(f);
  }
  {  // bad.h5: one byte of c_fc flipped on disk
    const hid_t f = H5Fopen(path("bad.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    const hid_t d = H5Dopen2(f, "parameters/blocks.0.mlp.c_fc.weight", H5P_DEFAULT);
    const haddr_t off = H5Dget_offset(d);
    H5Dclose(d);
    H5Fclose(f);
    std::fstream io(path("bad.h5"), std::ios::in | std::ios::out | std::ios::binary);
    io.seekg(static_cast<std::streamoff>(off + 3));
    char ch = 0;
    io.get(ch);
    io.seekp(static_cast<std::streamoff>(off + 3));
    io.put(static_cast<char>(ch ^ 0x40));
  }
  BatchSummary s;
  const auto m = by_tensor(collect_spectra({path("old.h5"), path("bad.h5")}, &s));
  ASSERT_EQ(s.notes.size(), 1u);
  EXPECT_EQ(s.notes[0].rfind(path("old.h5") + ": muft checkpoint without checksums", 0), 0u)
      << s.notes[0];
  std::size_t noted = 0, corrupt = 0;
  std::vector<Record> all;
  run_spectra({path("old.h5"), path("bad.h5")}, opts_, [&](const Record& r) {
    if (r.file == path("old.h5")) {
      EXPECT_EQ(r.metrics.status, MetricStatus::Ok) << r.metrics.reason;
      noted += r.metrics.reason.find("could not be verified") != std::string::npos;
    } else if (r.failed()) {
      EXPECT_EQ(r.tensor, "blocks.0.mlp.c_fc.weight");
      EXPECT_NE(r.metrics.reason.find("checksum mismatch"), std::string::npos) << r.metrics.reason;
      ++corrupt;
    }
  });
  EXPECT_EQ(noted, 2u);
  EXPECT_EQ(corrupt, 1u);
  EXPECT_EQ(s.failed, 1u);
}

TEST_F(BatchTest, InputErrorsBecomeFileRowsAfterTheCheckpoints) {
  std::vector<Record> recs;
  const BatchSummary s =
      run_spectra({path("base.safetensors")}, opts_, [&](const Record& r) { recs.push_back(r); },
                  {"missing.h5: no such file or directory"});
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs.back().kind, RecordKind::File);
  EXPECT_EQ(recs.back().file, "missing.h5");
  EXPECT_EQ(recs.back().metrics.reason, "missing.h5: no such file or directory");
  EXPECT_EQ(s.rows, 3u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.by_status.at("error"), 1u);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0], "missing.h5: no such file or directory");
}

TEST_F(BatchTest, TableColumnsAreTheDocumentedOnes) {
  std::vector<std::string> names;
  for (const Column& c : record_columns(TableKind::Diff, true)) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"file",
                                             "format",
                                             "tensor",
                                             "kind",
                                             "group",
                                             "dtype",
                                             "rows",
                                             "cols",
                                             "base_file",
                                             "base_tensor",
                                             "l2_distance",
                                             "relative_distance",
                                             "cosine_distance",
                                             "weight_norm",
                                             "base_norm",
                                             "l2_ratio",
                                             "relative_ratio",
                                             "cosine_ratio",
                                             "intruders",
                                             "frobenius_norm",
                                             "spectral_norm",
                                             "nuclear_norm",
                                             "max_abs",
                                             "stable_rank",
                                             "svd_entropy",
                                             "effective_rank",
                                             "numerical_rank",
                                             "rank_tol",
                                             "status",
                                             "reason",
                                             "singular_values"}));
  EXPECT_EQ(record_columns(TableKind::Series, false)[1].name, "step");
  EXPECT_EQ(
      series_metric_names(true),
      (std::vector<std::string>{"frobenius_norm", "spectral_norm", "nuclear_norm", "max_abs",
                                "stable_rank", "svd_entropy", "effective_rank", "numerical_rank",
                                "l2_distance", "relative_distance", "cosine_distance"}));
  const auto groups = group_columns(false);
  ASSERT_EQ(groups.size(), 6u + 2 * 8);
  EXPECT_EQ(groups[6].name, "frobenius_norm");
  EXPECT_EQ(groups[7].name, "frobenius_norm_std");
  // Cells come from the same getters: a record's numbers land in their own columns.
  Record r;
  r.diff.l2_distance = 0.25;
  r.metrics.stable_rank = 3.5;
  const auto cells = record_cells(r, TableKind::Diff, false);
  EXPECT_EQ(std::get<double>(cells[10]), 0.25);
  EXPECT_EQ(std::get<double>(cells[23]), 3.5);
  GroupRecord g;
  g.stats["stable_rank"] = {2.0, 0.5};
  const auto gcells = group_cells(g, false);
  EXPECT_EQ(std::get<double>(gcells[6 + 2 * 4]), 2.0);
  EXPECT_EQ(std::get<double>(gcells[6 + 2 * 4 + 1]), 0.5);
}

}  // namespace
}  // namespace muft::analysis
