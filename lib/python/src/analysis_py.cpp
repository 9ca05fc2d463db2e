/// \file analysis_py.cpp
/// muft.metrics / muft.spectrum on arrays in memory, and the batch runner (muft.spectra,
/// muft.diff, muft.series) on files, with results as columns of the analyzer's column tables
/// (muft::analysis::record_table / group_table), so that Python and the CLI's CSV/JSONL/HDF5
/// outputs have the same columns by construction.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bindings.h"
#include "muft/analysis/batch.h"
#include "muft/analysis/columns.h"
#include "muft/analysis/inputs.h"
#include "muft/analysis/metrics.h"

namespace muft::python {
namespace {

namespace an = muft::analysis;

// ---- options ----

/// Hook for the ESD power-law metrics (`--esd` of muft-analyze, from another branch of work):
/// when muft::analysis::MetricOptions gains its option, set it here. Until then esd=True is
/// refused instead of returning a dict without the metrics the caller asked for.
void apply_esd_option(an::MetricOptions& opts, bool esd) {
  opts.esd.enabled = esd;
}

an::MetricOptions metric_options(const std::string& svd, const py::object& rank_tol, bool spectrum,
                                 bool esd) {
  an::MetricOptions o;
  o.method = an::parse_svd_method(svd);
  if (!rank_tol.is_none()) {
    o.rank_tol = rank_tol.cast<double>();
    if (!(o.rank_tol >= 0)) throw std::invalid_argument("rank_tol must be >= 0 (or None)");
  }
  o.keep_spectrum = spectrum;
  if (spectrum && o.method == an::SvdMethod::Fast) {
    throw std::invalid_argument("spectrum=True needs a full spectrum: use svd='gram' or 'exact'");
  }
  apply_esd_option(o, esd);
  std::string why;
  if (!o.IsValid(&why)) throw std::invalid_argument(why);
  return o;
}

/// The options every batch function takes (the CLI's common flags).
an::BatchOptions batch_options(const py::dict& kw) {
  an::BatchOptions o;
  o.metrics = metric_options(kw["svd"].cast<std::string>(), kw["rank_tol"],
                             kw["spectrum"].cast<bool>(), kw["esd"].cast<bool>());
  if (!kw["include"].is_none()) o.include = kw["include"].cast<std::vector<std::string>>();
  if (!kw["exclude"].is_none()) o.exclude = kw["exclude"].cast<std::vector<std::string>>();
  if (!kw["jobs"].is_none()) {
    o.jobs = kw["jobs"].cast<int>();
    if (o.jobs < 1) throw std::invalid_argument("jobs must be >= 1 (or None for all cores)");
  }
  o.lora = kw["lora"].cast<bool>();
  if (!kw["lora_alpha"].is_none()) o.lora_alpha = kw["lora_alpha"].cast<double>();
  if (!kw["lora_rank"].is_none()) o.lora_rank = kw["lora_rank"].cast<double>();
  if (!kw["groups"].is_none()) {
    o.groups = an::LayerGroups();
    for (const auto& rule : kw["groups"].cast<std::vector<std::string>>()) o.groups.add_rule(rule);
  }
  std::string why;
  if (!o.IsValid(&why)) throw std::invalid_argument(why);
  return o;
}

// ---- arrays ----

/// A matrix view of a Python array: row-major float32 or float64 data, kept alive by `array`.
struct MatrixView {
  py::array array;
  const void* data = nullptr;
  bool is_double = false;
  int64_t rows = 0, cols = 0;
  bool transposed = false;  ///< data holds Wᵀ (W was column-major): swap rows/cols back
};

std::string shape_text(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t d = 0; d < a.ndim(); ++d) s += (d ? ", " : "") + std::to_string(a.shape(d));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

/// W as a matrix without copying where numpy allows: float32/float64 in native byte order,
/// C-contiguous, or F-contiguous 2-D (read as its transpose: every metric is invariant under
/// transposition). Rank > 2 is reshaped to (dim0, rest) as the CLI does; float16 is widened to
/// float32; integer, bool and complex arrays are refused like integer tensors in checkpoints.
MatrixView matrix_view(const py::object& w) {
  const py::module_ np = py::module_::import("numpy");
  py::array a = np.attr("asarray")(w);
  if (a.ndim() < 2) {
    throw std::invalid_argument(
        "W must have at least 2 dimensions (rank > 2 is reshaped to "
        "(dim0, rest)), got shape " +
        shape_text(a));
  }
  const py::dtype dt = a.dtype();
  const char kind = dt.kind();
  if (kind != 'f') {
    throw std::invalid_argument("W has dtype " + dt.attr("name").cast<std::string>() +
                                ", which is not floating (float16, float32 or float64)");
  }
  if (dt.itemsize() == 2) {
    a = a.attr("astype")("float32");
  } else if (dt.itemsize() != 4 && dt.itemsize() != 8) {
    throw std::invalid_argument("W has dtype " + dt.attr("name").cast<std::string>() +
                                ": only float16, float32 and float64 are analyzed");
  }
  if (!a.dtype().attr("isnative").cast<bool>()) {
    a = a.attr("astype")(a.dtype().attr("newbyteorder")("="));
  }
  MatrixView v;
  const int c_contiguous = py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_;
  const int f_contiguous = py::detail::npy_api::NPY_ARRAY_F_CONTIGUOUS_;
  if (a.ndim() > 2) {
    const py::ssize_t rows = a.shape(0);
    a = np.attr("ascontiguousarray")(a);
    a = a.attr("reshape")(rows, -1);
  } else if (!(a.flags() & c_contiguous) && (a.flags() & f_contiguous)) {
    a = a.attr("T");
    v.transposed = true;
  } else if (!(a.flags() & c_contiguous)) {
    a = np.attr("ascontiguousarray")(a);
  }
  v.array = a;
  v.data = a.data();
  v.is_double = a.dtype().itemsize() == 8;
  v.rows = a.shape(0);
  v.cols = a.shape(1);
  return v;
}

an::MatrixMetrics compute(const MatrixView& v, const an::MetricOptions& o) {
  an::MatrixMetrics m;
  {
    py::gil_scoped_release unlocked;
    m = v.is_double ? an::compute_metrics(static_cast<const double*>(v.data), v.rows, v.cols, o)
                    : an::compute_metrics(static_cast<const float*>(v.data), v.rows, v.cols, o);
  }
  if (v.transposed) std::swap(m.rows, m.cols);
  return m;
}

/// The metrics of one matrix under the names of the analyzer's columns (matrix_metrics()).
py::dict metrics_dict(const an::MatrixMetrics& m, bool esd) {
  an::Record r;
  r.metrics = m;
  py::dict d;
  d["rows"] = m.rows;
  d["cols"] = m.cols;
  for (const an::RecordMetric& x : an::matrix_metrics()) d[text(x.name)] = x.get(r);
  if (esd)
    for (const an::RecordMetric& x : an::esd_metrics(false)) d[text(x.name)] = x.get(r);
  d["status"] = an::status_name(m.status);
  d["reason"] = text(m.reason);
  return d;
}

py::dict metrics(const py::object& w, const std::string& svd, const py::object& rank_tol,
                 bool spectrum, bool esd) {
  const an::MetricOptions o = metric_options(svd, rank_tol, spectrum, esd);
  const MatrixView v = matrix_view(w);
  const an::MatrixMetrics m = compute(v, o);
  py::dict d = metrics_dict(m, esd);
  if (spectrum) d["singular_values"] = to_numpy(m.singular_values);
  return d;
}

/// Python-side timing for bench/python_bench.py: seconds per compute_metrics call on W, measured
/// in C++ (no Python in the loop), so that the per-call overhead of muft.metrics can be told
/// apart from the computation.
double time_compute(const py::object& w, const std::string& svd, int repeats) {
  const an::MetricOptions o = metric_options(svd, py::none(), false, false);
  const MatrixView v = matrix_view(w);
  if (repeats < 1) throw std::invalid_argument("repeats must be >= 1");
  py::gil_scoped_release unlocked;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) {
    if (v.is_double) {
      an::compute_metrics(static_cast<const double*>(v.data), v.rows, v.cols, o);
    } else {
      an::compute_metrics(static_cast<const float*>(v.data), v.rows, v.cols, o);
    }
  }
  const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  return dt.count() / repeats;
}

py::array_t<double> spectrum(const py::object& w, const std::string& svd) {
  const an::SvdMethod method = an::parse_svd_method(svd);
  if (method == an::SvdMethod::Fast) {
    throw std::invalid_argument("spectrum needs every singular value: use svd='gram' or 'exact'");
  }
  const MatrixView v = matrix_view(w);
  Eigen::VectorXd sv;
  {
    py::gil_scoped_release unlocked;
    const std::size_t n = static_cast<std::size_t>(v.rows * v.cols);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double x = v.is_double ? static_cast<const double*>(v.data)[i]
                                   : static_cast<const float*>(v.data)[i];
      bad += std::isfinite(x) ? 0 : 1;
    }
    if (bad > 0) {
      throw std::invalid_argument("W has " + std::to_string(bad) +
                                  " non-finite entries (NaN/Inf): no singular values");
    }
    if (n > 0) {
      if (v.is_double) {
        const auto* p = static_cast<const double*>(v.data);
        sv = method == an::SvdMethod::Gram ? an::gram_singular_values(p, v.rows, v.cols)
                                           : an::exact_singular_values(p, v.rows, v.cols);
      } else {
        const auto* p = static_cast<const float*>(v.data);
        sv = method == an::SvdMethod::Gram ? an::gram_singular_values(p, v.rows, v.cols)
                                           : an::exact_singular_values(p, v.rows, v.cols);
      }
    }
  }
  return to_numpy(std::vector<double>(sv.data(), sv.data() + sv.size()));
}

