#pragma once
/// \file plan.h
/// Private: turning one opened checkpoint into jobs for the runner (spectra or diff against a
/// base), and the rows built from a checkpoint's finished records (diff totals, series groups).

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "muft/analysis/batch.h"
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
  LoraScale lora_scale;
  std::string lora_note;  ///< reason text when the LoRA scale had to be assumed
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
/// The LoRA scale of a checkpoint: flags, else adapter_config.json beside it, else 1.
void resolve_lora_scale(FileContext& fc, const BatchOptions& opts);

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
