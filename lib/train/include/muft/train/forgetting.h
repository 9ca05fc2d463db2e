#pragma once
/// \file forgetting.h
/// The forgetting curves of `muft-analyze forgetting`: every checkpoint of a language-model run
/// evaluated on the old task (pretraining text) and the new task (fine-tuning text).

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "muft/train/eval.h"

namespace muft::train {

/// What `muft-analyze forgetting` evaluates.
struct ForgettingOptions {
  std::string data = "both";  ///< "old" (pretraining val), "new" (fine-tuning val) or "both"
  std::string old_val;        ///< override of the run's old-task validation file (empty: config)
  std::string new_val;        ///< override of the run's new-task validation file (empty: config)
  int64_t eval_windows = 0;   ///< windows per set; 0 = the run's data.eval_windows
  int64_t batch_rows = 16;    ///< windows per forward
  /// Validates data ∈ {old, new, both}, eval_windows ≥ 0, batch_rows ≥ 1.
  bool IsValid(std::string* error) const;
};

/// One checkpoint evaluated on one data set. The reference is the model the run started
/// from (its init_from checkpoint for a fine-tuning run, its first checkpoint otherwise);
/// delta_* = value − reference value (positive delta_loss on "old" = forgetting).
struct ForgettingRow {
  std::string run;         ///< run directory
  std::string checkpoint;  ///< checkpoint file ("" on a run-level error)
  int64_t step = -1;       ///< step of the checkpoint (0 for the reference)
  std::string dataset;     ///< "old" or "new"
  EvalResult result;
  double delta_loss = std::numeric_limits<double>::quiet_NaN();
  double delta_ppl = std::numeric_limits<double>::quiet_NaN();
  std::string error;  ///< non-empty when this run/checkpoint could not be evaluated
};

/// Evaluates every checkpoint of every run (each run must hold config.json with its model
/// config). Rows are handed to on_row as they are produced (the reference first, then
/// checkpoints by step); a broken run or checkpoint yields a row with `error` set and the
/// batch goes on. Returns the number of error rows. Throws std::invalid_argument on invalid
/// options only.
int64_t forgetting_curves(const std::vector<std::string>& run_dirs, const ForgettingOptions& opts,
                          const std::function<void(const ForgettingRow&)>& on_row);

}  // namespace muft::train
