#include "muft/sweep/collect.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "muft/checkpoint/checkpoint.h"
#include "muft/rundir/inspect.h"
#include "muft/rundir/run_dir.h"
#include "muft/sweep/analyze.h"

namespace fs = std::filesystem;

namespace muft::sweep {
namespace {

/// A (2, 2) float32 tensor.
checkpoint::NamedTensor Matrix(const std::string& name, const std::vector<float>& v) {
  checkpoint::NamedTensor t;
  t.name = name;
  t.shape = {2, 2};
  t.dtype = checkpoint::DType::F32;
  t.bytes.resize(v.size() * sizeof(float));
  std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  return t;
}

class CollectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = (fs::temp_directory_path() / ("muft_collect_" + std::to_string(::getpid()))).string();
    fs::remove_all(root_);
    spec_ = parse_spec("name = \"c\"\nout_dir = \"" + root_ +
                           "\"\n[[pretrain]]\nname = \"lm\"\noptimizers = [\"adam\"]\n"
                           "[[finetune]]\nname = \"s\"\nfrom = \"lm\"\n[[finetune.methods]]\n"
                           "name = \"full-muon\"\nmethod = \"full\"\noptimizer = \"muon\"\n"
                           "lrs = [0.01]\n",
                       "mem");
    runs_ = expand_grid(spec_);
  }
  void TearDown() override { fs::remove_all(root_); }

  /// A completed run directory with one checkpoint holding W at `step`.
  void MakeRun(const RunSpec& r, long step, const std::vector<float>& w) {
    fs::create_directories(r.dir + "/checkpoints");
    checkpoint::Checkpoint ck;
    ck.step = step;
    ck.parameters.push_back(Matrix("transformer.h.0.attn.c_q.weight", w));
    checkpoint::write_checkpoint(r.dir + "/checkpoints/step_" +
                                     std::string(6 - std::to_string(step).size(), '0') +
                                     std::to_string(step) + ".h5",
                                 ck);
    WriteMetrics(r.dir, {{0, 2, 7.5}, {static_cast<double>(step), 1, 2.5}});
    Complete(r.dir);
  }

  /// metrics.csv with rows (step, val_loss, val_ppl); the other columns are NaN.
  static void WriteMetrics(const std::string& dir, const std::vector<std::vector<double>>& rows) {
    rundir::Metrics m;
    for (const auto& v : rows) {
      rundir::MetricsRow row;
      row.step = static_cast<int64_t>(v[0]);
      row.val_loss = v[1];
      row.val_ppl = v[2];
      row.tokens = 0;
      row.lr = row.old_val_loss = row.old_val_ppl = row.seconds = std::nan("");
      m.rows.push_back(row);
    }
    rundir::RunDir(dir).write_metrics(m);
  }
  static void Complete(const std::string& dir) {
    rundir::RunDir(dir).write_status({rundir::RunStatus::kCompleted, "", 0, {}});
  }

  std::string root_;
  ExperimentSpec spec_;
  std::vector<RunSpec> runs_;
};

