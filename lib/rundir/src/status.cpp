#include "muft/rundir/status.h"

#include <stdexcept>

namespace muft::rundir {

namespace {
constexpr RunStatus kAll[] = {RunStatus::kRunning, RunStatus::kCompleted, RunStatus::kDiverged,
                              RunStatus::kCollapsed, RunStatus::kFailed};
}  // namespace

const char* to_string(RunStatus s) {
  switch (s) {
    case RunStatus::kRunning:
      return "running";
    case RunStatus::kCompleted:
      return "completed";
    case RunStatus::kDiverged:
      return "diverged";
    case RunStatus::kCollapsed:
      return "collapsed";
    case RunStatus::kFailed:
      return "failed";
  }
  return "failed";
}

RunStatus parse_run_status(const std::string& s) {
  for (RunStatus r : kAll) {
    if (s == to_string(r)) return r;
  }
  throw std::invalid_argument("unknown run status '" + s +
                              "' (expected running, completed, diverged, collapsed or failed)");
}

const RunStatus* all_run_statuses(std::size_t* n) {
  *n = sizeof(kAll) / sizeof(kAll[0]);
  return kAll;
}

}  // namespace muft::rundir
