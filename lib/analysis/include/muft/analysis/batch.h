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
#include <regex>
#include <string>
#include <vector>

#include "muft/analysis/diff.h"
#include "muft/analysis/layer_groups.h"
#include "muft/analysis/lora.h"
#include "muft/analysis/metrics.h"
#include "muft/analysis/table.h"

namespace muft::analysis {

/// What a row describes.
enum class RecordKind {
  Matrix,     ///< a weight matrix (rank 2, or rank > 2 reshaped to [dim0, rest])
  LoraA,      ///< a LoRA A factor (r × in)
  LoraB,      ///< a LoRA B factor (out × r)
  LoraDelta,  ///< the merged update s·B·A of a LoRA pair
  Total,      ///< diff: all tensors of one checkpoint together
  File,       ///< a file that could not be opened
};
/// "matrix", "lora_A", "lora_B", "lora_delta", "total", "file".
const char* kind_name(RecordKind k);

/// One result row.
struct Record {
  std::string file;    ///< checkpoint path
  std::string format;  ///< source format ("safetensors", "muft-hdf5", ...)
  std::string tensor;  ///< tensor name (LoRA delta: "<module>.lora_delta"; total: "__total__")
  RecordKind kind = RecordKind::Matrix;
  std::string group;      ///< layer group (LayerGroups::classify)
  std::string dtype;      ///< stored dtype ("F32", ...)
  std::string run;        ///< series: run directory
  double step = NAN;      ///< series: training step
  MatrixMetrics metrics;  ///< of W (spectra, series) or of ΔW (diff)
  bool is_diff = false;
  std::string base_file, base_tensor;  ///< diff: where W0 came from
  DiffMetrics diff;                    ///< diff: distances (diff.delta unused here)
  /// diff with --relative-to: distances divided by those of the reference checkpoint.
  double l2_ratio = NAN, relative_ratio = NAN, cosine_ratio = NAN;
  /// True when the row is an error (unreadable file/tensor, missing tensor, shape mismatch).
  bool failed() const { return metrics.status == MetricStatus::Error; }
};

/// Which table a set of records goes to (decides the columns).
enum class TableKind { Spectra, Diff, Series };
/// Columns of a record table; `spectrum` adds the singular_values vector column.
std::vector<Column> record_columns(TableKind kind, bool spectrum);
/// The cells of one record, in record_columns order.
std::vector<Cell> record_cells(const Record& r, TableKind kind, bool spectrum);

/// Include/exclude regexes on tensor names (ECMAScript, searched anywhere in the name).
class TensorFilter {
 public:
  /// Throws std::invalid_argument on an invalid regex.
  TensorFilter(const std::vector<std::string>& include, const std::vector<std::string>& exclude);
  /// True when the name matches some include (or there are none) and no exclude.
  bool accepts(const std::string& name) const;

 private:
  std::vector<std::regex> include_, exclude_;
};

/// `regex=>replacement` rules mapping checkpoint tensor names to base names (applied in order,
/// std::regex_replace, ECMAScript, $1 back-references).
class NameMap {
 public:
  /// Throws std::invalid_argument for a rule without "=>" or with an invalid regex.
  explicit NameMap(const std::vector<std::string>& rules);
  std::string apply(const std::string& name) const;

 private:
  std::vector<std::pair<std::regex, std::string>> rules_;
};

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

/// Counts over one run.
struct BatchSummary {
  std::size_t rows = 0;     ///< records produced
  std::size_t failed = 0;   ///< records with status error
  std::size_t skipped = 0;  ///< tensors skipped: rank < 2 or a non-floating dtype
  std::map<std::string, std::size_t> by_status;  ///< status name → count
  std::vector<std::string> errors;               ///< "file: tensor: reason" of the first failures
  double seconds = 0;
  bool ok() const { return failed == 0; }
};

/// Receives records one at a time (calls are serialized by the runner).
using RecordSink = std::function<void(const Record&)>;

/// Spectral metrics of every matrix of every input checkpoint (paths as given; see
/// expand_inputs for files/dirs/globs). Bad files and tensors become error records.
BatchSummary run_spectra(const std::vector<std::string>& paths, const BatchOptions& opts,
                         const RecordSink& sink);

/// Options of the diff subcommand.
struct DiffOptions {
  std::string base;                    ///< W0 checkpoint
  std::vector<std::string> map_rules;  ///< --map 'regex=>replacement' (checkpoint → base names)
  std::string relative_to;             ///< --relative-to REF: ratios to REF's distances ("" = none)
  bool report_missing = true;  ///< error rows for base tensors absent from a full checkpoint
};

/// Distances of every checkpoint in `paths` from options.base, per tensor and in total.
/// Throws std::runtime_error when the base (or the --relative-to reference) cannot be opened.
BatchSummary run_diff(const std::vector<std::string>& paths, const DiffOptions& diff,
                      const BatchOptions& opts, const RecordSink& sink);

/// One aggregated series row: the metrics of one layer group in one checkpoint.
struct GroupRecord {
  std::string run, file, group;
  double step = NAN;
  std::size_t tensors = 0;  ///< matrices in the group with status ok
  std::size_t failed = 0;   ///< matrices in the group that failed or were undefined
  /// metric name → (mean, sample standard deviation) over the ok matrices.
  std::map<std::string, std::pair<double, double>> stats;
};
/// Metric names aggregated per group (in column order); `diff` adds the distances.
std::vector<std::string> series_metric_names(bool diff);
/// Columns of the aggregated series table, and the cells of one GroupRecord.
std::vector<Column> group_columns(bool diff);
std::vector<Cell> group_cells(const GroupRecord& g, bool diff);

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
