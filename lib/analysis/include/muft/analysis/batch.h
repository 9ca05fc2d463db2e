#pragma once
/// \file batch.h
/// The batch runner behind `muft-analyze spectra | diff | series`: opens checkpoints through
/// muft::checkpoint::open_source, plans one job per matrix (and per LoRA pair), runs them on a
/// thread pool, and hands every result row to a sink as soon as it exists.
///
/// Threads: a job whose cost (m·n·min(m, n)) is at least 1/jobs of the whole batch runs alone
/// with `jobs` OpenBLAS threads; all other jobs run `jobs` at a time with one OpenBLAS thread
/// each, so BLAS threads never nest inside the pool.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "muft/analysis/columns.h"
#include "muft/analysis/diff.h"
#include "muft/analysis/filters.h"
#include "muft/analysis/intruders.h"
#include "muft/analysis/layer_groups.h"
#include "muft/analysis/lora.h"
#include "muft/analysis/metrics.h"
#include "muft/analysis/record.h"
#include "muft/analysis/table.h"

namespace muft::analysis {

/// Options shared by every subcommand.
struct BatchOptions {
  MetricOptions metrics;             ///< algorithm, rank tolerance, spectrum
  std::vector<std::string> include;  ///< --include REGEX (any)
  std::vector<std::string> exclude;  ///< --exclude REGEX (any)
  int jobs = 0;                      ///< parallel jobs; 0 = all hardware threads
  bool lora = true;                  ///< pair lora_A/lora_B and add the merged ΔW rows
  double lora_alpha = NAN;           ///< --lora-alpha (NaN: adapter_config.json, else scale 1)
  double lora_rank = NAN;            ///< --lora-rank (NaN: adapter_config.json, else factor rank)
  LayerGroups groups = LayerGroups::defaults();  ///< for the group column and series
  /// Called after each finished job with (done, total), from the thread that produced the row.
  std::function<void(std::size_t, std::size_t)> progress;
  /// True when the options make sense; otherwise writes why into *error.
  bool IsValid(std::string* error) const;
  /// jobs, with 0 resolved to the hardware thread count.
  int resolved_jobs() const;
};

/// A tensor the batch left out, and why.
struct SkippedTensor {
  std::string file, tensor;
  std::string reason;  ///< e.g. "rank 1, not a matrix", "dtype I64 is not floating", or the
                       ///< source's TensorInfo::skip_reason ("complex numbers ...")
};

/// Counts over one run.
struct BatchSummary {
  std::size_t rows = 0;                          ///< records produced
  std::size_t failed = 0;                        ///< records with status error
  std::size_t skipped = 0;                       ///< tensors skipped (== skipped_tensors.size())
  std::vector<SkippedTensor> skipped_tensors;    ///< every skipped tensor, in planning order
  std::map<std::string, std::size_t> by_status;  ///< status name → count
  std::vector<std::string> errors;               ///< "file: tensor: reason" of the first failures
  /// "file: note" for each checkpoint whose source has a note (TensorSource::note, e.g. a muft
  /// checkpoint without checksums); the note is also appended to the reason of its rows.
  std::vector<std::string> notes;
  double seconds = 0;
  bool ok() const { return failed == 0; }
};

/// Receives records one at a time (calls are serialized by the runner).
using RecordSink = std::function<void(const Record&)>;

/// Spectral metrics of every matrix of every input checkpoint (paths as given; see
/// expand_inputs for files/dirs/globs). Bad files and tensors become error records; so does
/// each of `input_errors` ("PATH: reason", e.g. expand_inputs' arguments that matched nothing),
/// delivered after the checkpoints' rows.
BatchSummary run_spectra(const std::vector<std::string>& paths, const BatchOptions& opts,
                         const RecordSink& sink, const std::vector<std::string>& input_errors = {});

/// Options of the diff subcommand.
struct DiffOptions {
  std::string base;                    ///< W0 checkpoint
  std::vector<std::string> map_rules;  ///< --map 'regex=>replacement' (checkpoint → base names)
  std::string relative_to;             ///< --relative-to REF: ratios to REF's distances ("" = none)
  bool report_missing = true;  ///< error rows for base tensors absent from a full checkpoint
  bool intruders = false;      ///< --intruders: count intruder dimensions (intruders.h)
  IntruderOptions intruder;    ///< --top-k, --epsilon
};

/// Distances of every checkpoint in `paths` from options.base, per tensor and in total.
/// Throws std::runtime_error when the base (or the --relative-to reference) cannot be opened.
BatchSummary run_diff(const std::vector<std::string>& paths, const DiffOptions& diff,
                      const BatchOptions& opts, const RecordSink& sink);

/// Options of the series subcommand.
struct SeriesOptions {
  std::string base;  ///< optional W0: rows then hold the diff of every step from it
  std::vector<std::string> map_rules;  ///< as DiffOptions::map_rules
};

/// Every metric versus step for the checkpoints of each run directory (run_checkpoints), per
/// tensor (tensor_sink, may be empty) and aggregated by layer group (group_sink, each
/// checkpoint's groups emitted once all of its tensors are done).
BatchSummary run_series(const std::vector<std::string>& run_dirs, const SeriesOptions& series,
                        const BatchOptions& opts, const RecordSink& tensor_sink,
                        const std::function<void(const GroupRecord&)>& group_sink);

}  // namespace muft::analysis
