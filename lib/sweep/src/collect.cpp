#include "muft/sweep/collect.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>

#include <fmt/core.h>

#include "muft/checkpoint/hdf5.h"
#include "muft/rundir/run_dir.h"
#include "muft/stats/csv.h"

namespace fs = std::filesystem;

namespace muft::sweep {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string num(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  return fmt::format("{}", x);
}

/// results.h5 through muft's HDF5 layer: no modification times (same runs, same bytes), and
/// every object addressed by its absolute path, as the layout in docs/formats.md lists it.
class H5Writer {
 public:
  explicit H5Writer(const std::string& path) : file_(open(path)) {}

  /// Creates every missing group along an absolute path.
  void ensure_group(const std::string& path) { file_.create_group(path); }
  void attr(const std::string& obj, const std::string& name, const std::string& value) {
    file_.open(obj).set_string_attribute(name, value);
  }
  void attr(const std::string& obj, const std::string& name, double value) {
    file_.open(obj).set_double_attribute(name, value);
  }
  void attr_int(const std::string& obj, const std::string& name, long long value) {
    file_.open(obj).set_int64_attribute(name, static_cast<int64_t>(value));
  }
  void dataset(const std::string& path, const std::vector<double>& v) {
    file_.write_dataset(path, checkpoint::h5::Type::F64, {v.size()}, v.data());
  }
  void dataset(const std::string& path, const std::vector<std::string>& v) {
    file_.write_strings(path, v);
  }
  /// Closes the file; throws if any write failed (e.g. the disk is full).
  void close() { file_.close(); }

 private:
  static checkpoint::h5::File open(const std::string& path) {
    checkpoint::h5::FileOptions o;
    o.track_times = false;
    return checkpoint::h5::File::create(path, o);
  }
  checkpoint::h5::File file_;
};

/// Removes the temporary files of one collect unless they were renamed into place.
class TempFiles {
 public:
  explicit TempFiles(std::vector<std::string> paths) : paths_(std::move(paths)) {}
  ~TempFiles() {
    for (const auto& p : paths_) std::remove(p.c_str());
  }
  TempFiles(const TempFiles&) = delete;
  TempFiles& operator=(const TempFiles&) = delete;
  void keep() { paths_.clear(); }

 private:
  std::vector<std::string> paths_;
};

struct RunsTable {
  std::vector<std::string> text_cols = {
      "id",          "kind",   "group",     "study",  "pretrain_optimizer",
      "method_name", "method", "optimizer", "status", "reason"};
  std::vector<std::string> num_cols = {"pretrain_seed",
                                       "lr",
                                       "rank",
                                       "alpha",
                                       "seed",
                                       "steps",
                                       "last_step",
                                       "final_val_loss",
                                       "final_val_ppl",
                                       "final_old_val_loss",
                                       "final_old_val_ppl",
                                       "initial_val_ppl",
                                       "initial_old_val_ppl",
                                       "norm_val_ppl",
                                       "norm_old_val_ppl",
                                       "final_val_acc",
                                       "final_old_val_acc",
                                       "l2_distance",
                                       "cosine_distance",
                                       "relative_distance"};
  std::vector<std::vector<std::string>> text;
  std::vector<std::vector<double>> nums;
};

RunsTable runs_table(const std::vector<CollectedRun>& runs) {
  RunsTable t;
  t.text.resize(t.text_cols.size());
  t.nums.resize(t.num_cols.size());
  for (const auto& r : runs) {
    const RunSpec& s = r.spec;
    const RunSummaryRow d = summarize_run(r);
    std::string reason = r.status.reason;
    if (!r.problem.empty()) reason += (reason.empty() ? "" : "; ") + r.problem;
    if (!r.analysis_problem.empty())
      reason += (reason.empty() ? "" : "; ") + std::string("analysis: ") + r.analysis_problem;
    const std::vector<std::string> text = {
        s.id,     to_string(s.kind),    s.group,
        s.study,  s.pretrain_optimizer, s.method_name,
        s.method, s.optimizer,          to_string(r.status.state),
        reason};
    const std::vector<double> nums = {static_cast<double>(s.pretrain_seed),
                                      s.kind == RunKind::kFinetune ? s.lr : kNaN,
                                      static_cast<double>(s.rank),
                                      s.alpha,
                                      static_cast<double>(s.seed),
                                      static_cast<double>(s.steps),
                                      d.last_step,
                                      d.final_val_loss,
                                      d.final_val_ppl,
                                      d.final_old_val_loss,
                                      d.final_old_val_ppl,
                                      d.initial_val_ppl,
                                      d.initial_old_val_ppl,
                                      d.norm_val_ppl,
                                      d.norm_old_val_ppl,
                                      d.final_val_acc,
                                      d.final_old_val_acc,
                                      r.l2_distance,
                                      r.cosine_distance,
                                      r.relative_distance};
    for (std::size_t i = 0; i < text.size(); ++i) t.text[i].push_back(text[i]);
    if (nums.size() != t.num_cols.size() || text.size() != t.text_cols.size())
      throw std::logic_error("runs table: columns and values disagree");
    for (std::size_t i = 0; i < nums.size(); ++i) t.nums[i].push_back(nums[i]);
  }
  return t;
}

// A stream's failure, with the system's reason when it left one.
std::string write_error(const std::string& path) {
  const int err = errno;
  return "cannot write '" + path + "'" + (err ? std::string(": ") + std::strerror(err) : "");
}

void rename_into_place(const std::string& tmp, const std::string& path) {
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot rename '" + tmp + "' to '" + path + "'");
}

}  // namespace