// ---- tables ----

/// Columns of rows laid out by a column table: str, float64 or object (arrays) numpy columns.
template <class Row>
py::dict columns_dict(const an::ColumnTable<Row>& table, const std::vector<Row>& rows) {
  const py::module_ np = py::module_::import("numpy");
  py::dict out;
  for (const an::FieldColumn<Row>& col : table) {
    const py::str name = text(col.column.name);
    switch (col.column.type) {
      case an::ColumnType::String: {
        std::vector<std::string> v;
        v.reserve(rows.size());
        for (const Row& r : rows) v.push_back(std::get<std::string>(col.get(r)));
        out[name] = to_numpy_strings(v);
        break;
      }
      case an::ColumnType::Number: {
        std::vector<double> v;
        v.reserve(rows.size());
        for (const Row& r : rows) v.push_back(std::get<double>(col.get(r)));
        out[name] = to_numpy(std::move(v));
        break;
      }
      case an::ColumnType::Vector: {
        py::array a = np.attr("empty")(rows.size(), py::arg("dtype") = "object");
        for (std::size_t i = 0; i < rows.size(); ++i) {
          a.attr("__setitem__")(i, to_numpy(std::get<std::vector<double>>(col.get(rows[i]))));
        }
        out[name] = a;
        break;
      }
    }
  }
  return out;
}

