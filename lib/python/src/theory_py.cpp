/// \file theory_py.cpp
/// muft.verify / muft.checks / muft.polar_express: the named checks of muft::theory and the
/// Polar Express coefficient generator, as muft-verify runs them.

#include <algorithm>
#include <string>
#include <vector>

#include "bindings.h"
#include "muft/theory/checks.h"
#include "muft/theory/polar_express.h"

namespace muft::python {
namespace {

namespace th = muft::theory;

py::tuple verify(const py::object& only, const py::object& instances, const py::object& seed) {
  th::CheckOptions opts;
  if (!instances.is_none()) opts.instances = instances.cast<int>();
  if (!seed.is_none()) {
    if (seed.cast<py::int_>() < py::int_(0)) throw std::invalid_argument("seed must be >= 0");
    opts.seed = seed.cast<unsigned long long>();
  }
  std::string why;
  if (!opts.IsValid(&why)) throw std::invalid_argument(why);
  std::vector<const th::CheckInfo*> selected;
  if (only.is_none()) {
    for (const auto& c : th::all_checks()) selected.push_back(&c);
  } else {
    for (const std::string& name : only.cast<std::vector<std::string>>()) {
      const th::CheckInfo* c = th::find_check(name);
      if (c == nullptr)
        throw std::invalid_argument("unknown check '" + name + "' (see muft.checks())");
      if (std::find(selected.begin(), selected.end(), c) == selected.end()) selected.push_back(c);
    }
  }
  std::vector<th::CheckResult> results;
  {
    py::gil_scoped_release unlocked;
    for (const th::CheckInfo* c : selected) {
      results.push_back(th::run_check(*c, opts));
      results.back().records.clear();  // full instances are for muft-verify --h5 only
    }
  }
  std::vector<std::string> names, statements, statuses, notes;
  std::vector<double> counts, worst, bound, ratio, seconds;
  py::dict details;
  bool all_pass = true;
  for (const th::CheckResult& r : results) {
    names.push_back(r.name);
    statements.push_back(r.statement);
    counts.push_back(r.instances);
    worst.push_back(r.worst_error);
    bound.push_back(r.bound);
    ratio.push_back(r.worst_ratio);
    statuses.push_back(th::to_string(r.status));
    seconds.push_back(r.seconds);
    notes.push_back(r.note);
    py::dict numbers;
    for (const auto& [k, v] : r.metrics) numbers[text(k)] = v;
    details[text(r.name)] = numbers;
    all_pass = all_pass && r.status != th::CheckStatus::kFail;
  }
  py::dict cols;
  cols["name"] = to_numpy_strings(names);
  cols["statement"] = to_numpy_strings(statements);
  cols["instances"] = to_numpy(std::move(counts));
  cols["worst_error"] = to_numpy(std::move(worst));
  cols["bound"] = to_numpy(std::move(bound));
  cols["worst_ratio"] = to_numpy(std::move(ratio));
  cols["status"] = to_numpy_strings(statuses);
  cols["seconds"] = to_numpy(std::move(seconds));
  cols["note"] = to_numpy_strings(notes);
  py::dict info;
  info["metrics"] = details;
  info["all_pass"] = all_pass;
  info["instances"] = opts.instances;
  info["seed"] = opts.seed;
  return py::make_tuple(cols, info);
}

py::array_t<double> polar_express(double lower, int iterations, double safety, double cushion) {
  th::PolarExpressOptions o;
  o.lower = lower;
  o.iterations = iterations;
  o.safety = safety;
  o.cushion = cushion;
  std::string why;
  if (!o.IsValid(&why)) throw std::invalid_argument(why);
  std::vector<std::array<double, 3>> coeffs;
  {
    py::gil_scoped_release unlocked;
    coeffs = th::polar_express_coefficients(o);
  }
  py::array_t<double> out({static_cast<py::ssize_t>(coeffs.size()), py::ssize_t{3}});
  auto view = out.mutable_unchecked<2>();
  for (std::size_t k = 0; k < coeffs.size(); ++k) {
    for (py::ssize_t j = 0; j < 3; ++j) view(static_cast<py::ssize_t>(k), j) = coeffs[k][j];
  }
  return out;
}

}  // namespace

void bind_theory(py::module_& m) {
  m.def("verify", &verify, py::arg("only"), py::arg("instances"), py::arg("seed"));
  m.def("checks", [] {
    py::dict d;
    for (const auto& c : th::all_checks()) d[text(c.name)] = text(c.statement);
    return d;
  });
  m.def("polar_express", &polar_express, py::arg("lower"), py::arg("iterations"), py::arg("safety"),
        py::arg("cushion"));
  const th::PolarExpressOptions defaults;
  m.attr("polar_express_defaults") =
      py::make_tuple(defaults.lower, defaults.iterations, defaults.safety, defaults.cushion);
  const th::CheckOptions check_defaults;
  m.attr("check_defaults") = py::make_tuple(check_defaults.instances, check_defaults.seed);
}

}  // namespace muft::python