TEST_F(CollectTest, MetricsAndDistancesHandComputed) {
  ASSERT_EQ(runs_.size(), 2u);
  MakeRun(runs_[0], 10, {1, 0, 0, 1});  // W0 = I
  MakeRun(runs_[1], 5, {1, 0, 0, 2});   // W = diag(1, 2): ΔW = diag(0, 1)
  auto loaded = load_runs(runs_);
  ASSERT_EQ(loaded[1].status.state, rundir::RunState::kCompleted);
  EXPECT_EQ(loaded[1].final_value("val_ppl"), 2.5);
  EXPECT_EQ(loaded[1].initial_value("val_ppl"), 7.5);
  EXPECT_NEAR(summarize_run(loaded[1]).norm_val_ppl, 2.5 / 7.5, 1e-15);
  if (!analysis_available()) GTEST_SKIP() << "built without muft::analysis";
  analyze_runs(&loaded, AnalyzeOptions{});
  EXPECT_EQ(loaded[1].analysis_problem, "");
  // ‖ΔW‖_F = 1; ‖W0‖_F = √2 → relative 1/√2; cos(W, W0) = 3/(√5·√2) → distance 1 − 3/√10.
  EXPECT_NEAR(loaded[1].l2_distance, 1.0, 1e-12);
  EXPECT_NEAR(loaded[1].relative_distance, 1.0 / std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(loaded[1].cosine_distance, 1.0 - 3.0 / std::sqrt(10.0), 1e-12);
  EXPECT_TRUE(std::isnan(loaded[0].l2_distance));  // pretraining runs have no base
  // Series: one checkpoint of the pretraining run, stable rank of I (2×2) = ‖I‖²_F/σ₁² = 2.
  ASSERT_FALSE(loaded[0].series.empty());
  const auto& pts = loaded[0].series.begin()->second;
  ASSERT_EQ(pts.size(), 1u);
  EXPECT_EQ(pts[0].step, 10);
  EXPECT_NEAR(pts[0].mean.at("stable_rank"), 2.0, 1e-9);
  // Written out and reproducible byte for byte.
  write_results(spec_, loaded, root_ + "/a.h5");
  write_results(spec_, loaded, root_ + "/b.h5");
  std::ifstream a(root_ + "/a.h5", std::ios::binary), b(root_ + "/b.h5", std::ios::binary);
  const std::string sa((std::istreambuf_iterator<char>(a)), {}),
      sb((std::istreambuf_iterator<char>(b)), {});
  EXPECT_FALSE(sa.empty());
  EXPECT_EQ(sa, sb);
}

TEST_F(CollectTest, DigitsAccuracyIsMergedByStep) {
  const RunSpec& r = runs_[1];
  fs::create_directories(r.dir);
  WriteMetrics(r.dir, {{0, 2, 7.5}, {10, 1.5, 4}, {20, 1, 2.5}});
  std::ofstream(r.dir + "/digits.csv") << "step,val_acc,old_val_acc\n0,0.1,1\n20,0.9,0.25\n";
  Complete(r.dir);
  auto loaded = load_runs(runs_);
  ASSERT_EQ(loaded[1].problem, "");
  const auto* acc = loaded[1].column("val_acc");
  ASSERT_NE(acc, nullptr);
  ASSERT_EQ(acc->size(), 3u);
  EXPECT_EQ((*acc)[0], 0.1);
  EXPECT_TRUE(std::isnan((*acc)[1]));  // no accuracy row at step 10
  EXPECT_EQ((*acc)[2], 0.9);
  const RunSummaryRow d = summarize_run(loaded[1]);
  EXPECT_EQ(d.final_val_acc, 0.9);
  EXPECT_EQ(d.final_old_val_acc, 0.25);
  EXPECT_TRUE(std::isnan(summarize_run(loaded[0]).final_val_acc));  // no digits.csv
  // The long metrics CSV carries the accuracy columns.
  write_results(spec_, loaded, root_ + "/d.h5");
  std::ifstream m(root_ + "/d_metrics.csv");
  std::string header;
  std::getline(m, header);
  EXPECT_NE(header.find(",val_acc,old_val_acc"), std::string::npos) << header;
  // An unreadable digits.csv is the run's problem, not an error of the collection.
  std::ofstream(r.dir + "/digits.csv") << "step,val_acc\n0,zero\n";
  loaded = load_runs(runs_);
  EXPECT_NE(loaded[1].problem.find("digits.csv"), std::string::npos) << loaded[1].problem;
}

TEST_F(CollectTest, BadCheckpointIsAProblemNotAnError) {
  MakeRun(runs_[0], 10, {1, 0, 0, 1});
  MakeRun(runs_[1], 5, {1, 0, 0, 2});
  std::ofstream(runs_[1].dir + "/checkpoints/step_000005.h5") << "not hdf5";
  std::ofstream(runs_[0].dir + "/metrics.csv") << "step,val_ppl\n0\n";  // ragged row
  auto loaded = load_runs(runs_);
  EXPECT_NE(loaded[0].problem.find("metrics.csv"), std::string::npos);
  if (!analysis_available()) GTEST_SKIP() << "built without muft::analysis";
  EXPECT_NO_THROW(analyze_runs(&loaded, AnalyzeOptions{}));
  EXPECT_FALSE(loaded[1].analysis_problem.empty());
  EXPECT_TRUE(std::isnan(loaded[1].l2_distance));
  EXPECT_NO_THROW(write_results(spec_, loaded, root_ + "/r.h5"));
}

TEST_F(CollectTest, MetricsRowCutOffByAKilledWriterIsIgnoredAndCounted) {
  const RunSpec& r = runs_[1];
  fs::create_directories(r.dir);
  WriteMetrics(r.dir, {{0, 2, 7.5}, {10, 1.5, 4.5}});
  std::string text = rundir::read_file(r.dir + "/metrics.csv");
  text = text.substr(0, text.size() - 2);  // the last field cut short, no newline
  std::ofstream(r.dir + "/metrics.csv", std::ios::binary | std::ios::trunc) << text;
  Complete(r.dir);
  const auto loaded = load_runs(runs_);
  EXPECT_EQ(loaded[1].problem, "");
  EXPECT_EQ(loaded[1].rows(), 1u);
  EXPECT_EQ(loaded[1].incomplete_rows, 1u);
  EXPECT_EQ(loaded[1].final_value("val_ppl"), 7.5);  // never the shortened 4
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs in a forked child: collects twice into `out` under file size limits that stop first the
// HDF5 file, then the long metrics CSV, part-way (writes past the limit fail with EFBIG, as on a
// full disk). Returns the number of failed checks, each printed on stderr.
int collect_past_limits(const ExperimentSpec& spec, const std::vector<CollectedRun>& runs,
                        const std::string& out) {
  int failures = 0;
  auto expect = [&](bool ok, const std::string& what) {
    if (!ok) {
      std::fprintf(stderr, "check failed: %s\n", what.c_str());
      ++failures;
    }
  };
  const std::string stem = out.substr(0, out.size() - 3);
  const std::vector<std::string> files = {out, stem + "_runs.csv", stem + "_metrics.csv"};
  std::vector<std::string> before;
  for (const auto& f : files) before.push_back(slurp(f));
  const std::uintmax_t h5_size = std::filesystem::file_size(out);
  const std::uintmax_t csv_size = std::filesystem::file_size(files[2]);
  expect(csv_size > h5_size + h5_size / 4, "the fixture's metrics CSV is the largest file (" +
                                               std::to_string(csv_size) + " vs " +
                                               std::to_string(h5_size) + " bytes)");
  std::signal(SIGXFSZ, SIG_IGN);
  // The second limit lets the HDF5 file and the runs CSV through and stops the metrics CSV.
  for (const std::uintmax_t limit : {h5_size / 2, (h5_size + csv_size) / 2}) {
    rlimit rl;
    getrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = static_cast<rlim_t>(limit);
    setrlimit(RLIMIT_FSIZE, &rl);
    std::string message;
    try {
      write_results(spec, runs, out);
    } catch (const std::runtime_error& e) {
      message = e.what();
    }
    std::fprintf(stderr, "limit %ju: %s\n", limit, message.c_str());
    expect(!message.empty(), "the collect fails");
    expect(message.find('\n') == std::string::npos, "one line");
    if (limit < h5_size) {
      expect(message.find("File too large") != std::string::npos, "the file system's reason");
    }
    for (const auto& e :
         std::filesystem::directory_iterator(std::filesystem::path(out).parent_path())) {
      expect(e.path().filename().string().find(".tmp.") == std::string::npos,
             "temporary file left: " + e.path().string());
    }
    for (std::size_t i = 0; i < files.size(); ++i) {
      expect(slurp(files[i]) == before[i], "earlier results kept: " + files[i]);
    }
  }
  return failures;
}

TEST_F(CollectTest, FullDiskLeavesNoTemporaryFilesAndKeepsEarlierResults) {
  MakeRun(runs_[0], 10, {1, 0, 0, 1});
  // A long metrics.csv of numbers with many digits: 8 bytes each in HDF5, about 20 characters
  // each in the long CSV, so the CSV is the largest file.
  fs::create_directories(runs_[1].dir);
  {
    rundir::Metrics m;
    for (int i = 0; i < 20000; ++i) {
      rundir::MetricsRow row;
      row.step = i;
      row.tokens = 1000003LL * i;
      for (const auto& c : rundir::kCoreColumns)
        if (!c.integer) c.set(row, (i + 1) / 3.0);
      m.rows.push_back(row);
    }
    rundir::RunDir(runs_[1].dir).write_metrics(m);
  }
  Complete(runs_[1].dir);
  const auto loaded = load_runs(runs_);
  const std::string out = root_ + "/out/results.h5";
  fs::create_directories(root_ + "/out");
  write_results(spec_, loaded, out);
  // exit() runs HDF5's atexit cleanup, where a half-closed file used to crash (exit 139).
  EXPECT_EXIT(std::exit(collect_past_limits(spec_, loaded, out)), ::testing::ExitedWithCode(0),
              "limit");
}

}  // namespace
}  // namespace muft::sweep
