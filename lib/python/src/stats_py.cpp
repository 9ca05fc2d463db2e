/// \file stats_py.cpp
/// muft.meta (the meta-analysis of muft-stats meta, through muft::stats::gap_meta_*),
/// muft.best_lr (muft::stats::select_best_lr, the selection muft-sweep report makes),
/// muft.summarize (muft::stats::summarize: mean, std, Student-t interval) and muft.pool
/// (muft::stats::dersimonian_laird on given effects and variances, with the HKSJ interval).

#include <cmath>
#include <string>
#include <vector>

#include "bindings.h"
#include "muft/stats/best_lr.h"
#include "muft/stats/gap_meta.h"
#include "muft/stats/meta.h"
#include "muft/stats/summary.h"

namespace muft::python {
namespace {

namespace st = muft::stats;

py::dict hksj_dict(const st::HksjInterval& h) {
  py::dict modified;
  modified["se"] = h.modified_se;
  modified["ci_low"] = h.modified_ci_low;
  modified["ci_high"] = h.modified_ci_high;
  modified["p_value"] = h.modified_p_value;
  py::dict d;
  d["se"] = h.se;
  d["ci_low"] = h.ci_low;
  d["ci_high"] = h.ci_high;
  d["t"] = h.t;
  d["df"] = h.df;
  d["p_value"] = h.p_value;
  d["scale"] = h.scale;
  d["modified"] = modified;
  return d;
}

/// The pooled numbers of a MetaResult (NaN where muft-stats meta --json writes null).
py::dict meta_result_dict(const st::MetaResult& r) {
  py::dict d;
  d["estimate"] = r.estimate;
  d["k"] = r.k;
  d["tau2"] = r.tau2;
  d["q"] = r.q;
  d["i2"] = r.i2;
  d["fixed_estimate"] = r.fixed_estimate;
  d["confidence"] = r.confidence;
  py::dict dl;
  dl["se"] = r.se;
  dl["ci_low"] = r.ci_low;
  dl["ci_high"] = r.ci_high;
  dl["z"] = r.z;
  dl["p_value"] = r.p_value;
  d["dl"] = dl;
  d["hksj"] = hksj_dict(r.hksj);
  return d;
}

/// The result laid out as muft-stats meta --json writes it, with the per-task rows as columns.
py::dict result_dict(const st::GapMeta& g, const st::GapMethods& m) {
  const st::MetaResult& r = g.result;
  py::dict d = meta_result_dict(r);
  d["input"] = g.paired ? "paired" : "means";
  py::list skipped;
  for (const std::string& s : g.skipped) skipped.append(text(s));
  d["skipped"] = skipped;
  std::vector<std::string> task;
  std::vector<double> y, v, df, low, high;
  for (std::size_t i = 0; i < g.effects.size(); ++i) {
    task.push_back(g.effects[i].task);
    y.push_back(g.effects[i].y);
    v.push_back(g.effects[i].variance);
    df.push_back(g.effects[i].df);
    low.push_back(g.task_intervals[i].low);
    high.push_back(g.task_intervals[i].high);
  }
  py::dict tasks;
  tasks["task"] = to_numpy_strings(task);
  tasks["y"] = to_numpy(std::move(y));
  tasks["variance"] = to_numpy(std::move(v));
  tasks["df"] = to_numpy(std::move(df));
  tasks["ci_low"] = to_numpy(std::move(low));
  tasks["ci_high"] = to_numpy(std::move(high));
  tasks["weight"] = to_numpy(r.weights);
  d["tasks"] = tasks;
  py::dict methods;
  methods["full_a"] = text(m.full_a);
  methods["full_b"] = text(m.full_b);
  methods["lora_a"] = text(m.lora_a);
  methods["lora_b"] = text(m.lora_b);
  d["methods"] = methods;
  return d;
}

st::GapMethods methods_of(const py::dict& kw) {
  return {kw["full_a"].cast<std::string>(), kw["full_b"].cast<std::string>(),
          kw["lora_a"].cast<std::string>(), kw["lora_b"].cast<std::string>()};
}

std::vector<std::string> tasks_of(const py::dict& kw) {
  return kw["tasks"].is_none() ? std::vector<std::string>{}
                               : kw["tasks"].cast<std::vector<std::string>>();
}

/// From per-method means: `table` is a CSV path (read as muft-stats reads it) or rows
/// (task, method, mean, std, n) given by the Python layer.
py::dict meta_means(const py::object& table, const py::dict& kw) {
  const st::GapMethods m = methods_of(kw);
  const double confidence = kw["confidence"].cast<double>();
  const std::vector<std::string> tasks = tasks_of(kw);
  const std::string origin = kw["origin"].cast<std::string>();
  std::vector<st::MethodRow> rows;
  if (py::isinstance<py::str>(table)) {
    rows = st::read_method_table(table.cast<std::string>());
  } else {
    for (const py::handle& row : table) {
      const auto t = row.cast<py::tuple>();
      st::MethodRow r;
      r.task = t[0].cast<std::string>();
      r.method = t[1].cast<std::string>();
      r.cell.mean = t[2].cast<double>();
      r.cell.std = t[3].cast<double>();
      const double n = t[4].cast<double>();
      if (!(n >= 1) || n != std::floor(n) || n > 1e15) {
        throw std::invalid_argument("task '" + r.task + "', method '" + r.method +
                                    "': n must be a whole number >= 1");
      }
      r.cell.n = static_cast<long>(n);
      rows.push_back(r);
    }
  }
  st::GapMeta g;
  {
    py::gil_scoped_release unlocked;
    g = st::gap_meta_from_means(rows, m, tasks, confidence, origin);
  }
  return result_dict(g, m);
}

/// From per-run values paired by seed: a CSV path with the column names in kw, or rows
/// (task, method, seed, value).
py::dict meta_seeds(const py::object& table, const py::dict& kw) {
  const st::GapMethods m = methods_of(kw);
  const double confidence = kw["confidence"].cast<double>();
  const std::vector<std::string> tasks = tasks_of(kw);
  const std::string origin = kw["origin"].cast<std::string>();
  std::vector<st::SeedRow> rows;
  if (py::isinstance<py::str>(table)) {
    st::SeedColumns cols;
    cols.value = kw["value"].cast<std::string>();
    cols.task = kw["task_columns"].cast<std::vector<std::string>>();
    cols.method = kw["method_column"].cast<std::string>();
    cols.seed = kw["seed_column"].cast<std::string>();
    rows = st::read_seed_table(table.cast<std::string>(), cols);
  } else {
    for (const py::handle& row : table) {
      const auto t = row.cast<py::tuple>();
      rows.push_back({t[0].cast<std::string>(), t[1].cast<std::string>(), t[2].cast<std::string>(),
                      t[3].cast<double>()});
    }
  }
  st::GapMeta g;
  {
    py::gil_scoped_release unlocked;
    g = st::gap_meta_from_seeds(rows, m, tasks, confidence, origin);
  }
  return result_dict(g, m);
}

/// A Summary as a dict (n, mean, std, sem, ci_low, ci_high, confidence).
py::dict summary_dict(const st::Summary& s) {
  py::dict d;
  d["n"] = s.n;
  d["mean"] = s.mean;
  d["std"] = s.std;
  d["sem"] = s.sem;
  d["ci_low"] = s.ci_low;
  d["ci_high"] = s.ci_high;
  d["confidence"] = s.confidence;
  return d;
}

py::dict best_lr(const std::vector<double>& lr, const std::vector<double>& value, bool maximize,
                 double confidence) {
  if (lr.size() != value.size()) {
    throw std::invalid_argument("lr and value must have the same length (" +
                                std::to_string(lr.size()) + " and " + std::to_string(value.size()) +
                                ")");
  }
  std::vector<st::LrObservation> obs;
  for (std::size_t i = 0; i < lr.size(); ++i)
    obs.push_back({lr[i], static_cast<long>(i), value[i]});
  const st::BestLr b =
      st::select_best_lr(obs, maximize ? st::Goal::kMaximize : st::Goal::kMinimize, confidence);
  py::dict d = summary_dict(b.summary);
  d["selected"] = b.status == st::SelectionStatus::kSuccessful;
  d["lr"] = b.status == st::SelectionStatus::kSuccessful ? b.lr : NAN;
  std::vector<double> lrs, means;
  for (const st::LrCandidate& c : b.candidates) {
    lrs.push_back(c.lr);
    means.push_back(c.summary.mean);
  }
  d["candidates"] = py::make_tuple(to_numpy(std::move(lrs)), to_numpy(std::move(means)));
  return d;
}

py::dict summarize(const std::vector<double>& values, double confidence) {
  return summary_dict(st::summarize(values, confidence));
}

/// DerSimonian–Laird pooling of effects y with variances v (and optional names), laid out as
/// meta's result without the per-task columns and the methods.
py::dict pool(const std::vector<double>& y, const std::vector<double>& v,
              const std::vector<std::string>& names, double confidence) {
  if (y.size() != v.size()) {
    throw std::invalid_argument("effects and variances must have the same length (" +
                                std::to_string(y.size()) + " and " + std::to_string(v.size()) +
                                ")");
  }
  if (!names.empty() && names.size() != y.size()) {
    throw std::invalid_argument("names must have one entry per effect (" +
                                std::to_string(names.size()) + " names, " +
                                std::to_string(y.size()) + " effects)");
  }
  std::vector<st::Effect> effects;
  for (std::size_t i = 0; i < y.size(); ++i) {
    st::Effect e;
    e.task = names.empty() ? std::to_string(i) : names[i];
    e.y = y[i];
    e.variance = v[i];
    effects.push_back(e);
  }
  const st::MetaResult r = st::dersimonian_laird(effects, confidence);
  py::dict d = meta_result_dict(r);
  d["weights"] = to_numpy(r.weights);
  return d;
}

}  // namespace

void bind_stats(py::module_& m) {
  m.def("summarize", &summarize, py::arg("values"), py::arg("confidence"));
  m.def("pool", &pool, py::arg("y"), py::arg("v"), py::arg("names"), py::arg("confidence"));
  m.def("meta_means", &meta_means, py::arg("table"), py::arg("options"));
  m.def("meta_seeds", &meta_seeds, py::arg("table"), py::arg("options"));
  m.def("best_lr", &best_lr, py::arg("lr"), py::arg("value"), py::arg("maximize"),
        py::arg("confidence"));
}

}  // namespace muft::python
