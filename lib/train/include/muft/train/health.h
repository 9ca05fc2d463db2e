#pragma once
/// \file health.h
/// Whether a run is still learning something: the divergence and collapse rules of
/// HealthOptions (config.h; docs/training.md, "Divergence and collapse") as pure functions,
/// so each rule is tested on constructed numbers and the loop only feeds them.

#include <cstdint>
#include <string>

#include "muft/train/config.h"

namespace muft::train {

/// Watches the training loss step by step. Diverged once `window` consecutive steps have a
/// loss above initial_loss + margin (initial_loss: the step-0 validation loss) or a non-finite
/// one. The streak survives resume (streak(), restore()).
class DivergenceMonitor {
 public:
  DivergenceMonitor(const HealthOptions& opts, double initial_loss);
  /// Feeds the loss of optimizer step `step` (1-based); returns a reason when the run has
  /// diverged, "" otherwise. Without a finite initial loss, or with health checks off, only a
  /// non-finite loss diverges.
  std::string observe(int64_t step, double train_loss);
  int64_t streak() const { return streak_; }
  void restore(int64_t streak) { streak_ = streak; }

 private:
  HealthOptions opts_;
  double initial_;
  int64_t streak_ = 0;
};

/// What collapse detection looks at, for one evaluation after step 0.
struct CollapseInputs {
  double initial_val_loss = 0;      ///< step-0 validation loss
  double initial_spread = 0;        ///< step-0 prediction spread
  double val_loss = 0;              ///< now
  double spread = 0;                ///< now
  double uniform_loss = 0;          ///< Task::uniform_loss()
  double label_frequency_loss = 0;  ///< Task::label_frequency_loss()
};

/// The reason the run has collapsed under rules (a) and (b) of HealthOptions, or "".
std::string detect_collapse(const HealthOptions& opts, const CollapseInputs& in);

}  // namespace muft::train
