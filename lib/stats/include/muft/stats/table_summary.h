#pragma once
/// \file table_summary.h
/// Summaries of a long metrics table (one row per run) grouped by key columns, with optional
/// best-over-learning-rate selection inside each group (what `muft-stats summary` prints).

#include <string>
#include <vector>

#include "muft/stats/best_lr.h"
#include "muft/stats/csv.h"
#include "muft/stats/summary.h"

namespace muft::stats {

/// One group of rows: its key (values of the `by` columns) and the summary of `value`.
struct GroupSummary {
  std::vector<std::string> key;
  double lr = 0.0;       ///< selected learning rate (best-LR mode only)
  bool selected = true;  ///< false when best-LR found no finite candidate
  Summary summary;
};

/// Groups rows by the `by` columns (first-appearance order) and summarizes `value` in each group.
/// Throws std::invalid_argument on a missing column or a non-numeric value.
std::vector<GroupSummary> summarize_groups(const CsvTable& table,
                                           const std::vector<std::string>& by,
                                           const std::string& value, double confidence = 0.95);

/// Like summarize_groups, but inside each group selects the learning rate (column `lr_column`)
/// with the best mean `value` (select_best_lr) and reports the summary at that rate.
std::vector<GroupSummary> best_lr_groups(const CsvTable& table, const std::vector<std::string>& by,
                                         const std::string& value, const std::string& lr_column,
                                         Goal goal, double confidence = 0.95);

}  // namespace muft::stats
