#pragma once
/// \file scheduler.h
/// Runs a list of trainer invocations as local child processes, at most `jobs` at a time,
/// resuming interrupted runs and skipping finished ones. Keeps no state of its own: everything
/// it needs after a restart (even after SIGKILL) is read back from the run directories.

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "muft/rundir/inspect.h"
#include "muft/sweep/grid.h"
#include "muft/sweep/spec.h"

namespace muft::sweep {

/// The runs of a sweep as currently known: the selection to run and the whole grid.
struct RunLists {
  std::vector<RunSpec> selected, all;
};

/// Options of run_sweep.
struct SchedulerOptions {
  std::size_t jobs = 1;         ///< concurrent trainer processes
  std::string trainer;          ///< path of the muft-train executable (or a compatible one)
  TrainerInterface interface;   ///< how --from / --resume are passed (from the spec)
  bool retry_diverged = false;  ///< restart diverged and collapsed runs from scratch
  bool retry_failed = false;    ///< retry failed/corrupt runs (resume when a checkpoint exists)
  double poll_seconds = 0.05;   ///< how often child exits and foreign runs are polled
  bool dry_run = false;         ///< only report what would be launched
  /// Staged studies: called whenever a run has finished; runs it lists that are new are queued
  /// (expand_grid with the run directories' outcomes). Null: the lists are fixed.
  std::function<RunLists()> refresh;

  bool IsValid(std::string* error) const;
};

/// What happened to the selected runs.
struct SweepSummary {
  std::size_t selected = 0;
  std::size_t already_done = 0;       ///< completed before this invocation
  std::size_t completed = 0;          ///< completed by this invocation
  std::size_t diverged = 0;           ///< diverged (now or before; not retried)
  std::size_t collapsed = 0;          ///< collapsed (now or before; not retried)
  std::size_t failed = 0;             ///< failed or corrupt (now or before; not retried)
  std::size_t blocked = 0;            ///< fine-tuning whose pretraining run is not available
  std::size_t running_elsewhere = 0;  ///< held by another live process (another sweep/shard)
  std::size_t launched = 0;           ///< trainer processes started (fresh + resumed)
  std::size_t resumed = 0;            ///< of which resumed from a checkpoint
  std::vector<std::string> problems;  ///< one line per failed/corrupt/blocked run

  /// 0 when every selected run is completed, diverged or collapsed (finished: the unhealthy
  /// ones are excluded from tables by name), 2 otherwise (CLI exit code).
  int exit_code() const;
};

/// Called with one human-readable line per event (start, finish, skip, problem).
using EventLog = std::function<void(const std::string&)>;

/// Runs `selected` (a subset of `all`, in order). Fine-tuning runs wait for their pretraining
/// run when it is selected too or running elsewhere, and are reported blocked otherwise.
/// Trainer output goes to DIR/train.log. Throws std::invalid_argument on invalid options.
SweepSummary run_sweep(const std::vector<RunSpec>& selected, const std::vector<RunSpec>& all,
                       const SchedulerOptions& options, const EventLog& log);

/// Counts of states over runs (for `muft-sweep status`).
struct StatusCounts {
  std::size_t pending = 0, running = 0, interrupted = 0, completed = 0, diverged = 0, collapsed = 0,
              failed = 0, corrupt = 0;
};
/// Inspects every run; `details` (optional) receives (run, status) pairs in order.
StatusCounts count_states(
    const std::vector<RunSpec>& runs,
    std::vector<std::pair<const RunSpec*, rundir::Inspection>>* details = nullptr);

/// The trainer's argv for a run (program first): args, --out DIR, then --from (fine-tuning,
/// `ckpt`) and --resume (when `resume`) from the interface templates.
std::vector<std::string> trainer_argv(const std::string& trainer, const TrainerInterface& iface,
                                      const RunSpec& run, const std::string& ckpt, bool resume);

}  // namespace muft::sweep
