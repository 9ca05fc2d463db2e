#pragma once
/// \file run_dir.h
/// The run directory a training run writes (layout in docs/training.md and docs/formats.md):
///   DIR/config.json                   full resolved config (atomic write)
///   DIR/status.json                   {"status": running|completed|diverged|failed, "reason", ...}
///   DIR/metrics.csv                   one row per evaluation (columns: kMetricsColumns)
///   DIR/checkpoints/step_NNNNNN.h5    muft HDF5 checkpoints (muft::checkpoint)
/// Every file is replaced atomically (temporary file in the same directory + rename(2)), so a
/// reader never sees a half-written file and a killed run loses at most the current interval.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "muft/checkpoint/run_dir.h"

namespace muft::train {

/// Outcome of a run, as stored in status.json.
enum class RunStatus { kRunning, kCompleted, kDiverged, kFailed };

/// "running", "completed", "diverged", "failed".
const char* run_status_name(RunStatus s);
/// Inverse of run_status_name; throws std::invalid_argument for anything else.
RunStatus parse_run_status(const std::string& s);

/// Process exit codes of muft-train (documented in docs/training.md).
enum ExitCode : int {
  kExitOk = 0,        ///< run completed
  kExitFailed = 1,    ///< bad input or an error (status failed when a run directory exists)
  kExitDiverged = 3,  ///< non-finite loss or parameters: status diverged, last good checkpoint kept
};

/// One evaluation row of metrics.csv.
struct MetricsRow {
  int64_t step = 0;           ///< optimizer steps done
  int64_t tokens = 0;         ///< training tokens seen (global batch × context × step)
  double lr = 0.0;            ///< learning-rate multiplier × base lr at this step
  double train_loss = 0.0;    ///< mean training loss (nats/token) since the previous row
  double val_loss = 0.0;      ///< loss on the current task's validation set (nats/token)
  double val_ppl = 0.0;       ///< exp(val_loss)
  double old_val_loss = 0.0;  ///< loss on the pretraining validation set (NaN when none)
  double old_val_ppl = 0.0;   ///< exp(old_val_loss)
  double seconds = 0.0;       ///< wall time since the run (or its first segment) started
};

/// Column names of metrics.csv, in order.
extern const char* const kMetricsColumns[9];

/// Atomic text writes (PATH.tmp.<pid>, fsync, rename) are the checkpoint module's.
using checkpoint::write_file_atomic;

/// Reads a whole file; throws std::runtime_error naming it on failure.
std::string read_file(const std::string& path);

/// A run directory. Construction creates DIR and DIR/checkpoints when create is true.
class RunDir {
 public:
  explicit RunDir(std::string path, bool create = true);

  const std::string& path() const { return path_; }
  std::string config_path() const { return path_ + "/config.json"; }
  std::string status_path() const { return path_ + "/status.json"; }
  std::string metrics_path() const { return path_ + "/metrics.csv"; }
  std::string checkpoints_dir() const { return path_ + "/checkpoints"; }
  /// DIR/checkpoints/step_NNNNNN.h5 (six digits, more when step ≥ 10⁶).
  std::string checkpoint_path(int64_t step) const;

  /// Checkpoints present, sorted by step (files named step_<digits>.h5 only).
  std::vector<std::pair<int64_t, std::string>> list_checkpoints() const;

  void write_config(const nlohmann::json& config) const;
  /// Throws std::runtime_error when config.json is missing or not JSON.
  nlohmann::json read_config() const;

  /// status.json = {"status", "reason", "step", "last_checkpoint"
  /// ("checkpoints/step_NNNNNN.h5" or null), "updated" (UTC)} merged with extra.
  void write_status(RunStatus status, const std::string& reason, int64_t step,
                    const nlohmann::json& extra = nlohmann::json::object()) const;
  /// Throws std::runtime_error when status.json is missing or malformed.
  nlohmann::json read_status() const;

  /// Rows already in metrics.csv (empty when the file does not exist).
  std::vector<MetricsRow> read_metrics() const;
  /// Rewrites metrics.csv (header + rows) atomically.
  void write_metrics(const std::vector<MetricsRow>& rows) const;
  /// Appends one row (the file is rewritten atomically: it stays small).
  void append_metrics(const MetricsRow& row) const;

 private:
  std::string path_;
};

}  // namespace muft::train
