#pragma once
/// \file gap_reduction.h
/// LoRA's mitigation of the optimizer mismatch as one effect per task (arXiv 2605.10468,
/// Sec. 4.3): the gap reduction \f$ y = (F_A - F_B) - (L_A - L_B) \f$ of four methods, from a
/// table of per-method means (independent samples) or from per-seed values (paired: within a
/// seed every method sees the same data order, so the contrast is taken seed by seed). The
/// effects feed dersimonian_laird (meta.h).

#include <string>
#include <vector>

#include "muft/stats/meta.h"

namespace muft::stats {

/// Mean ± std over n seeds of one method on one task.
struct MethodCell {
  double mean = 0.0;
  double std = 0.0;
  long n = 0;
};

/// \f$ y = (F_A - F_B) - (L_A - L_B) \f$, variance \f$ v = \sum_j s_j^2/n_j \f$ over the four
/// cells, df by Welch–Satterthwaite \f$ v^2 / \sum_j (s_j^2/n_j)^2/(n_j-1) \f$ (cells with
/// \f$ s_j = 0 \f$ add nothing; NaN when a cell has n = 1, whose variance is unknown). Throws
/// std::invalid_argument when a cell has n < 1, a negative or non-finite std or mean.
Effect gap_reduction(const std::string& task, const MethodCell& full_a, const MethodCell& full_b,
                     const MethodCell& lora_a, const MethodCell& lora_b);

/// One row of the long-format table `task,method,mean,std,n`.
struct MethodRow {
  std::string task;
  std::string method;
  MethodCell cell;
};

/// Reads the long CSV (header `task,method,mean,std,n` in any column order, extra columns
/// ignored; n a whole number ≥ 1). Throws std::invalid_argument naming the file and row on a
/// malformed row, std::runtime_error when the file cannot be opened.
std::vector<MethodRow> read_method_table(const std::string& path);

/// Per task (in first-appearance order) the gap reduction of the four named methods. Tasks that
/// lack one of the four are listed in `skipped` (not an error); a duplicate (task, method) row
/// throws std::invalid_argument.
std::vector<Effect> gap_reductions(const std::vector<MethodRow>& rows, const std::string& full_a,
                                   const std::string& full_b, const std::string& lora_a,
                                   const std::string& lora_b, std::vector<std::string>* skipped);

/// One run's final metric: task, method, seed (an identifier matched as text) and value.
struct SeedRow {
  std::string task;
  std::string method;
  std::string seed;
  double value = 0.0;
};

/// Which columns of a per-run table hold what (read_seed_table).
struct SeedColumns {
  std::string value;                         ///< the metric, e.g. final_val_loss (required)
  std::vector<std::string> task = {"task"};  ///< joined with '/' into the task name
  std::string method = "method";             ///< method name
  std::string seed = "seed";                 ///< seed identifier
};

/// Reads a per-run CSV (one row per task × method × seed, extra columns ignored). With
/// `task = {"study", "pretrain_optimizer"}` a row of results_runs.csv gets the task name
/// `<study>/<pretraining optimizer>` that `muft-sweep report --methods-csv` uses. Throws
/// std::invalid_argument on a missing column or a non-numeric value (naming file and row),
/// std::runtime_error when the file cannot be opened.
std::vector<SeedRow> read_seed_table(const std::string& path, const SeedColumns& columns);

/// Per task (first-appearance order) the paired gap reduction: for every seed s
/// \f$ d_s = (F_{A,s} - F_{B,s}) - (L_{A,s} - L_{B,s}) \f$, then y = mean d, \f$ v = s_d^2/n \f$,
/// df = n − 1, so that effect_interval is the paired Student-t interval of paired_difference
/// (summary.h). Tasks that lack one of the four methods are listed in `skipped`. Throws
/// std::invalid_argument, naming the task, when the four methods do not have the same seeds, a
/// (task, method, seed) appears twice, a value is not finite (a diverged run has no paired
/// partner: exclude it, or the seed, explicitly), or fewer than 2 seeds remain.
std::vector<Effect> paired_gap_reductions(const std::vector<SeedRow>& rows,
                                          const std::string& full_a, const std::string& full_b,
                                          const std::string& lora_a, const std::string& lora_b,
                                          std::vector<std::string>* skipped);

/// The rows of the named tasks only (all rows when `tasks` is empty). Throws
/// std::invalid_argument naming a task that has no row, so a typo never pools silently fewer.
std::vector<MethodRow> rows_of_tasks(const std::vector<MethodRow>& rows,
                                     const std::vector<std::string>& tasks);
/// The same filter for per-seed rows.
std::vector<SeedRow> rows_of_tasks(const std::vector<SeedRow>& rows,
                                   const std::vector<std::string>& tasks);

}  // namespace muft::stats
