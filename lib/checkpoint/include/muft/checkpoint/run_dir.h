#pragma once
/// \file run_dir.h
/// The run directory (docs/formats.md): RUN_DIR/config.json, metrics.csv,
/// status.json and checkpoints/step_NNNNNN.h5. Small helpers shared by the
/// trainer (writes it), the sweep (schedules it) and the analyzer (reads it).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace muft::checkpoint {

/// "step_000123.h5": the step zero-padded to at least 6 digits. Throws
/// std::invalid_argument for a negative step.
std::string checkpoint_file_name(int64_t step);

/// RUN_DIR/checkpoints/step_NNNNNN.h5 for a step.
std::string checkpoint_path(const std::string& run_dir, int64_t step);

/// One checkpoint found in a run directory.
struct CheckpointFile {
  int64_t step = 0;
  std::string path;
};

/// Every RUN_DIR/checkpoints/step_<digits>.h5, sorted by step; other files
/// (e.g. unfinished "*.tmp.<pid>" writes) are ignored. An absent checkpoints/
/// directory gives an empty list; an unreadable one throws std::runtime_error.
std::vector<CheckpointFile> list_checkpoints(const std::string& run_dir);

/// The checkpoint with the largest step, if any.
std::optional<CheckpointFile> latest_checkpoint(const std::string& run_dir);

/// Writes text to path atomically (PATH.tmp.<pid>, fsync, rename), for
/// status.json and config.json. Throws std::runtime_error on failure.
void write_file_atomic(const std::string& path, const std::string& text);

}  // namespace muft::checkpoint
