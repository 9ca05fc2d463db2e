#pragma once
/// \file run_dir.h
/// The run directory, defined once (docs/formats.md, "Run directory"):
///
///   DIR/config.json                  the full resolved config of the run (atomic write)
///   DIR/status.json                  status.h's StatusRecord + last_checkpoint + updated (UTC)
///   DIR/metrics.csv                  one row per evaluation (metrics.h)
///   DIR/checkpoints/step_NNNNNN.h5   muft HDF5 checkpoints (muft::checkpoint)
///   DIR/train.log, DIR/sweep.json    written by muft-sweep around its trainer child
///   DIR/.sweep.lock                  flock(2)-held by the sweep's trainer child while it runs
///
/// Every file is replaced atomically (PATH.tmp.<pid> in the same directory, fsync, rename(2)):
/// a reader never sees half a file and a killed writer loses at most the current interval;
/// the temporary files of writers that died are removed by remove_stale_temporaries().

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "muft/rundir/metrics.h"
#include "muft/rundir/status.h"

namespace muft::rundir {

/// "step_000123.h5": the step zero-padded to at least 6 digits. Throws std::invalid_argument
/// for a negative step.
std::string checkpoint_file_name(int64_t step);

/// One checkpoint file of a run.
struct CheckpointFile {
  int64_t step = 0;
  std::string path;
};

/// Every DIR/checkpoints/step_<digits>.h5, sorted by step; other names (unfinished
/// "*.tmp.<pid>" writes, notes) are ignored. A missing checkpoints/ gives an empty list; an
/// unreadable one throws std::runtime_error.
std::vector<CheckpointFile> list_checkpoints(const std::string& run_dir);

/// A run directory at a path (constructing it touches nothing on disk).
class RunDir {
 public:
  /// Throws std::invalid_argument for an empty path. Trailing slashes are dropped.
  explicit RunDir(std::string path);
  /// Creates DIR and DIR/checkpoints (mkdir -p). Throws std::runtime_error on failure.
  void create() const;
  /// True when DIR is a directory.
  bool exists() const;

  const std::string& path() const { return path_; }
  std::string config_path() const { return path_ + "/config.json"; }
  std::string status_path() const { return path_ + "/status.json"; }
  std::string metrics_path() const { return path_ + "/metrics.csv"; }
  std::string checkpoints_dir() const { return path_ + "/checkpoints"; }
  std::string lock_path() const { return path_ + "/.sweep.lock"; }
  std::string log_path() const { return path_ + "/train.log"; }
  std::string sweep_path() const { return path_ + "/sweep.json"; }
  /// DIR/checkpoints/step_NNNNNN.h5.
  std::string checkpoint_path(int64_t step) const;

  /// list_checkpoints(path()).
  std::vector<CheckpointFile> checkpoints() const;
  /// The checkpoint with the largest step, if any.
  std::optional<CheckpointFile> latest_checkpoint() const;

  /// True when a run was started here: status.json, config.json or a checkpoint exists.
  bool holds_run() const;

  void write_config(const nlohmann::json& config) const;
  bool has_config() const;
  /// Throws std::runtime_error when config.json is missing or not JSON.
  nlohmann::json read_config() const;

  /// Writes status.json: rec.extra, then "status", "reason", "step", "last_checkpoint"
  /// ("checkpoints/step_NNNNNN.h5" or null) and "updated" (UTC, ISO 8601).
  void write_status(const StatusRecord& rec) const;
  bool has_status() const;
  /// Throws std::runtime_error when status.json is missing, not JSON or has no valid "status".
  StatusRecord read_status() const;
  /// status.json as JSON (every field), with the same checks.
  nlohmann::json read_status_json() const;

  /// metrics.csv (an empty Metrics when the file does not exist). A legacy DIR/digits.csv
  /// (step,val_acc,old_val_acc; written by muft 0.1's digits task) adds its columns, matched on
  /// step, when metrics.csv lacks them. Throws std::runtime_error on a malformed file.
  Metrics read_metrics() const;
  /// Rewrites metrics.csv atomically.
  void write_metrics(const Metrics& m) const;

  /// Removes DIR/**.tmp.<pid> files (DIR and DIR/checkpoints) whose writer process no longer
  /// exists (kill(pid, 0) fails with ESRCH); files of live processes stay. Returns the count.
  std::size_t remove_stale_temporaries() const;

 private:
  std::string path_;
};

/// Writes text to path atomically (PATH.tmp.<pid>, fsync when durable, rename). Throws
/// std::runtime_error on failure, after removing the temporary file.
void write_file_atomic(const std::string& path, const std::string& text, bool durable = true);
/// Reads a whole file; throws std::runtime_error naming it on failure.
std::string read_file(const std::string& path);

}  // namespace muft::rundir
