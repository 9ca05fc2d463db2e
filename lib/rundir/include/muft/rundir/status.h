#pragma once
/// \file status.h
/// What DIR/status.json says about a run: the status enum (one set of names for the trainer,
/// the sweep and the analyzer), the reason and the step, plus free-form extra fields.

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace muft::rundir {

/// Outcome of a run as stored in status.json.
enum class RunStatus {
  kRunning,    ///< a trainer is (or was, if it died) working on it
  kCompleted,  ///< reached its last step with finite, healthy losses
  kDiverged,   ///< non-finite loss/parameters, or the training loss stayed far above its start
  kCollapsed,  ///< the predictions stopped depending on the input (uniform / label-frequency loss)
  kFailed,     ///< an error (bad input, I/O failure, killed without a final status)
};

/// "running", "completed", "diverged", "collapsed", "failed".
const char* to_string(RunStatus s);
/// Inverse of to_string; throws std::invalid_argument naming the accepted values otherwise.
RunStatus parse_run_status(const std::string& s);
/// Every status, in declaration order (for tables and CLI help).
const RunStatus* all_run_statuses(std::size_t* n);

/// True for the statuses whose run produced numbers a table must not use: diverged and
/// collapsed runs are counted and excluded by name, never averaged in.
inline bool is_unhealthy(RunStatus s) {
  return s == RunStatus::kDiverged || s == RunStatus::kCollapsed;
}
/// True when no trainer will touch the run again unless asked (completed, diverged, collapsed,
/// failed).
inline bool is_final(RunStatus s) {
  return s != RunStatus::kRunning;
}

/// The content of status.json.
struct StatusRecord {
  RunStatus status = RunStatus::kRunning;
  std::string reason;  ///< why it ended that way ("" when completed normally)
  int64_t step = 0;    ///< optimizer steps done when written
  /// Other fields (pid, world_size, final_* values, last_good_checkpoint, written_by, ...);
  /// "status", "reason", "step", "last_checkpoint" and "updated" are set by RunDir.
  nlohmann::json extra = nlohmann::json::object();
};

}  // namespace muft::rundir
