/// \file batch.cpp
/// Planning and running the per-matrix jobs of spectra / diff / series on a thread pool.

#include "muft/analysis/batch.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "muft/analysis/inputs.h"
#include "muft/checkpoint/checkpoint.h"
#include "muft/checkpoint/tensor_source.h"

namespace muft::analysis {

namespace ck = muft::checkpoint;

const char* kind_name(RecordKind k) {
  switch (k) {
    case RecordKind::Matrix:
      return "matrix";
    case RecordKind::LoraA:
      return "lora_A";
    case RecordKind::LoraB:
      return "lora_B";
    case RecordKind::LoraDelta:
      return "lora_delta";
    case RecordKind::Total:
      return "total";
    case RecordKind::File:
      return "file";
  }
  return "?";
}

// ---------------------------------------------------------------- filters and name maps

TensorFilter::TensorFilter(const std::vector<std::string>& include,
                           const std::vector<std::string>& exclude) {
  auto compile = [](const std::string& p, const char* what) {
    try {
      return std::regex(p, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw std::invalid_argument(std::string("invalid ") + what + " regex '" + p +
                                  "': " + e.what());
    }
  };
  for (const auto& p : include) include_.push_back(compile(p, "--include"));
  for (const auto& p : exclude) exclude_.push_back(compile(p, "--exclude"));
}

bool TensorFilter::accepts(const std::string& name) const {
  auto hit = [&](const std::regex& re) { return std::regex_search(name, re); };
  if (!include_.empty() && std::none_of(include_.begin(), include_.end(), hit)) return false;
  return std::none_of(exclude_.begin(), exclude_.end(), hit);
}

NameMap::NameMap(const std::vector<std::string>& rules) {
  for (const std::string& r : rules) {
    const std::size_t sep = r.find("=>");
    if (sep == std::string::npos) {
      throw std::invalid_argument("--map rule must be 'regex=>replacement', got '" + r + "'");
    }
    try {
      rules_.emplace_back(std::regex(r.substr(0, sep), std::regex::ECMAScript), r.substr(sep + 2));
    } catch (const std::regex_error& e) {
      throw std::invalid_argument("invalid --map regex in '" + r + "': " + e.what());
    }
  }
}

std::string NameMap::apply(const std::string& name) const {
  std::string out = name;
  for (const auto& [re, rep] : rules_) out = std::regex_replace(out, re, rep);
  return out;
}

// ---------------------------------------------------------------- options

bool BatchOptions::IsValid(std::string* error) const {
  std::string why;
  if (!metrics.IsValid(&why)) {
    // why is set
  } else if (jobs < 0) {
    why = "--jobs must be >= 0 (0 = all cores), got " + std::to_string(jobs);
  } else if (!std::isnan(lora_alpha) && !std::isfinite(lora_alpha)) {
    why = "--lora-alpha must be finite";
  } else if (!std::isnan(lora_rank) && !(lora_rank > 0)) {
    why = "--lora-rank must be > 0";
  } else {
    try {
      TensorFilter f(include, exclude);
    } catch (const std::invalid_argument& e) {
      why = e.what();
    }
  }
  if (!why.empty() && error) *error = why;
  return why.empty();
}

int BatchOptions::resolved_jobs() const {
  if (jobs > 0) return jobs;
  return std::max(1u, std::thread::hardware_concurrency());
}

// ---------------------------------------------------------------- tables

namespace {

const std::vector<std::string> kMetricColumns = {"frobenius_norm", "spectral_norm",  "nuclear_norm",
                                                 "max_abs",        "stable_rank",    "svd_entropy",
                                                 "effective_rank", "numerical_rank", "rank_tol"};

double metric_value(const MatrixMetrics& m, const std::string& name) {
  if (name == "frobenius_norm") return m.frobenius_norm;
  if (name == "spectral_norm") return m.spectral_norm;
  if (name == "nuclear_norm") return m.nuclear_norm;
  if (name == "max_abs") return m.max_abs;
  if (name == "stable_rank") return m.stable_rank;
  if (name == "svd_entropy") return m.svd_entropy;
  if (name == "effective_rank") return m.effective_rank;
  if (name == "numerical_rank") return m.numerical_rank;
  if (name == "rank_tol") return m.rank_tol;
  return NAN;
}

double record_value(const Record& r, const std::string& name) {
  if (name == "l2_distance") return r.diff.l2_distance;
  if (name == "relative_distance") return r.diff.relative_distance;
  if (name == "cosine_distance") return r.diff.cosine_distance;
  return metric_value(r.metrics, name);
}

}  // namespace

std::vector<Column> record_columns(TableKind kind, bool spectrum) {
  using T = ColumnType;
  std::vector<Column> c;
  if (kind == TableKind::Series) c.insert(c.end(), {{"run", T::String}, {"step", T::Number}});
  c.insert(c.end(), {{"file", T::String},
                     {"format", T::String},
                     {"tensor", T::String},
                     {"kind", T::String},
                     {"group", T::String},
                     {"dtype", T::String},
                     {"rows", T::Number},
                     {"cols", T::Number}});
  if (kind == TableKind::Diff) {
    c.insert(c.end(), {{"base_file", T::String},
                       {"base_tensor", T::String},
                       {"l2_distance", T::Number},
                       {"relative_distance", T::Number},
                       {"cosine_distance", T::Number},
                       {"weight_norm", T::Number},
                       {"base_norm", T::Number},
                       {"l2_ratio", T::Number},
                       {"relative_ratio", T::Number},
                       {"cosine_ratio", T::Number}});
  }
  for (const auto& m : kMetricColumns) c.push_back({m, T::Number});
  c.insert(c.end(), {{"status", T::String}, {"reason", T::String}});
  if (spectrum) c.push_back({"singular_values", T::Vector});
  return c;
}

std::vector<Cell> record_cells(const Record& r, TableKind kind, bool spectrum) {
  // emplace_back one at a time: initializer lists of variants trip GCC 12's
  // -Wmaybe-uninitialized.
  std::vector<Cell> c;
  auto str = [&c](const std::string& v) { c.emplace_back(std::in_place_type<std::string>, v); };
  auto num = [&c](double v) { c.emplace_back(std::in_place_type<double>, v); };
  if (kind == TableKind::Series) {
    str(r.run);
    num(r.step);
  }
  str(r.file);
  str(r.format);
  str(r.tensor);
  str(kind_name(r.kind));
  str(r.group);
  str(r.dtype);
  num(static_cast<double>(r.metrics.rows));
  num(static_cast<double>(r.metrics.cols));
  if (kind == TableKind::Diff) {
    str(r.base_file);
    str(r.base_tensor);
    for (double v : {r.diff.l2_distance, r.diff.relative_distance, r.diff.cosine_distance,
                     r.diff.norm, r.diff.base_norm, r.l2_ratio, r.relative_ratio, r.cosine_ratio}) {
      num(v);
    }
  }
  for (const auto& m : kMetricColumns) num(metric_value(r.metrics, m));
  str(status_name(r.metrics.status));
  str(r.metrics.reason);
  if (spectrum) c.emplace_back(std::in_place_type<std::vector<double>>, r.metrics.singular_values);
  return c;
}

std::vector<std::string> series_metric_names(bool diff) {
  std::vector<std::string> n = {"frobenius_norm", "spectral_norm", "nuclear_norm",
                                "max_abs",        "stable_rank",   "svd_entropy",
                                "effective_rank", "numerical_rank"};
  if (diff) n.insert(n.end(), {"l2_distance", "relative_distance", "cosine_distance"});
  return n;
}

std::vector<Column> group_columns(bool diff) {
  using T = ColumnType;
  std::vector<Column> c = {{"run", T::String},   {"file", T::String},      {"step", T::Number},
                           {"group", T::String}, {"n_tensors", T::Number}, {"n_failed", T::Number}};
  for (const auto& m : series_metric_names(diff)) {
    c.push_back({m, T::Number});
    c.push_back({m + "_std", T::Number});
  }
  return c;
}

std::vector<Cell> group_cells(const GroupRecord& g, bool diff) {
  std::vector<Cell> c;
  auto str = [&c](const std::string& v) { c.emplace_back(std::in_place_type<std::string>, v); };
  auto num = [&c](double v) { c.emplace_back(std::in_place_type<double>, v); };
  str(g.run);
  str(g.file);
  num(g.step);
  str(g.group);
  num(static_cast<double>(g.tensors));
  num(static_cast<double>(g.failed));
  for (const auto& m : series_metric_names(diff)) {
    const auto it = g.stats.find(m);
    num(it == g.stats.end() ? NAN : it->second.first);
    num(it == g.stats.end() ? NAN : it->second.second);
  }
  return c;
}

// ---------------------------------------------------------------- runner

namespace {

/// One planned job: computes records for one matrix or LoRA pair.
struct Job {
  double cost = 0;
  std::size_t unit = 0;
  Record proto;  ///< identifying fields, used for the error row if fn throws
  std::function<std::vector<Record>()> fn;
};

/// Serializes sinks, counts, and per-unit completion.
class Runner {
 public:
  using OnDone = std::function<std::vector<Record>(const std::vector<Record>&)>;

  Runner(const BatchOptions& opts, RecordSink sink) : opts_(opts), sink_(std::move(sink)) {}

  /// A unit is one checkpoint.
  std::size_t add_unit() {
    units_.emplace_back();
    return units_.size() - 1;
  }
  /// on_done gets the unit's records once all of its jobs are finished (serialized with the
  /// sink); the records it returns are delivered after them.
  void set_on_done(std::size_t unit, OnDone on_done) { units_[unit].on_done = std::move(on_done); }
  void add_job(Job j) {
    ++units_[j.unit].pending;
    jobs_.push_back(std::move(j));
  }
  /// A record known at planning time (error rows); belongs to `unit`.
  void emit_now(std::size_t unit, const Record& r) {
    std::lock_guard<std::mutex> lock(mu_);
    deliver(unit, r);  // planning runs on the caller's thread: exceptions reach the caller
  }
  void count_skipped() { ++summary_.skipped; }

  BatchSummary run() {
    const auto t0 = std::chrono::steady_clock::now();
    total_ = jobs_.size();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (std::size_t u = 0; u < units_.size(); ++u) maybe_finish(u);
    }
    const int jobs = opts_.resolved_jobs();
    double total_cost = 0;
    for (const Job& j : jobs_) total_cost += j.cost;
    std::vector<std::size_t> big, small;
    for (std::size_t i = 0; i < jobs_.size(); ++i) {
      (jobs > 1 && jobs_[i].cost * jobs >= total_cost ? big : small).push_back(i);
    }
    auto by_cost = [&](std::size_t a, std::size_t b) { return jobs_[a].cost > jobs_[b].cost; };
    std::sort(big.begin(), big.end(), by_cost);
    std::sort(small.begin(), small.end(), by_cost);
    // Dominant matrices: one at a time, all cores inside BLAS.
    set_blas_threads(jobs);
    for (std::size_t i : big) execute(i);
    // The rest: `jobs` at a time, one BLAS thread each.
    set_blas_threads(1);
    std::atomic<std::size_t> next{0};
    auto worker = [&] {
      for (std::size_t k = next++; k < small.size(); k = next++) execute(small[k]);
    };
    const int nthreads = std::min<int>(jobs, static_cast<int>(small.size()));
    std::vector<std::thread> pool;
    for (int t = 1; t < nthreads; ++t) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
    set_blas_threads(jobs);
    if (sink_error_) std::rethrow_exception(sink_error_);
    summary_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return summary_;
  }

 private:
  struct Unit {
    std::size_t pending = 0;
    std::vector<Record> records;
    OnDone on_done;
    bool done = false;
  };

  void execute(std::size_t i) {
    Job& j = jobs_[i];
    std::vector<Record> out;
    try {
      out = j.fn();
    } catch (const std::exception& e) {
      Record r = j.proto;
      r.metrics.status = MetricStatus::Error;
      r.metrics.reason = e.what();
      out = {r};
    }
    j.fn = nullptr;  // release captured buffers early
    std::lock_guard<std::mutex> lock(mu_);
    try {
      for (const Record& r : out) deliver(j.unit, r);
      --units_[j.unit].pending;
      maybe_finish(j.unit);
      ++done_;
      if (opts_.progress) opts_.progress(done_, total_);
    } catch (...) {
      // A sink that throws (e.g. the disk is full) must not terminate a worker thread: keep the
      // first exception and rethrow it from run() once the pool has stopped.
      if (!sink_error_) sink_error_ = std::current_exception();
    }
  }

  void deliver(std::size_t unit, const Record& r) {
    ++summary_.rows;
    ++summary_.by_status[status_name(r.metrics.status)];
    if (r.failed()) {
      ++summary_.failed;
      if (summary_.errors.size() < 20) {
        const std::string where =
            r.file + (r.tensor.empty() ? (r.base_tensor.empty() ? "" : ": " + r.base_tensor)
                                       : ": " + r.tensor);
        const bool has_where = r.metrics.reason.compare(0, where.size(), where) == 0;
        summary_.errors.push_back(has_where ? r.metrics.reason : where + ": " + r.metrics.reason);
      }
    }
    if (sink_) sink_(r);
    if (units_[unit].on_done) {
      Record kept = r;
      kept.metrics.singular_values.clear();
      units_[unit].records.push_back(std::move(kept));
    }
  }

  void maybe_finish(std::size_t u) {
    Unit& unit = units_[u];
    if (unit.done || unit.pending > 0) return;
    unit.done = true;
    OnDone cb = std::move(unit.on_done);
    unit.on_done = nullptr;
    std::vector<Record> extra;
    if (cb) extra = cb(unit.records);
    unit.records.clear();
    for (const Record& r : extra) deliver(u, r);
  }

  const BatchOptions& opts_;
  RecordSink sink_;
  std::vector<Job> jobs_;
  std::vector<Unit> units_;
  std::mutex mu_;
  BatchSummary summary_;
  std::size_t done_ = 0, total_ = 0;
  std::exception_ptr sink_error_;
};

/// A matrix read from a source: float for F32/F16/BF16 (lossless), double for F64.
struct Loaded {
  std::vector<float> f;
  std::vector<double> d;
  bool is_double = false;
};

Loaded load(const ck::TensorSource& src, const ck::TensorInfo& info) {
  Loaded l;
  l.is_double = info.dtype == ck::DType::F64;
  if (l.is_double) {
    src.read(info.name, l.d);
  } else {
    src.read(info.name, l.f);
  }
  return l;
}

/// A row-major (rows, cols) matrix as an Eigen (col-major) matrix, in double.
Eigen::MatrixXd load_eigen(const ck::TensorSource& src, const ck::TensorInfo& info) {
  const auto [rows, cols] = info.matrix_shape();
  std::vector<double> d;
  src.read(info.name, d);
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  return Eigen::Map<const RowMajor>(d.data(), rows, cols);
}

double job_cost(int64_t rows, int64_t cols) {
  return static_cast<double>(rows) * static_cast<double>(cols) *
         static_cast<double>(std::max<int64_t>(1, std::min(rows, cols)));
}

bool analyzable(const ck::TensorInfo& info) {
  return info.matrix_shape().first > 0 && ck::is_floating(info.dtype) && info.skip_reason.empty();
}

std::string shape_text(const std::pair<int64_t, int64_t>& s) {
  return std::to_string(s.first) + "x" + std::to_string(s.second);
}

/// Fields every row of one checkpoint shares.
struct FileContext {
  std::size_t unit = 0;
  std::string path, format, run;
  double step = NAN;
  std::shared_ptr<const ck::TensorSource> src;
  LoraScale lora_scale;
  std::string lora_note;  ///< reason text when the LoRA scale had to be assumed
};

Record proto_record(const FileContext& fc, const std::string& tensor, RecordKind kind,
                    const BatchOptions& opts) {
  Record r;
  r.file = fc.path;
  r.format = fc.format;
  r.run = fc.run;
  r.step = fc.step;
  r.tensor = tensor;
  r.kind = kind;
  r.group = opts.groups.classify(tensor);
  return r;
}

Record error_record(Record r, const std::string& reason) {
  r.metrics.status = MetricStatus::Error;
  r.metrics.reason = reason;
  return r;
}

/// Opens a checkpoint; on failure emits a File error row and returns null.
std::shared_ptr<const ck::TensorSource> open_or_report(Runner& runner, FileContext& fc,
                                                       const BatchOptions& opts) {
  try {
    std::shared_ptr<const ck::TensorSource> src = ck::open_source(fc.path);
    fc.format = src->format();
    return src;
  } catch (const std::exception& e) {
    Record r = proto_record(fc, "", RecordKind::File, opts);
    r.group = "";
    runner.emit_now(fc.unit, error_record(r, e.what()));
    return nullptr;
  }
}

/// The LoRA scale of a checkpoint: flags, else adapter_config.json beside it, else 1.
void resolve_lora_scale(FileContext& fc, const BatchOptions& opts) {
  fc.lora_scale.alpha = opts.lora_alpha;
  fc.lora_scale.rank = opts.lora_rank;
  if (!std::isnan(opts.lora_alpha)) return;
  namespace fs = std::filesystem;
  fs::path p(fc.path);
  const fs::path dir = fs::is_directory(p) ? p : p.parent_path();
  std::optional<LoraScale> cfg;
  try {
    cfg = read_adapter_config((dir / "adapter_config.json").string());
  } catch (const std::exception& e) {
    fc.lora_note = e.what();
  }
  if (cfg) {
    fc.lora_scale.alpha = cfg->alpha;
    fc.lora_scale.rslora = cfg->rslora;
    if (std::isnan(opts.lora_rank)) fc.lora_scale.rank = cfg->rank;
  }
  if (std::isnan(fc.lora_scale.alpha)) {
    fc.lora_note = "LoRA scale unknown (no --lora-alpha, no adapter_config.json): s = 1 assumed";
  }
}

/// B (out × r) and A (r × in) of a pair; accepts the transposed convention (A in × r, B r × out).
std::pair<Eigen::MatrixXd, Eigen::MatrixXd> load_lora(const ck::TensorSource& src,
                                                      const ck::TensorInfo& a_info,
                                                      const ck::TensorInfo& b_info) {
  Eigen::MatrixXd A = load_eigen(src, a_info), B = load_eigen(src, b_info);
  if (B.cols() == A.rows()) return {B, A};
  if (A.cols() == B.rows()) return {B.transpose(), A.transpose()};
  throw std::runtime_error("LoRA factors do not chain: A is " + shape_text(a_info.matrix_shape()) +
                           ", B is " + shape_text(b_info.matrix_shape()));
}

const ck::TensorInfo* find_info(const ck::TensorSource& src, const std::string& name) {
  for (const auto& t : src.tensors()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

/// Jobs for the plain metrics of every selected matrix of a checkpoint, and its LoRA pairs.
void plan_spectra(Runner& runner, FileContext fc, const BatchOptions& opts,
                  const TensorFilter& filter) {
  const auto src = fc.src;
  std::vector<std::string> names;
  for (const auto& info : src->tensors()) {
    if (!filter.accepts(info.name)) continue;
    if (!analyzable(info)) {
      runner.count_skipped();
      continue;
    }
    names.push_back(info.name);
    const auto [rows, cols] = info.matrix_shape();
    std::string module;
    char role = 0;
    const RecordKind kind = !parse_lora_name(info.name, &module, &role) ? RecordKind::Matrix
                            : role == 'A'                               ? RecordKind::LoraA
                                                                        : RecordKind::LoraB;
    Job j;
    j.cost = job_cost(rows, cols);
    j.unit = fc.unit;
    j.proto = proto_record(fc, info.name, kind, opts);
    j.proto.dtype = ck::dtype_name(info.dtype);
    j.proto.metrics.rows = rows;
    j.proto.metrics.cols = cols;
    j.fn = [src, info, rows = rows, cols = cols, proto = j.proto, &opts]() {
      Loaded l = load(*src, info);
      Record r = proto;
      r.metrics = l.is_double ? compute_metrics(l.d.data(), rows, cols, opts.metrics)
                              : compute_metrics(l.f.data(), rows, cols, opts.metrics);
      return std::vector<Record>{r};
    };
    runner.add_job(std::move(j));
  }
  if (!opts.lora) return;
  for (const LoraPair& p : find_lora_pairs(names, nullptr)) {
    const ck::TensorInfo* a = find_info(*src, p.a_name);
    const ck::TensorInfo* b = find_info(*src, p.b_name);
    Job j;
    j.cost = job_cost(b->matrix_shape().first, a->matrix_shape().second) / 64;
    j.unit = fc.unit;
    j.proto = proto_record(fc, p.module + ".lora_delta", RecordKind::LoraDelta, opts);
    j.proto.group = opts.groups.classify(p.module) + ".lora_delta";
    j.proto.dtype = ck::dtype_name(a->dtype);
    j.fn = [src, a = *a, b = *b, proto = j.proto, fc, &opts]() {
      auto [B, A] = load_lora(*src, a, b);
      Record r = proto;
      r.metrics = lora_delta_metrics(B, A, fc.lora_scale.scale(A.rows()), opts.metrics);
      if (r.metrics.reason.empty()) r.metrics.reason = fc.lora_note;
      return std::vector<Record>{r};
    };
    runner.add_job(std::move(j));
  }
}

/// Jobs for the diff of one checkpoint against the base.
void plan_diff(Runner& runner, FileContext fc, const ck::TensorSource& base_ref,
               std::shared_ptr<const ck::TensorSource> base, const NameMap& map,
               const DiffOptions& dopts, const BatchOptions& opts, const TensorFilter& filter) {
  const auto src = fc.src;
  std::unordered_map<std::string, const ck::TensorInfo*> base_index;
  for (const auto& t : base_ref.tensors()) base_index[t.name] = &t;
  std::set<std::string> matched_base;
  std::vector<std::string> names;
  for (const auto& info : src->tensors()) {
    if (!filter.accepts(info.name)) continue;
    if (!analyzable(info)) {
      runner.count_skipped();
      continue;
    }
    names.push_back(info.name);
  }
  const std::vector<LoraPair> pairs =
      opts.lora ? find_lora_pairs(names, nullptr) : std::vector<LoraPair>{};
  for (const std::string& name : names) {
    const ck::TensorInfo& info = *find_info(*src, name);
    const auto [rows, cols] = info.matrix_shape();
    std::string module;
    char role = 0;
    Record proto = proto_record(fc, name, RecordKind::Matrix, opts);
    proto.is_diff = true;
    proto.dtype = ck::dtype_name(info.dtype);
    proto.metrics.rows = rows;
    proto.metrics.cols = cols;
    proto.base_file = base_ref.path();
    if (opts.lora && parse_lora_name(name, &module, &role)) {
      // A LoRA factor has no counterpart in the base: its own metrics, no distances.
      proto.kind = role == 'A' ? RecordKind::LoraA : RecordKind::LoraB;
      Job j{job_cost(rows, cols), fc.unit, proto, nullptr};
      j.fn = [src, info, rows = rows, cols = cols, proto, &opts]() {
        Loaded l = load(*src, info);
        Record r = proto;
        r.metrics = l.is_double ? compute_metrics(l.d.data(), rows, cols, opts.metrics)
                                : compute_metrics(l.f.data(), rows, cols, opts.metrics);
        return std::vector<Record>{r};
      };
      runner.add_job(std::move(j));
      continue;
    }
    const std::string base_name = map.apply(name);
    proto.base_tensor = base_name;
    const auto it = base_index.find(base_name);
    if (it == base_index.end()) {
      runner.emit_now(fc.unit, error_record(proto, "tensor '" + base_name + "' not in base"));
      continue;
    }
    matched_base.insert(base_name);
    const ck::TensorInfo binfo = *it->second;
    if (binfo.matrix_shape() != info.matrix_shape() || !ck::is_floating(binfo.dtype)) {
      runner.emit_now(
          fc.unit, error_record(proto, "shape mismatch: " + shape_text(info.matrix_shape()) +
                                           " vs base " + shape_text(binfo.matrix_shape()) + " (" +
                                           ck::dtype_name(binfo.dtype) + ")"));
      continue;
    }
    Job j{job_cost(rows, cols), fc.unit, proto, nullptr};
    j.fn = [src, base, info, binfo, rows = rows, cols = cols, proto, &opts]() {
      Record r = proto;
      DiffMetrics d;
      if (info.dtype == ck::DType::F64 || binfo.dtype == ck::DType::F64) {
        std::vector<double> w, w0;
        src->read(info.name, w);
        base->read(binfo.name, w0);
        d = compute_diff(w.data(), w0.data(), rows, cols, opts.metrics);
      } else {
        std::vector<float> w, w0;
        src->read(info.name, w);
        base->read(binfo.name, w0);
        d = compute_diff(w.data(), w0.data(), rows, cols, opts.metrics);
      }
      r.metrics = std::move(d.delta);
      d.delta = MatrixMetrics{};
      r.diff = d;
      return std::vector<Record>{r};
    };
    runner.add_job(std::move(j));
  }
  for (const LoraPair& p : pairs) {
    const ck::TensorInfo a = *find_info(*src, p.a_name);
    const ck::TensorInfo b = *find_info(*src, p.b_name);
    Record proto = proto_record(fc, p.module + ".lora_delta", RecordKind::LoraDelta, opts);
    proto.group = opts.groups.classify(p.module) + ".lora_delta";
    proto.is_diff = true;
    proto.dtype = ck::dtype_name(a.dtype);
    proto.base_file = base_ref.path();
    proto.base_tensor = map.apply(p.base_name);
    const auto it = base_index.find(proto.base_tensor);
    if (it == base_index.end()) {
      runner.emit_now(
          fc.unit, error_record(proto, "LoRA base weight '" + proto.base_tensor + "' not in base"));
      continue;
    }
    matched_base.insert(proto.base_tensor);
    const ck::TensorInfo binfo = *it->second;
    const auto [rows, cols] = binfo.matrix_shape();
    proto.metrics.rows = rows;
    proto.metrics.cols = cols;
    Job j{job_cost(rows, cols) / 64, fc.unit, proto, nullptr};
    j.fn = [src, base, a, b, binfo, proto, fc, &opts]() {
      auto [B, A] = load_lora(*src, a, b);
      const auto [rows, cols] = binfo.matrix_shape();
      if (B.rows() != rows || A.cols() != cols) {
        throw std::runtime_error("LoRA update is " + std::to_string(B.rows()) + "x" +
                                 std::to_string(A.cols()) + " but base weight is " +
                                 shape_text(binfo.matrix_shape()));
      }
      std::vector<double> w0;
      base->read(binfo.name, w0);
      DiffMetrics d = lora_diff(w0.data(), B, A, fc.lora_scale.scale(A.rows()), opts.metrics);
      Record r = proto;
      r.metrics = std::move(d.delta);
      if (r.metrics.reason.empty()) r.metrics.reason = fc.lora_note;
      d.delta = MatrixMetrics{};
      r.diff = d;
      return std::vector<Record>{r};
    };
    runner.add_job(std::move(j));
  }
  if (dopts.report_missing && pairs.empty()) {
    for (const auto& t : base_ref.tensors()) {
      if (!analyzable(t) || !filter.accepts(t.name) || matched_base.count(t.name)) continue;
      Record proto = proto_record(fc, "", RecordKind::Matrix, opts);
      proto.is_diff = true;
      proto.base_file = base_ref.path();
      proto.base_tensor = t.name;
      proto.group = opts.groups.classify(t.name);
      runner.emit_now(fc.unit,
                      error_record(proto, "base tensor '" + t.name + "' missing from checkpoint"));
    }
  }
}

/// Record for the whole checkpoint, from the distances of its diffed tensors.
Record total_record(const FileContext& fc, const std::vector<Record>& recs,
                    const std::string& base_path) {
  DiffTotals totals;
  for (const Record& r : recs) {
    if (r.is_diff && !r.failed() &&
        (r.kind == RecordKind::Matrix || r.kind == RecordKind::LoraDelta)) {
      totals.add(r.diff);
    }
  }
  Record t;
  t.file = fc.path;
  t.format = fc.format;
  t.run = fc.run;
  t.step = fc.step;
  t.tensor = "__total__";
  t.kind = RecordKind::Total;
  t.is_diff = true;
  t.base_file = base_path;
  t.diff = totals.total();
  t.metrics.rows = static_cast<int64_t>(totals.tensors);
  t.metrics.cols = 0;
  t.metrics.frobenius_norm = t.diff.l2_distance;
  t.metrics.reason = std::to_string(totals.tensors) + " tensors";
  return t;
}

GroupRecord aggregate(const FileContext& fc, const std::string& group,
                      const std::vector<const Record*>& recs, bool diff) {
  GroupRecord g;
  g.run = fc.run;
  g.file = fc.path;
  g.step = fc.step;
  g.group = group;
  for (const Record* r : recs) (r->metrics.status == MetricStatus::Ok ? g.tensors : g.failed)++;
  for (const std::string& m : series_metric_names(diff)) {
    double s = 0, s2 = 0;
    std::size_t n = 0;
    for (const Record* r : recs) {
      if (r->metrics.status != MetricStatus::Ok) continue;
      const double v = record_value(*r, m);
      if (!std::isfinite(v)) continue;
      s += v;
      ++n;
    }
    const double mean = n ? s / n : NAN;
    for (const Record* r : recs) {
      if (r->metrics.status != MetricStatus::Ok) continue;
      const double v = record_value(*r, m);
      if (std::isfinite(v)) s2 += (v - mean) * (v - mean);
    }
    g.stats[m] = {mean, n > 1 ? std::sqrt(s2 / (n - 1)) : (n == 1 ? 0.0 : NAN)};
  }
  return g;
}

void check_options(const BatchOptions& opts) {
  std::string why;
  if (!opts.IsValid(&why)) throw std::invalid_argument(why);
}

}  // namespace

BatchSummary run_spectra(const std::vector<std::string>& paths, const BatchOptions& opts,
                         const RecordSink& sink) {
  check_options(opts);
  const TensorFilter filter(opts.include, opts.exclude);
  Runner runner(opts, sink);
  for (const std::string& path : paths) {
    FileContext fc;
    fc.path = path;
    fc.unit = runner.add_unit();
    fc.src = open_or_report(runner, fc, opts);
    if (!fc.src) continue;
    resolve_lora_scale(fc, opts);
    plan_spectra(runner, fc, opts, filter);
  }
  return runner.run();
}

namespace {

/// Base (and reference) opened once; diff of each path planned against it.
BatchSummary diff_pass(const std::vector<std::string>& paths, const DiffOptions& dopts,
                       const std::shared_ptr<const ck::TensorSource>& base,
                       const BatchOptions& opts, const RecordSink& sink) {
  const TensorFilter filter(opts.include, opts.exclude);
  const NameMap map(dopts.map_rules);
  Runner runner(opts, sink);
  for (const std::string& path : paths) {
    FileContext fc;
    fc.path = path;
    fc.unit = runner.add_unit();
    fc.src = open_or_report(runner, fc, opts);
    if (!fc.src) continue;
    resolve_lora_scale(fc, opts);
    const std::string base_path = base->path();
    runner.set_on_done(fc.unit, [fc, base_path](const std::vector<Record>& recs) {
      return std::vector<Record>{total_record(fc, recs, base_path)};
    });
    plan_diff(runner, fc, *base, base, map, dopts, opts, filter);
  }
  return runner.run();
}

std::shared_ptr<const ck::TensorSource> open_base(const std::string& path, const char* what) {
  try {
    return ck::open_source(path);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string(what) + ": " + e.what());
  }
}

double ratio(double x, double ref) {
  return ref != 0 ? x / ref : NAN;
}

}  // namespace

BatchSummary run_diff(const std::vector<std::string>& paths, const DiffOptions& dopts,
                      const BatchOptions& opts, const RecordSink& sink) {
  check_options(opts);
  NameMap check_map(dopts.map_rules);  // validate before any work
  if (dopts.base.empty()) throw std::invalid_argument("diff needs --base BASE");
  const auto base = open_base(dopts.base, "cannot open base");
  if (dopts.relative_to.empty()) return diff_pass(paths, dopts, base, opts, sink);

  // Reference pass: its distances are the denominators of the ratio columns.
  std::unordered_map<std::string, DiffMetrics> ref;
  BatchOptions quiet = opts;
  quiet.progress = nullptr;
  BatchSummary summary = diff_pass({dopts.relative_to}, dopts, base, quiet, [&](const Record& r) {
    if (!r.failed()) ref[r.tensor] = r.diff;
  });
  if (summary.failed > 0 || ref.find("__total__") == ref.end()) {
    throw std::runtime_error("--relative-to " + dopts.relative_to + ": reference diff failed (" +
                             (summary.errors.empty() ? "no tensors" : summary.errors.front()) +
                             ")");
  }
  BatchSummary main = diff_pass(paths, dopts, base, opts, [&](const Record& r) {
    Record out = r;
    const auto it = ref.find(r.tensor);
    if (it != ref.end() && !r.failed()) {
      out.l2_ratio = ratio(r.diff.l2_distance, it->second.l2_distance);
      out.relative_ratio = ratio(r.diff.relative_distance, it->second.relative_distance);
      out.cosine_ratio = ratio(r.diff.cosine_distance, it->second.cosine_distance);
    }
    sink(out);
  });
  main.seconds += summary.seconds;
  return main;
}

BatchSummary run_series(const std::vector<std::string>& run_dirs, const SeriesOptions& sopts,
                        const BatchOptions& opts, const RecordSink& tensor_sink,
                        const std::function<void(const GroupRecord&)>& group_sink) {
  check_options(opts);
  const TensorFilter filter(opts.include, opts.exclude);
  const NameMap map(sopts.map_rules);
  const bool is_diff = !sopts.base.empty();
  std::shared_ptr<const ck::TensorSource> base;
  if (is_diff) base = open_base(sopts.base, "cannot open base");
  DiffOptions dopts;
  dopts.base = sopts.base;
  dopts.map_rules = sopts.map_rules;
  Runner runner(opts, tensor_sink);
  BatchSummary early;
  for (const std::string& dir : run_dirs) {
    std::vector<std::string> errors;
    const std::vector<std::string> files = run_checkpoints(dir, &errors);
    const std::string run = std::filesystem::path(dir).lexically_normal().filename().string();
    for (const std::string& e : errors) {
      FileContext fc;
      fc.path = dir;
      fc.run = run;
      fc.unit = runner.add_unit();
      Record r = proto_record(fc, "", RecordKind::File, opts);
      r.group = "";
      runner.emit_now(fc.unit, error_record(r, e));
    }
    for (const std::string& path : files) {
      FileContext fc;
      fc.path = path;
      fc.run = run.empty() ? dir : run;
      fc.unit = runner.add_unit();
      fc.src = open_or_report(runner, fc, opts);
      if (!fc.src) continue;
      // The step attribute of a muft checkpoint is authoritative; otherwise the file name.
      if (std::string(fc.src->format()) == "muft-hdf5") {
        try {
          fc.step = static_cast<double>(ck::read_checkpoint_metadata(path).step);
        } catch (const std::exception&) {
        }
      }
      if (std::isnan(fc.step)) {
        if (const auto step = step_from_name(path)) fc.step = static_cast<double>(*step);
      }
      resolve_lora_scale(fc, opts);
      runner.set_on_done(fc.unit, [fc, is_diff, &group_sink,
                                   base_path = sopts.base](const std::vector<Record>& recs) {
        std::map<std::string, std::vector<const Record*>> groups;
        for (const Record& r : recs) {
          if (r.kind != RecordKind::Total && r.kind != RecordKind::File)
            groups[r.group].push_back(&r);
        }
        if (group_sink) {
          for (const auto& [name, members] : groups)
            group_sink(aggregate(fc, name, members, is_diff));
        }
        return is_diff ? std::vector<Record>{total_record(fc, recs, base_path)}
                       : std::vector<Record>{};
      });
      if (is_diff) {
        plan_diff(runner, fc, *base, base, map, dopts, opts, filter);
      } else {
        plan_spectra(runner, fc, opts, filter);
      }
    }
  }
  return runner.run();
}

}  // namespace muft::analysis
