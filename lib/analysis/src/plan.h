#pragma once
/// \file plan.h
/// Private: turning one opened checkpoint into jobs for the runner (spectra or diff against a
/// base; plan.cpp for matrices, plan_adapter.cpp for the merged updates of adapters), and the
/// rows built from a checkpoint's finished records (diff totals, series groups).

#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "muft/analysis/adapter_config.h"
#include "muft/analysis/batch.h"
#include "muft/analysis/intruders.h"
#include "muft/analysis/lora.h"
#include "muft/checkpoint/tensor_source.h"
#include "runner.h"

namespace muft::analysis::detail {

namespace ck = muft::checkpoint;

/// Fields every row of one checkpoint shares.
struct FileContext {
  std::size_t unit = 0;
  std::string path, format, run;
  double step = NAN;
  std::shared_ptr<const ck::TensorSource> src;
  /// adapter_config.json beside the checkpoint (null when absent or unreadable).
  std::shared_ptr<const AdapterConfig> adapter;
  std::string lora_note;  ///< reason text for merged rows: the config could not be read
};

/// A record carrying the checkpoint's fields, the tensor name, its kind and layer group.
Record proto_record(const FileContext& fc, const std::string& tensor, RecordKind kind,
                    const BatchOptions& opts);
/// r as an error row with `reason`.
Record error_record(Record r, const std::string& reason);

/// Why the batch leaves a tensor out, "" when it is analyzed as a matrix: the source's own
/// skip_reason, rank < 2, or a dtype that is not floating. A (0, n) matrix is analyzed (its
/// row says `empty`).
std::string skip_reason(const ck::TensorInfo& info);

/// Opens fc.path into fc.src (and fc.format, and the runner's note for the unit: e.g. a muft
/// checkpoint without checksums); on failure emits a File error row and returns false.
bool open_or_report(Runner& runner, FileContext& fc, const BatchOptions& opts);
/// Reads adapter_config.json beside the checkpoint into fc.adapter (an unreadable one becomes
/// fc.lora_note; a peft_type muft does not merge becomes a note on every row of the unit).
void resolve_adapter_config(Runner& runner, FileContext& fc);

/// Relative cost of a job on a (rows, cols) matrix: rows·cols·min(rows, cols).
double job_cost(int64_t rows, int64_t cols);
/// "RxC".
std::string shape_text(const std::pair<int64_t, int64_t>& s);
/// A row-major (rows, cols) tensor as an Eigen (col-major) matrix, in double.
Eigen::MatrixXd load_eigen(const ck::TensorSource& src, const ck::TensorInfo& info);
/// The info of `name` in src, nullptr when absent.
const ck::TensorInfo* find_info(const ck::TensorSource& src, const std::string& name);
/// Appends `text` to r's reason ("; " between parts); nothing when text is empty.
void add_reason(Record& r, const std::string& text);
/// Puts an intruder count into r (and says so in the reason when fewer than top_k vectors could
/// be examined).
void set_intruders(Record& r, const IntruderResult& res, const IntruderOptions& opts);

/// Why an adapter's own tensor (AdaLoRA lora_E and ranknum, DoRA's magnitude vector) gets no
/// row: it is part of the module's merged update. "" for any other tensor.
std::string adapter_part_reason(const std::string& name);
/// Jobs for the merged update (`<module>.lora_delta` row) of each adapted module in `pairs`.
void plan_adapter_spectra(Runner& runner, const FileContext& fc, const std::vector<LoraPair>& pairs,
                          const BatchOptions& opts);
/// The same against the base: distances from W0 (and intruders). Base tensors used are added
/// to *matched_base.
void plan_adapter_diff(Runner& runner, const FileContext& fc, const std::vector<LoraPair>& pairs,
                       const std::shared_ptr<const ck::TensorSource>& base,
                       const std::unordered_map<std::string, const ck::TensorInfo*>& base_index,
                       const NameMap& map, const DiffOptions& dopts, const BatchOptions& opts,
                       std::set<std::string>* matched_base);

/// Jobs for the plain metrics of every selected matrix of a checkpoint, and its LoRA pairs.
void plan_spectra(Runner& runner, const FileContext& fc, const BatchOptions& opts,
                  const TensorFilter& filter);
/// Jobs for the diff of one checkpoint against the base.
void plan_diff(Runner& runner, const FileContext& fc,
               const std::shared_ptr<const ck::TensorSource>& base, const NameMap& map,
               const DiffOptions& dopts, const BatchOptions& opts, const TensorFilter& filter);

/// The `__total__` row of a diffed checkpoint: the distances of all its matrix and lora_delta
/// rows taken together. Rows that failed or hold non-finite distances are left out and named in
/// the reason; when none is left the row is `non_finite` (or `error` when every one failed),
/// with NaN distances. Empty matrices contribute nothing.
Record total_record(const FileContext& fc, const std::vector<Record>& recs,
                    const std::string& base_path);
/// The series row of one layer group: mean and sample standard deviation of each series metric
/// (and with `esd` of each esd_metrics(randomize) number) over the group's ok matrices.
GroupRecord aggregate(const FileContext& fc, const std::string& group,
                      const std::vector<const Record*>& recs, bool diff, bool esd = false,
                      bool randomize = false);

}  // namespace muft::analysis::detail
