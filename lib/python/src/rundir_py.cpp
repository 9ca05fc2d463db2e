/// \file rundir_py.cpp
/// muft.open_run(dir): a run directory through muft::rundir, the one definition of its format
/// (config.json, status.json, metrics.csv, checkpoints/). JSON comes back as text for the
/// Python layer to parse; metrics as columns with the integer/float kind of each.

#include <string>
#include <vector>

#include "bindings.h"
#include "muft/rundir/inspect.h"
#include "muft/rundir/run_dir.h"

namespace muft::python {
namespace {

namespace rd = muft::rundir;

py::dict open_run(const std::string& path) {
  const rd::RunDir dir(path);
  if (!dir.exists()) throw std::runtime_error(path + ": not a directory (no such run directory)");
  py::dict out;
  out["path"] = text(dir.path());
  std::string config, status;
  rd::Inspection inspection;
  rd::Metrics metrics;
  std::vector<rd::CheckpointFile> checkpoints;
  {
    py::gil_scoped_release unlocked;
    if (dir.has_config()) config = dir.read_config().dump();
    inspection = rd::inspect_run(dir.path());
    // An unreadable status.json is the "corrupt" state (its reason says why), not an error.
    if (dir.has_status() && inspection.state != rd::RunState::kCorrupt) {
      status = dir.read_status_json().dump();
    }
    metrics = dir.read_metrics();
    checkpoints = dir.checkpoints();
  }
  out["config"] = config.empty() ? py::object(py::none()) : py::object(text(config));
  out["status"] = status.empty() ? py::object(py::none()) : py::object(text(status));
  out["state"] = rd::to_string(inspection.state);
  out["reason"] = text(inspection.reason);
  py::list names, integer;
  py::dict columns;
  const std::vector<std::string> all = metrics.column_names();
  for (const std::string& name : all) {
    std::vector<double> values;
    metrics.column(name, &values);
    bool is_int = false;
    for (const rd::CoreColumn& c : rd::kCoreColumns)
      is_int = is_int || (c.integer && name == c.name);
    names.append(text(name));
    integer.append(is_int);
    columns[text(name)] = to_numpy(std::move(values));
  }
  out["metric_names"] = names;
  out["metric_integer"] = integer;
  out["metric_columns"] = columns;
  out["incomplete_rows"] = metrics.incomplete_rows;
  py::list cks;
  for (const rd::CheckpointFile& c : checkpoints) cks.append(py::make_tuple(c.step, text(c.path)));
  out["checkpoints"] = cks;
  return out;
}

}  // namespace

void bind_rundir(py::module_& m) {
  m.def("open_run", &open_run, py::arg("path"));
}

}  // namespace muft::python