const std::vector<double>* CollectedRun::column(const std::string& name) const {
  for (std::size_t i = 0; i < metric_columns.size(); ++i)
    if (metric_columns[i] == name) return &metrics[i];
  return nullptr;
}

double CollectedRun::final_value(const std::string& name) const {
  const auto* c = column(name);
  return c && !c->empty() ? c->back() : kNaN;
}

double CollectedRun::initial_value(const std::string& name) const {
  const auto* c = column(name);
  const auto* step = column("step");
  if (!c || !step) return kNaN;
  for (std::size_t i = 0; i < step->size(); ++i)
    if ((*step)[i] == 0.0) return (*c)[i];
  return kNaN;
}

std::vector<CollectedRun> load_runs(const std::vector<RunSpec>& runs) {
  std::vector<CollectedRun> out;
  for (const auto& spec : runs) {
    CollectedRun r;
    r.spec = spec;
    r.status = rundir::inspect_run(spec.dir);
    const rundir::RunDir dir(spec.dir);
    try {
      const rundir::Metrics m = dir.read_metrics();
      r.incomplete_rows = m.incomplete_rows;
      if (!m.rows.empty() || std::filesystem::exists(dir.metrics_path())) {
        r.metric_columns = m.column_names();
        r.metrics.resize(r.metric_columns.size());
        for (std::size_t c = 0; c < r.metric_columns.size(); ++c)
          m.column(r.metric_columns[c], &r.metrics[c]);
      }
    } catch (const std::exception& e) {
      r.metric_columns.clear();
      r.metrics.clear();
      r.problem = std::string("unreadable metrics.csv: ") + e.what();
    }
    if (dir.has_config()) {
      try {
        r.config_json = read_text(dir.config_path());
      } catch (const std::exception& e) {
        r.problem += (r.problem.empty() ? "" : "; ") + std::string(e.what());
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

RunSummaryRow summarize_run(const CollectedRun& r) {
  RunSummaryRow d;
  d.final_val_loss = r.final_value("val_loss");
  d.final_val_ppl = r.final_value("val_ppl");
  d.final_old_val_loss = r.final_value("old_val_loss");
  d.final_old_val_ppl = r.final_value("old_val_ppl");
  d.initial_val_ppl = r.initial_value("val_ppl");
  d.initial_old_val_ppl = r.initial_value("old_val_ppl");
  d.norm_val_ppl = d.final_val_ppl / d.initial_val_ppl;
  d.norm_old_val_ppl = d.final_old_val_ppl / d.initial_old_val_ppl;
  d.last_step = r.final_value("step");
  d.final_val_acc = r.final_value("val_acc");
  d.final_old_val_acc = r.final_value("old_val_acc");
  return d;
}

std::vector<std::string> write_results(const ExperimentSpec& spec,
                                       const std::vector<CollectedRun>& runs,
                                       const std::string& out_h5) {
  std::string stem = out_h5;
  if (stem.size() > 3 && stem.compare(stem.size() - 3, 3, ".h5") == 0)
    stem = stem.substr(0, stem.size() - 3);
  const std::string runs_csv = stem + "_runs.csv", metrics_csv = stem + "_metrics.csv";
  const std::string suffix = ".tmp." + std::to_string(::getpid());
  const RunsTable t = runs_table(runs);
  // On any failure (full disk, unwritable directory) no temporary file is left behind.
  TempFiles temps({out_h5 + suffix, runs_csv + suffix, metrics_csv + suffix});

  try {  // HDF5
    H5Writer h(out_h5 + suffix);
    h.attr("/", "format", std::string("muft-sweep-results"));
    h.attr_int("/", "format_version", 1);
    h.attr("/", "spec_name", spec.name);
    h.attr("/", "spec_path", spec.source_path);
    h.attr("/", "spec_toml", spec.source_text);
    h.attr("/", "out_dir", spec.out_dir);
    h.attr_int("/", "n_runs", static_cast<long long>(runs.size()));
    h.ensure_group("/runs");
    for (const auto& r : runs) {
      const std::string g = "/runs/" + r.spec.id;
      h.ensure_group(g);
      for (std::size_t i = 0; i < t.text_cols.size(); ++i) {
        const std::size_t row = static_cast<std::size_t>(&r - runs.data());
        h.attr(g, t.text_cols[i], t.text[i][row]);
      }
      for (std::size_t i = 0; i < t.num_cols.size(); ++i) {
        const std::size_t row = static_cast<std::size_t>(&r - runs.data());
        h.attr(g, t.num_cols[i], t.nums[i][row]);
      }
      h.attr(g, "config_json", r.config_json);
      h.attr(g, "dir", r.spec.dir);
      for (const auto& [group, pts] : r.series) {
        const std::string sg = g + "/series/" + group;
        h.ensure_group(sg);
        std::vector<double> steps, tensors;
        std::map<std::string, std::vector<double>> mean, sd;
        for (const auto& p : pts) {
          steps.push_back(p.step);
          tensors.push_back(static_cast<double>(p.tensors));
          for (const auto& [k, v] : p.mean) mean[k].push_back(v);
          for (const auto& [k, v] : p.std) sd[k].push_back(v);
        }
        h.dataset(sg + "/step", steps);
        h.dataset(sg + "/tensors", tensors);
        for (const auto& [k, v] : mean)
          if (v.size() == pts.size()) h.dataset(sg + "/" + k, v);
        for (const auto& [k, v] : sd)
          if (v.size() == pts.size()) h.dataset(sg + "/" + k + "_std", v);
      }
      if (!r.metric_columns.empty()) {
        h.ensure_group(g + "/metrics");
        for (std::size_t c = 0; c < r.metric_columns.size(); ++c)
          h.dataset(g + "/metrics/" + r.metric_columns[c], r.metrics[c]);
      }
    }
    h.ensure_group("/table");
    for (std::size_t i = 0; i < t.text_cols.size(); ++i)
      h.dataset("/table/" + t.text_cols[i], t.text[i]);
    for (std::size_t i = 0; i < t.num_cols.size(); ++i)
      h.dataset("/table/" + t.num_cols[i], t.nums[i]);
    h.close();
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("cannot write " + out_h5 + ": " + e.what());
  }

  {  // runs CSV
    errno = 0;
    std::ofstream out(runs_csv + suffix);
    std::string header;
    for (const auto& c : t.text_cols) header += (header.empty() ? "" : ",") + c;
    for (const auto& c : t.num_cols) header += "," + c;
    out << header << "\n";
    for (std::size_t row = 0; row < runs.size(); ++row) {
      std::string line;
      for (std::size_t i = 0; i < t.text_cols.size(); ++i)
        line += (i ? "," : "") + stats::csv_escape(t.text[i][row]);
      for (std::size_t i = 0; i < t.num_cols.size(); ++i) line += "," + num(t.nums[i][row]);
      out << line << "\n";
    }
    out.close();
    if (!out) throw std::runtime_error(write_error(runs_csv));
  }
  {  // metrics CSV (long format)
    errno = 0;
    std::ofstream out(metrics_csv + suffix);
    // The core columns, then every task column of any run, in order of first appearance.
    std::vector<std::string> columns;
    for (const auto& c : rundir::kCoreColumns) columns.emplace_back(c.name);
    for (const auto& r : runs)
      for (const auto& c : r.metric_columns)
        if (std::find(columns.begin(), columns.end(), c) == columns.end()) columns.push_back(c);
    out << "id";
    for (const auto& c : columns) out << "," << c;
    out << "\n";
    for (const auto& r : runs) {
      for (std::size_t i = 0; i < r.rows(); ++i) {
        out << stats::csv_escape(r.spec.id);
        for (const auto& c : columns) {
          const auto* col = r.column(c);
          out << "," << num(col ? (*col)[i] : kNaN);
        }
        out << "\n";
      }
    }
    out.close();
    if (!out) throw std::runtime_error(write_error(metrics_csv));
  }
  rename_into_place(out_h5 + suffix, out_h5);
  rename_into_place(runs_csv + suffix, runs_csv);
  rename_into_place(metrics_csv + suffix, metrics_csv);
  temps.keep();
  return {out_h5, runs_csv, metrics_csv};
}

}  // namespace muft::sweep
