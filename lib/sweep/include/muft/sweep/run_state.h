#pragma once
/// \file run_state.h
/// What a run directory says about its run. All sweep state lives in the run directories
/// (layout in docs/formats.md): DIR/status.json, DIR/metrics.csv, DIR/config.json,
/// DIR/checkpoints/step_NNNNNN.h5, written atomically by the trainer, plus DIR/.sweep.lock, a
/// file the sweep's trainer child holds an flock(2) on while it runs.

#include <string>
#include <vector>

namespace muft::sweep {

/// State of one run directory.
enum class RunState {
  kPending,      ///< nothing there yet (or an empty directory)
  kRunning,      ///< a live process holds DIR/.sweep.lock
  kInterrupted,  ///< started, no live process, no final status: resume from the last checkpoint
  kCompleted,    ///< status.json says completed
  kDiverged,     ///< status.json says diverged (non-finite loss/parameters)
  kFailed,       ///< status.json says failed (the trainer's, or written by the sweep)
  kCorrupt       ///< status.json unreadable or inconsistent (reported, never fatal)
};

const char* to_string(RunState s);

/// Result of inspecting a run directory.
struct RunStatus {
  RunState state = RunState::kPending;
  std::string reason;           ///< from status.json, or why it is corrupt
  std::string last_checkpoint;  ///< path of the newest checkpoints/step_NNNNNN.h5 ("" if none)
  long last_checkpoint_step = -1;
};

/// Inspects DIR without modifying it (the lock probe takes and releases a shared flock).
RunStatus inspect_run(const std::string& dir);

/// Checkpoint files DIR/checkpoints/step_NNNNNN.h5, sorted by step.
std::vector<std::string> list_checkpoints(const std::string& dir);

/// Writes `text` to PATH via PATH.tmp.<pid> + rename(2), with fsync before the rename when
/// `durable` (survives a power cut, not only a killed process). Throws std::runtime_error.
void write_file_atomic(const std::string& path, const std::string& text, bool durable = true);

/// Writes DIR/status.json = {"status": status, "reason": reason, "written_by": "muft-sweep"}.
void write_status(const std::string& dir, const std::string& status, const std::string& reason);

}  // namespace muft::sweep
