/// \file aggregate.cpp
/// Rows built from a checkpoint's finished records: the diff total and the series groups.

#include <cmath>
#include <string>
#include <vector>

#include "plan.h"

namespace muft::analysis::detail {
namespace {

/// "a, b, c" of at most `limit` names, then "and N more".
std::string name_list(const std::vector<std::string>& names, std::size_t limit = 10) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < limit; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > limit) out += " and " + std::to_string(names.size() - limit) + " more";
  return out;
}

}  // namespace

Record total_record(const FileContext& fc, const std::vector<Record>& recs,
                    const std::string& base_path) {
  DiffTotals totals;
  std::vector<std::string> non_finite, failed;
  double intruders = NAN;
  for (const Record& r : recs) {
    if (!r.is_diff || (r.kind != RecordKind::Matrix && r.kind != RecordKind::LoraDelta)) continue;
    const std::string name = r.tensor.empty() ? r.base_tensor : r.tensor;
    if (r.failed()) {
      failed.push_back(name);
      continue;
    }
    if (std::isfinite(r.intruders))
      intruders = (std::isnan(intruders) ? 0 : intruders) + r.intruders;
    if (r.metrics.status == MetricStatus::Empty) {
      continue;  // no entries: nothing to add
    } else if (!totals.add(r.diff)) {
      non_finite.push_back(name);
    }
  }
  Record t;
  t.file = fc.path;
  t.format = fc.format;
  t.run = fc.run;
  t.step = fc.step;
  t.tensor = "__total__";
  t.kind = RecordKind::Total;
  t.is_diff = true;
  t.base_file = base_path;
  t.metrics.rows = static_cast<int64_t>(totals.tensors);
  t.metrics.cols = 0;
  std::string reason = std::to_string(totals.tensors) + " tensors";
  if (!non_finite.empty()) {
    reason += "; omitted " + std::to_string(non_finite.size()) +
              " with non-finite values: " + name_list(non_finite);
  }
  if (!failed.empty()) {
    reason += "; omitted " + std::to_string(failed.size()) + " that failed: " + name_list(failed);
  }
  if (totals.tensors == 0 && (!non_finite.empty() || !failed.empty())) {
    // Nothing left to measure: the distances are undefined, not zero.
    t.metrics.status = non_finite.empty() ? MetricStatus::Error : MetricStatus::NonFinite;
  } else {
    t.diff = totals.total();
    t.metrics.frobenius_norm = t.diff.l2_distance;
  }
  t.metrics.reason = reason;
  t.intruders = intruders;  // the sum over the rows that have a count
  return t;
}

GroupRecord aggregate(const FileContext& fc, const std::string& group,
                      const std::vector<const Record*>& recs, bool diff, bool esd, bool randomize) {
  GroupRecord g;
  g.run = fc.run;
  g.file = fc.path;
  g.step = fc.step;
  g.group = group;
  for (const Record* r : recs) (r->metrics.status == MetricStatus::Ok ? g.tensors : g.failed)++;
  std::vector<RecordMetric> metrics = series_metrics(diff);
  if (esd) {
    const std::vector<RecordMetric>& e = esd_metrics(randomize);
    metrics.insert(metrics.end(), e.begin(), e.end());
  }
  for (const RecordMetric& m : metrics) {
    double s = 0, s2 = 0;
    std::size_t n = 0;
    for (const Record* r : recs) {
      if (r->metrics.status != MetricStatus::Ok) continue;
      const double v = m.get(*r);
      if (!std::isfinite(v)) continue;
      s += v;
      ++n;
    }
    const double mean = n ? s / n : NAN;
    for (const Record* r : recs) {
      if (r->metrics.status != MetricStatus::Ok) continue;
      const double v = m.get(*r);
      if (std::isfinite(v)) s2 += (v - mean) * (v - mean);
    }
    g.stats[m.name] = {mean, n > 1 ? std::sqrt(s2 / (n - 1)) : (n == 1 ? 0.0 : NAN)};
  }
  return g;
}

}  // namespace muft::analysis::detail
