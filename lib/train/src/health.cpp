#include "muft/train/health.h"

#include <cmath>

#include <fmt/format.h>

namespace muft::train {

DivergenceMonitor::DivergenceMonitor(const HealthOptions& opts, double initial_loss)
    : opts_(opts), initial_(initial_loss) {}

std::string DivergenceMonitor::observe(int64_t step, double train_loss) {
  if (!std::isfinite(train_loss)) return fmt::format("non-finite training loss at step {}", step);
  if (!opts_.enabled || !std::isfinite(initial_)) return "";
  if (train_loss > initial_ + opts_.divergence_margin) {
    ++streak_;
  } else {
    streak_ = 0;
  }
  if (streak_ >= opts_.divergence_window) {
    return fmt::format(
        "training loss above the initial loss {:.4f} + {:g} for {} consecutive steps "
        "(step {}: {:.4f})",
        initial_, opts_.divergence_margin, streak_, step, train_loss);
  }
  return "";
}

std::string detect_collapse(const HealthOptions& opts, const CollapseInputs& in) {
  if (!opts.enabled) return "";
  const std::pair<const char*, double> refs[] = {{"uniform-prediction", in.uniform_loss},
                                                 {"label-frequency", in.label_frequency_loss}};
  for (const auto& [name, ref] : refs) {
    if (!std::isfinite(ref) || !std::isfinite(in.val_loss)) continue;
    if (std::fabs(in.val_loss - ref) <= opts.collapse_tolerance &&
        in.initial_val_loss <= ref - opts.collapse_start_gap) {
      return fmt::format(
          "validation loss {:.4f} is within {:g} of the {} loss {:.4f} after starting at {:.4f}",
          in.val_loss, opts.collapse_tolerance, name, ref, in.initial_val_loss);
    }
  }
  if (std::isfinite(in.spread) && std::isfinite(in.initial_spread) &&
      in.spread <= opts.collapse_spread && in.initial_spread > 10.0 * opts.collapse_spread) {
    return fmt::format(
        "predictions no longer depend on the input (spread {:.3g} <= {:g}; {:.3g} at step 0)",
        in.spread, opts.collapse_spread, in.initial_spread);
  }
  return "";
}

}  // namespace muft::train