/// The run's bookkeeping next to its rows: skipped tensors, notes, errors, counts, seconds.
py::dict summary_dict(const an::BatchSummary& s, const std::vector<std::string>& errors) {
  py::dict d;
  py::list skipped;
  for (const an::SkippedTensor& t : s.skipped_tensors) {
    skipped.append(py::make_tuple(text(t.file), text(t.tensor), text(t.reason)));
  }
  d["skipped"] = skipped;
  py::list notes, errs;
  for (const std::string& n : s.notes) notes.append(text(n));
  for (const std::string& e : errors) errs.append(text(e));
  d["notes"] = notes;
  d["errors"] = errs;
  d["failed"] = s.failed;
  d["seconds"] = s.seconds;
  return d;
}

/// "file: tensor: reason" of every failed record (all of them, unlike BatchSummary::errors).
std::vector<std::string> errors_of(const std::vector<an::Record>& recs) {
  std::vector<std::string> out;
  for (const an::Record& r : recs) {
    if (!r.failed()) continue;
    const std::string tensor = r.tensor.empty() ? r.base_tensor : r.tensor;
    const std::string where = tensor.empty() ? r.file : r.file + ": " + tensor;
    // Reasons of unreadable files usually start with the path already.
    out.push_back(r.metrics.reason.rfind(r.file, 0) == 0 ? r.metrics.reason
                                                         : where + ": " + r.metrics.reason);
  }
  return out;
}

