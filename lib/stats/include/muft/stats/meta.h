#pragma once
/// \file meta.h
/// Random-effects meta-analysis of LoRA's mismatch mitigation (arXiv 2605.10468, Sec. 4.3,
/// "Statistical significance across tasks"): per task the gap reduction
/// \f$ y = (F_A - F_B) - (L_A - L_B) \f$ with variance \f$ \sum_j s_j^2/n_j \f$ over its four
/// means, pooled across tasks by DerSimonian–Laird.

#include <cstddef>
#include <string>
#include <vector>

namespace muft::stats {

/// Mean ± std over n seeds of one method on one task.
struct MethodCell {
  double mean = 0.0;
  double std = 0.0;
  long n = 0;
};

/// One task's effect and its sampling variance.
struct Effect {
  std::string task;
  double y = 0.0;         ///< effect size
  double variance = 0.0;  ///< its sampling variance (> 0)
};

/// \f$ y = (F_A - F_B) - (L_A - L_B) \f$, variance \f$ s_{F_A}^2/n + s_{F_B}^2/n + s_{L_A}^2/n +
/// s_{L_B}^2/n \f$. Throws std::invalid_argument when a cell has n < 1, a negative or non-finite
/// std or mean.
Effect gap_reduction(const std::string& task, const MethodCell& full_a, const MethodCell& full_b,
                     const MethodCell& lora_a, const MethodCell& lora_b);

/// Outcome of the pooling.
enum class MetaStatus {
  kSuccessful,  ///< k ≥ 2 tasks pooled
  kSingleStudy  ///< k = 1: the estimate is that task's y, τ² = 0, Q = 0
};

/// DerSimonian–Laird random-effects estimate.
struct MetaResult {
  MetaStatus status = MetaStatus::kSuccessful;
  std::size_t k = 0;  ///< number of tasks
  double estimate =
      0.0;  ///< \f$ \hat\mu = \sum w_i^* y_i / \sum w_i^* \f$, \f$ w_i^* = 1/(v_i+\hat\tau^2) \f$
  double se = 0.0;      ///< \f$ 1/\sqrt{\sum w_i^*} \f$
  double ci_low = 0.0;  ///< \f$ \hat\mu - z_{1-(1-c)/2}\, se \f$ (normal quantile)
  double ci_high = 0.0;
  double z = 0.0;        ///< \f$ \hat\mu / se \f$
  double p_value = 1.0;  ///< two-sided \f$ 2(1-\Phi(|z|)) \f$
  double tau2 =
      0.0;  ///< \f$ \max(0, (Q-(k-1))/(\sum w_i - \sum w_i^2/\sum w_i)) \f$, \f$ w_i = 1/v_i \f$
  double q = 0.0;               ///< Cochran's \f$ Q = \sum w_i (y_i - \hat\mu_{FE})^2 \f$
  double i2 = 0.0;              ///< \f$ I^2 = \max(0, (Q-(k-1))/Q) \f$ (0 when Q = 0)
  double fixed_estimate = 0.0;  ///< fixed-effect (inverse-variance) estimate \f$ \hat\mu_{FE} \f$
  std::vector<double> weights;  ///< normalized random-effects weights, one per effect
  double confidence = 0.95;
};

/// Pools effects by DerSimonian–Laird. Throws std::invalid_argument when `effects` is empty,
/// a variance is not finite and > 0, a y is not finite, or confidence is not in (0, 1).
MetaResult dersimonian_laird(const std::vector<Effect>& effects, double confidence = 0.95);

/// One row of the long-format table `task,method,mean,std,n`.
struct MethodRow {
  std::string task;
  std::string method;
  MethodCell cell;
};

/// Reads the long CSV (header `task,method,mean,std,n` in any column order, extra columns ignored).
/// Throws std::invalid_argument naming the file and line on a malformed row, std::runtime_error
/// when the file cannot be opened.
std::vector<MethodRow> read_method_table(const std::string& path);

/// The rows of the named tasks only (all rows when `tasks` is empty). Throws
/// std::invalid_argument naming a task that has no row, so a typo never pools silently fewer.
std::vector<MethodRow> rows_of_tasks(const std::vector<MethodRow>& rows,
                                     const std::vector<std::string>& tasks);

/// Per task (in first-appearance order) the gap reduction of the four named methods. Tasks that
/// lack one of the four are listed in `skipped` (not an error); a duplicate (task, method) row
/// throws std::invalid_argument.
std::vector<Effect> gap_reductions(const std::vector<MethodRow>& rows, const std::string& full_a,
                                   const std::string& full_b, const std::string& lora_a,
                                   const std::string& lora_b, std::vector<std::string>* skipped);

}  // namespace muft::stats
