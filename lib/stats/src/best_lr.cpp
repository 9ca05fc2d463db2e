#include "muft/stats/best_lr.h"

#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>

namespace muft::stats {

BestLr select_best_lr(const std::vector<LrObservation>& observations, Goal goal,
                      double confidence) {
  if (observations.empty()) throw std::invalid_argument("best-LR selection needs observations");
  std::map<double, std::vector<double>> by_lr;  // ordered by lr
  for (const auto& o : observations) {
    if (!std::isfinite(o.lr)) throw std::invalid_argument("learning rate must be finite");
    by_lr[o.lr].push_back(o.value);
  }
  BestLr best;
  // Until a rate is selected there is no summary: NaN with n = 0, so that a group in which every
  // rate diverged is never printed as "0 ± 0".
  const double nan = std::numeric_limits<double>::quiet_NaN();
  best.summary.mean = best.summary.std = best.summary.sem = nan;
  best.summary.ci_low = best.summary.ci_high = nan;
  best.summary.confidence = confidence;
  best.lr = nan;
  for (const auto& [lr, values] : by_lr) {
    LrCandidate c{lr, summarize(values, confidence)};
    best.candidates.push_back(c);
    if (!std::isfinite(c.summary.mean)) continue;
    const bool better = best.status != SelectionStatus::kSuccessful ||
                        (goal == Goal::kMinimize ? c.summary.mean < best.summary.mean
                                                 : c.summary.mean > best.summary.mean);
    if (better) {
      best.status = SelectionStatus::kSuccessful;
      best.lr = lr;
      best.summary = c.summary;
    }
  }
  return best;
}

}  // namespace muft::stats