/// Rows in input order (the rank of their file in `order`, files not in it last), then by
/// tensor name, a diff total after its checkpoint's tensors. The runner delivers rows in
/// completion order, which differs from run to run.
void sort_records(std::vector<an::Record>& recs, const std::vector<std::string>& order) {
  std::unordered_map<std::string, std::size_t> rank;
  for (std::size_t i = 0; i < order.size(); ++i) rank.emplace(order[i], i);
  const auto rank_of = [&](const an::Record& r) {
    const auto it = rank.find(r.file);
    return it == rank.end() ? order.size() : it->second;
  };
  std::stable_sort(recs.begin(), recs.end(), [&](const an::Record& a, const an::Record& b) {
    const std::size_t ra = rank_of(a), rb = rank_of(b);
    if (ra != rb) return ra < rb;
    if (a.run != b.run) return a.run < b.run;
    if (a.step != b.step && !std::isnan(a.step) && !std::isnan(b.step)) return a.step < b.step;
    const bool ta = a.kind == an::RecordKind::Total, tb = b.kind == an::RecordKind::Total;
    if (ta != tb) return tb;
    return a.tensor < b.tensor;
  });
}

py::tuple spectra(const std::vector<std::string>& args, const py::dict& kw) {
  const an::BatchOptions opts = batch_options(kw);
  std::vector<an::Record> recs;
  an::BatchSummary s;
  std::vector<std::string> paths;
  {
    py::gil_scoped_release unlocked;
    const BlasThreadsGuard blas;
    std::vector<std::string> input_errors;
    paths = an::expand_inputs(args, &input_errors);
    s = an::run_spectra(
        paths, opts, [&recs](const an::Record& r) { recs.push_back(r); }, input_errors);
  }
  sort_records(recs, paths);
  return py::make_tuple(
      columns_dict(an::make_record_table(an::TableKind::Spectra, {opts.metrics.keep_spectrum,
                                                                  opts.metrics.esd.enabled, false}),
                   recs),
      summary_dict(s, errors_of(recs)));
}

py::tuple diff(const std::string& base, const std::vector<std::string>& args,
               const py::object& map_rules, const py::object& relative_to, bool report_missing,
               const py::dict& kw) {
  const an::BatchOptions opts = batch_options(kw);
  an::DiffOptions d;
  d.base = base;
  if (!map_rules.is_none()) d.map_rules = map_rules.cast<std::vector<std::string>>();
  if (!relative_to.is_none()) d.relative_to = relative_to.cast<std::string>();
  d.report_missing = report_missing;
  std::vector<an::Record> recs;
  an::BatchSummary s;
  std::vector<std::string> paths;
  {
    py::gil_scoped_release unlocked;
    const BlasThreadsGuard blas;
    std::vector<std::string> input_errors;
    paths = an::expand_inputs(args, &input_errors);
    // As muft-analyze diff: an argument that matches nothing is bad input, not an error row.
    if (!input_errors.empty()) throw std::invalid_argument(input_errors.front());
    s = an::run_diff(paths, d, opts, [&recs](const an::Record& r) { recs.push_back(r); });
  }
  sort_records(recs, paths);
  return py::make_tuple(
      columns_dict(an::make_record_table(an::TableKind::Diff, {opts.metrics.keep_spectrum,
                                                               opts.metrics.esd.enabled, false}),
                   recs),
      summary_dict(s, errors_of(recs)));
}

