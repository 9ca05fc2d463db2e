#include "muft/stats/meta.h"

#include <cmath>
#include <map>
#include <stdexcept>
#include <utility>

#include "muft/stats/csv.h"
#include "muft/stats/summary.h"

namespace muft::stats {
namespace {

constexpr long kMaxSeeds = 1L << 53;  // the largest count parse_integer can check exactly

void check_cell(const std::string& task, const char* which, const MethodCell& c) {
  const std::string where = "task '" + task + "', " + which + ": ";
  if (c.n < 1) throw std::invalid_argument(where + "n must be >= 1, got " + std::to_string(c.n));
  if (!std::isfinite(c.mean)) throw std::invalid_argument(where + "mean must be finite");
  if (!std::isfinite(c.std) || c.std < 0.0)
    throw std::invalid_argument(where + "std must be finite and >= 0");
}

}  // namespace

Effect gap_reduction(const std::string& task, const MethodCell& full_a, const MethodCell& full_b,
                     const MethodCell& lora_a, const MethodCell& lora_b) {
  check_cell(task, "full-a", full_a);
  check_cell(task, "full-b", full_b);
  check_cell(task, "lora-a", lora_a);
  check_cell(task, "lora-b", lora_b);
  Effect e;
  e.task = task;
  e.y = (full_a.mean - full_b.mean) - (lora_a.mean - lora_b.mean);
  for (const MethodCell* c : {&full_a, &full_b, &lora_a, &lora_b})
    e.variance += c->std * c->std / static_cast<double>(c->n);
  return e;
}

MetaResult dersimonian_laird(const std::vector<Effect>& effects, double confidence) {
  if (effects.empty()) throw std::invalid_argument("meta-analysis needs at least one task");
  if (!(confidence > 0.0 && confidence < 1.0))
    throw std::invalid_argument("confidence must be in (0, 1)");
  for (const auto& e : effects) {
    if (!std::isfinite(e.y))
      throw std::invalid_argument("task '" + e.task + "': effect not finite");
    if (!(std::isfinite(e.variance) && e.variance > 0.0))
      throw std::invalid_argument("task '" + e.task +
                                  "': variance must be finite and > 0 (are all stds 0?)");
  }
  MetaResult r;
  r.k = effects.size();
  r.confidence = confidence;
  double sw = 0.0, sw2 = 0.0, swy = 0.0;
  for (const auto& e : effects) {
    const double w = 1.0 / e.variance;
    sw += w;
    sw2 += w * w;
    swy += w * e.y;
  }
  r.fixed_estimate = swy / sw;
  for (const auto& e : effects)
    r.q += (e.y - r.fixed_estimate) * (e.y - r.fixed_estimate) / e.variance;
  const double df = static_cast<double>(r.k) - 1.0;
  if (r.k == 1) {
    r.status = MetaStatus::kSingleStudy;
    r.tau2 = 0.0;
    r.q = 0.0;
  } else {
    const double c = sw - sw2 / sw;
    r.tau2 = std::max(0.0, (r.q - df) / c);
  }
  r.i2 = r.q > 0.0 ? std::max(0.0, (r.q - df) / r.q) : 0.0;
  double sws = 0.0, swsy = 0.0;
  for (const auto& e : effects) {
    const double w = 1.0 / (e.variance + r.tau2);
    sws += w;
    swsy += w * e.y;
  }
  for (const auto& e : effects) r.weights.push_back(1.0 / (e.variance + r.tau2) / sws);
  r.estimate = swsy / sws;
  r.se = 1.0 / std::sqrt(sws);
  const double zq = normal_quantile(1.0 - (1.0 - confidence) / 2.0);
  r.ci_low = r.estimate - zq * r.se;
  r.ci_high = r.estimate + zq * r.se;
  r.z = r.estimate / r.se;
  // 2(1 − Φ(|z|)) computed as 2Φ(−|z|) so tiny p-values keep their precision.
  r.p_value = 2.0 * normal_cdf(-std::fabs(r.z));
  return r;
}

std::vector<MethodRow> read_method_table(const std::string& path) {
  const CsvTable t = read_csv(path);
  const std::size_t ct = t.column("task"), cm = t.column("method"), cmean = t.column("mean"),
                    cstd = t.column("std"), cn = t.column("n");
  std::vector<MethodRow> rows;
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    const auto& f = t.rows[i];
    const std::string where = path + " row " + std::to_string(i + 1);
    MethodRow r;
    r.task = f[ct];
    r.method = f[cm];
    r.cell.mean = parse_double(f[cmean], where + " mean");
    r.cell.std = parse_double(f[cstd], where + " std");
    r.cell.n = parse_integer(f[cn], where + ": n", 1, kMaxSeeds);
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<MethodRow> rows_of_tasks(const std::vector<MethodRow>& rows,
                                     const std::vector<std::string>& tasks) {
  if (tasks.empty()) return rows;
  std::vector<MethodRow> out;
  for (const auto& t : tasks) {
    const std::size_t before = out.size();
    for (const auto& r : rows)
      if (r.task == t) out.push_back(r);
    if (out.size() == before) throw std::invalid_argument("no row for task '" + t + "'");
  }
  return out;
}

std::vector<Effect> gap_reductions(const std::vector<MethodRow>& rows, const std::string& full_a,
                                   const std::string& full_b, const std::string& lora_a,
                                   const std::string& lora_b, std::vector<std::string>* skipped) {
  std::vector<std::string> order;
  std::map<std::string, std::map<std::string, MethodCell>> cells;
  for (const auto& r : rows) {
    if (!cells.count(r.task)) order.push_back(r.task);
    auto& m = cells[r.task];
    if (m.count(r.method))
      throw std::invalid_argument("duplicate row for task '" + r.task + "', method '" + r.method +
                                  "'");
    m[r.method] = r.cell;
  }
  std::vector<Effect> effects;
  for (const auto& task : order) {
    const auto& m = cells[task];
    if (!m.count(full_a) || !m.count(full_b) || !m.count(lora_a) || !m.count(lora_b)) {
      if (skipped) skipped->push_back(task);
      continue;
    }
    effects.push_back(gap_reduction(task, m.at(full_a), m.at(full_b), m.at(lora_a), m.at(lora_b)));
  }
  return effects;
}

}  // namespace muft::stats
