/// \file gap_meta.cpp
/// Gap reductions → DerSimonian–Laird / HKSJ pooling → per-task intervals (gap_meta.h).

#include "muft/stats/gap_meta.h"

#include <stdexcept>

namespace muft::stats {
namespace {

GapMeta pool(std::vector<Effect> effects, std::vector<std::string> skipped, bool paired,
             const GapMethods& m, double confidence, const std::string& origin) {
  if (effects.empty())
    throw std::invalid_argument("no task in '" + origin + "' has all four methods " + m.full_a +
                                ", " + m.full_b + ", " + m.lora_a + ", " + m.lora_b);
  GapMeta out;
  out.paired = paired;
  out.result = dersimonian_laird(effects, confidence);
  for (const Effect& e : effects) out.task_intervals.push_back(effect_interval(e, confidence));
  out.effects = std::move(effects);
  out.skipped = std::move(skipped);
  return out;
}

}  // namespace

GapMeta gap_meta_from_means(const std::vector<MethodRow>& rows, const GapMethods& m,
                            const std::vector<std::string>& tasks, double confidence,
                            const std::string& origin) {
  std::vector<std::string> skipped;
  std::vector<Effect> effects =
      gap_reductions(rows_of_tasks(rows, tasks), m.full_a, m.full_b, m.lora_a, m.lora_b, &skipped);
  return pool(std::move(effects), std::move(skipped), false, m, confidence, origin);
}

GapMeta gap_meta_from_seeds(const std::vector<SeedRow>& rows, const GapMethods& m,
                            const std::vector<std::string>& tasks, double confidence,
                            const std::string& origin) {
  std::vector<std::string> skipped;
  std::vector<Effect> effects = paired_gap_reductions(rows_of_tasks(rows, tasks), m.full_a,
                                                      m.full_b, m.lora_a, m.lora_b, &skipped);
  return pool(std::move(effects), std::move(skipped), true, m, confidence, origin);
}

}  // namespace muft::stats
