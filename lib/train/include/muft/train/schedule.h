#pragma once
/// \file schedule.h
/// Learning-rate multipliers (applied to every group's base rate through
/// Optimizer::set_lr_multiplier). No LibTorch dependency.

#include <cstdint>
#include <string>

namespace muft::train {

/// Shape of the schedule after warmup.
enum class ScheduleKind {
  kConstant,  ///< 1 after warmup
  kCosine,    ///< final + (1 − final)·½(1 + cos(π·p)), p = progress after warmup in [0, 1]
  kLinearWarmdown,  ///< 1, then linear to final over the last warmdown_ratio of the steps
                    ///< (NanoChat)
};
/// Parses "constant" | "cosine" | "warmdown"; throws std::invalid_argument otherwise.
ScheduleKind parse_schedule_kind(const std::string& s);
std::string to_string(ScheduleKind k);

/// Schedule over total_steps optimizer steps (step index s = 0 … total_steps − 1).
/// Defaults: the paper's fine-tuning schedule (3 % warmup, cosine decay to 0).
struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::kCosine;
  int64_t total_steps = 1000;  ///< ≥ 1
  double warmup_ratio =
      0.03;  ///< warmup steps W = ceil(ratio·total); multiplier (s + 1)/W for s < W
  double warmdown_ratio = 0.2;  ///< kLinearWarmdown: last D = round(ratio·total) steps decay
  double final_lr_frac = 0.0;   ///< multiplier reached at the end (cosine / warmdown)
  /// Validates total ≥ 1, ratios in [0, 1], final in [0, 1]; writes a one-line reason.
  bool IsValid(std::string* error) const;
};

/// Multiplier for step index s (clamped to [0, total_steps − 1]), with W =
/// ceil(warmup_ratio·total):
///  s < W (warmup):        (s + 1) / W
///  constant:              1
///  cosine (HF form):      final + (1 − final)·½(1 + cos(π·p)), p = (s − W) / max(1, total − W)
///  warmdown (NanoChat):   1 if s ≤ total − D, else final + (1 − final)·(total − s)/D,
///                         D = round(warmdown_ratio·total)
/// Throws std::invalid_argument when !opts.IsValid().
double lr_multiplier(const ScheduleOptions& opts, int64_t step);

}  // namespace muft::train
