#pragma once
/// \file best_lr.h
/// Best-over-learning-rate selection as in the paper's sweeps (arXiv 2605.10468, Sec. 4):
/// choose the learning rate whose mean validation metric over seeds is best, then report
/// mean ± std over seeds at that rate.

#include <cstddef>
#include <vector>

#include "muft/stats/summary.h"

namespace muft::stats {

/// One finished run: its learning rate, seed and final metric value (NaN/inf for diverged).
struct LrObservation {
  double lr = 0.0;
  long seed = 0;
  double value = 0.0;
};

/// Whether smaller (loss, perplexity) or larger (accuracy) metric values are better.
enum class Goal { kMinimize, kMaximize };

/// Outcome of the selection.
enum class SelectionStatus {
  kSuccessful,        ///< a learning rate with a finite mean was found
  kNoFiniteCandidate  ///< every learning rate had a non-finite mean (all diverged)
};

/// Per-learning-rate summary (candidates in increasing lr order).
struct LrCandidate {
  double lr = 0.0;
  Summary summary;
};

/// Result: the selected rate and its summary over seeds, plus every candidate.
struct BestLr {
  SelectionStatus status = SelectionStatus::kNoFiniteCandidate;
  double lr = 0.0;                      ///< the selected lr (NaN when none was selected)
  Summary summary;                      ///< at the selected lr (NaN, n = 0 when none was)
  std::vector<LrCandidate> candidates;  ///< all learning rates, increasing
};

/// Groups observations by lr (exact equality), summarizes each group and selects the best
/// finite mean (ties: the smaller lr). A learning rate where any seed is non-finite has a
/// non-finite mean and is never selected. Throws std::invalid_argument on empty input.
BestLr select_best_lr(const std::vector<LrObservation>& observations, Goal goal = Goal::kMinimize,
                      double confidence = 0.95);

}  // namespace muft::stats