/// The run name muft-analyze series gives a run directory (its last path component).
std::string run_name(const std::string& dir) {
  const std::string name = std::filesystem::path(dir).lexically_normal().filename().string();
  return name.empty() ? dir : name;
}

py::tuple series(const std::vector<std::string>& run_dirs, const py::object& base,
                 const py::object& map_rules, bool per_tensor, const py::dict& kw) {
  const an::BatchOptions opts = batch_options(kw);
  an::SeriesOptions so;
  if (!base.is_none()) so.base = base.cast<std::string>();
  if (!map_rules.is_none()) so.map_rules = map_rules.cast<std::vector<std::string>>();
  const bool is_diff = !so.base.empty();
  std::vector<an::Record> recs;
  std::vector<an::GroupRecord> groups;
  an::BatchSummary s;
  {
    py::gil_scoped_release unlocked;
    const BlasThreadsGuard blas;
    s = an::run_series(
        run_dirs, so, opts,
        [&recs, per_tensor](const an::Record& r) {
          if (per_tensor || r.failed()) recs.push_back(r);
        },
        [&groups](const an::GroupRecord& g) { groups.push_back(g); });
  }
  std::unordered_map<std::string, std::size_t> rank;
  for (std::size_t i = 0; i < run_dirs.size(); ++i) rank.emplace(run_name(run_dirs[i]), i);
  const auto rank_of = [&](const std::string& run) {
    const auto it = rank.find(run);
    return it == rank.end() ? run_dirs.size() : it->second;
  };
  std::stable_sort(groups.begin(), groups.end(),
                   [&](const an::GroupRecord& a, const an::GroupRecord& b) {
                     if (rank_of(a.run) != rank_of(b.run)) return rank_of(a.run) < rank_of(b.run);
                     if (a.step != b.step) return a.step < b.step;
                     if (a.file != b.file) return a.file < b.file;
                     return a.group < b.group;
                   });
  std::stable_sort(recs.begin(), recs.end(), [&](const an::Record& a, const an::Record& b) {
    if (rank_of(a.run) != rank_of(b.run)) return rank_of(a.run) < rank_of(b.run);
    if (a.step != b.step && !std::isnan(a.step) && !std::isnan(b.step)) return a.step < b.step;
    if (a.file != b.file) return a.file < b.file;
    const bool ta = a.kind == an::RecordKind::Total, tb = b.kind == an::RecordKind::Total;
    if (ta != tb) return tb;
    return a.tensor < b.tensor;
  });
  const py::dict group_cols =
      columns_dict(an::make_group_table(is_diff, opts.metrics.esd.enabled, false), groups);
  py::object tensor_cols = py::none();
  if (per_tensor) {
    tensor_cols = columns_dict(
        an::make_record_table(an::TableKind::Series,
                              {opts.metrics.keep_spectrum, opts.metrics.esd.enabled, false}),
        recs);
  }
  return py::make_tuple(group_cols, tensor_cols, summary_dict(s, errors_of(recs)));
}

}  // namespace

void bind_analysis(py::module_& m) {
  m.def("metrics", &metrics, py::arg("w"), py::arg("svd"), py::arg("rank_tol"), py::arg("spectrum"),
        py::arg("esd"));
  m.def("spectrum", &spectrum, py::arg("w"), py::arg("svd"));
  m.def("time_compute", &time_compute, py::arg("w"), py::arg("svd"), py::arg("repeats"));
  m.def("spectra", &spectra, py::arg("paths"), py::arg("options"));
  m.def("diff", &diff, py::arg("base"), py::arg("paths"), py::arg("map"), py::arg("relative_to"),
        py::arg("report_missing"), py::arg("options"));
  m.def("series", &series, py::arg("run_dirs"), py::arg("base"), py::arg("map"),
        py::arg("per_tensor"), py::arg("options"));
  m.def("metric_names", [] {
    std::vector<std::string> names;
    for (const an::RecordMetric& x : an::matrix_metrics()) names.push_back(x.name);
    return names;
  });
}

}  // namespace muft::python
