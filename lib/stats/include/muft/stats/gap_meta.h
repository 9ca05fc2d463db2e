#pragma once
/// \file gap_meta.h
/// The whole meta-analysis of LoRA's mitigation of the optimizer mismatch, as `muft-stats meta`
/// and the Python module's muft.meta run it: per-task gap reductions (gap_reduction.h), the
/// DerSimonian–Laird pooling with its HKSJ interval (meta.h) and each task's own interval.

#include <string>
#include <vector>

#include "muft/stats/gap_reduction.h"
#include "muft/stats/meta.h"

namespace muft::stats {

/// The four methods of the contrast \f$ y = (F_A - F_B) - (L_A - L_B) \f$, by name.
struct GapMethods {
  std::string full_a, full_b, lora_a, lora_b;
};

/// Outcome of gap_meta_from_means / gap_meta_from_seeds.
struct GapMeta {
  bool paired = false;                   ///< effects paired over seeds (gap_meta_from_seeds)
  std::vector<Effect> effects;           ///< one per pooled task, in first-appearance order
  std::vector<Interval> task_intervals;  ///< effect_interval of each effect at `confidence`
  std::vector<std::string> skipped;      ///< tasks without all four methods
  MetaResult result;                     ///< the pooled estimate
};

/// Meta-analysis from per-method means (read_method_table rows): the tasks named in `tasks`
/// (all when empty; rows_of_tasks), their gap reductions, pooled at `confidence`. Throws
/// std::invalid_argument when no task has all four methods (naming `origin`, the table's name)
/// and on every error of the steps it runs.
GapMeta gap_meta_from_means(const std::vector<MethodRow>& rows, const GapMethods& methods,
                            const std::vector<std::string>& tasks, double confidence,
                            const std::string& origin);

/// The same from per-run values paired by seed (read_seed_table rows).
GapMeta gap_meta_from_seeds(const std::vector<SeedRow>& rows, const GapMethods& methods,
                            const std::vector<std::string>& tasks, double confidence,
                            const std::string& origin);

}  // namespace muft::stats
