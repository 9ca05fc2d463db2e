#pragma once
/// \file inspect.h
/// What a run directory says about its run, seen from outside (the sweep's scheduler, `status`,
/// `collect`): status.json plus whether a live process holds DIR/.sweep.lock.

#include <cstdint>
#include <string>

#include "muft/rundir/status.h"

namespace muft::rundir {

/// State of one run directory as seen by an observer.
enum class RunState {
  kPending,      ///< nothing there yet (or an empty directory)
  kRunning,      ///< a live process holds DIR/.sweep.lock
  kInterrupted,  ///< started, no live lock holder, no final status: resume from the last checkpoint
  kCompleted,    ///< status.json says completed
  kDiverged,     ///< status.json says diverged
  kCollapsed,    ///< status.json says collapsed
  kFailed,       ///< status.json says failed (the trainer's, or written by the sweep)
  kCorrupt       ///< status.json unreadable or inconsistent (reported, never fatal)
};

/// "pending", "running", "interrupted", "completed", "diverged", "collapsed", "failed", "corrupt".
const char* to_string(RunState s);
/// True for diverged and collapsed: counted and excluded by name from every table.
inline bool is_unhealthy(RunState s) {
  return s == RunState::kDiverged || s == RunState::kCollapsed;
}

/// Result of inspecting a run directory.
struct Inspection {
  RunState state = RunState::kPending;
  std::string reason;           ///< from status.json, or why it is corrupt
  std::string last_checkpoint;  ///< path of the newest checkpoints/step_NNNNNN.h5 ("" if none)
  int64_t last_checkpoint_step = -1;
};

/// Inspects DIR without modifying it (the lock probe takes and releases a shared flock).
Inspection inspect_run(const std::string& dir);

/// True when some process holds an exclusive flock on DIR/.sweep.lock.
bool lock_held(const std::string& dir);

}  // namespace muft::rundir
