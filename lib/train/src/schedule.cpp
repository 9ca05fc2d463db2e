// Learning-rate multipliers (schedule.h); no LibTorch here.
#include "muft/train/schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace muft::train {

ScheduleKind parse_schedule_kind(const std::string& s) {
  if (s == "constant") return ScheduleKind::kConstant;
  if (s == "cosine") return ScheduleKind::kCosine;
  if (s == "warmdown") return ScheduleKind::kLinearWarmdown;
  throw std::invalid_argument("unknown schedule '" + s +
                              "': expected constant, cosine or warmdown");
}

std::string to_string(ScheduleKind k) {
  switch (k) {
    case ScheduleKind::kConstant:
      return "constant";
    case ScheduleKind::kCosine:
      return "cosine";
    case ScheduleKind::kLinearWarmdown:
      return "warmdown";
  }
  return "?";
}

bool ScheduleOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& msg) {
    if (error) *error = msg;
    return false;
  };
  if (total_steps < 1) return fail("schedule total_steps must be >= 1");
  if (!(warmup_ratio >= 0.0 && warmup_ratio <= 1.0)) return fail("warmup_ratio must be in [0, 1]");
  if (!(warmdown_ratio >= 0.0 && warmdown_ratio <= 1.0))
    return fail("warmdown_ratio must be in [0, 1]");
  if (!(final_lr_frac >= 0.0 && final_lr_frac <= 1.0))
    return fail("final_lr_frac must be in [0, 1]");
  return true;
}

double lr_multiplier(const ScheduleOptions& o, int64_t step) {
  std::string error;
  if (!o.IsValid(&error)) throw std::invalid_argument(error);
  const int64_t total = o.total_steps;
  const int64_t s = std::clamp<int64_t>(step, 0, total - 1);
  const auto warmup = static_cast<int64_t>(std::ceil(o.warmup_ratio * double(total) - 1e-9));
  if (s < warmup) return double(s + 1) / double(warmup);
  switch (o.kind) {
    case ScheduleKind::kConstant:
      return 1.0;
    case ScheduleKind::kCosine: {
      const double p = double(s - warmup) / double(std::max<int64_t>(1, total - warmup));
      return o.final_lr_frac + (1.0 - o.final_lr_frac) * 0.5 * (1.0 + std::cos(M_PI * p));
    }
    case ScheduleKind::kLinearWarmdown: {
      const auto down = static_cast<int64_t>(std::llround(o.warmdown_ratio * double(total)));
      if (down == 0 || s <= total - down) return 1.0;
      const double p = double(total - s) / double(down);
      return o.final_lr_frac + (1.0 - o.final_lr_frac) * p;
    }
  }
  return 1.0;
}

}  // namespace muft::train
