#include "muft/stats/table_summary.h"

#include <map>
#include <stdexcept>

namespace muft::stats {
namespace {

struct Grouped {
  std::vector<std::vector<std::string>> keys;                         // first-appearance order
  std::map<std::vector<std::string>, std::vector<std::size_t>> rows;  // key -> row indices
};

Grouped group_rows(const CsvTable& table, const std::vector<std::string>& by) {
  std::vector<std::size_t> cols;
  for (const auto& b : by) cols.push_back(table.column(b));
  Grouped g;
  for (std::size_t i = 0; i < table.rows.size(); ++i) {
    std::vector<std::string> key;
    for (auto c : cols) key.push_back(table.rows[i][c]);
    auto it = g.rows.find(key);
    if (it == g.rows.end()) {
      g.keys.push_back(key);
      g.rows[key] = {i};
    } else {
      it->second.push_back(i);
    }
  }
  return g;
}

}  // namespace

std::vector<GroupSummary> summarize_groups(const CsvTable& table,
                                           const std::vector<std::string>& by,
                                           const std::string& value, double confidence) {
  const std::size_t cv = table.column(value);
  const Grouped g = group_rows(table, by);
  std::vector<GroupSummary> out;
  for (const auto& key : g.keys) {
    std::vector<double> xs;
    for (auto i : g.rows.at(key))
      xs.push_back(parse_double(table.rows[i][cv], "row " + std::to_string(i + 1) + " " + value));
    out.push_back({key, 0.0, true, summarize(xs, confidence)});
  }
  return out;
}

std::vector<GroupSummary> best_lr_groups(const CsvTable& table, const std::vector<std::string>& by,
                                         const std::string& value, const std::string& lr_column,
                                         Goal goal, double confidence) {
  const std::size_t cv = table.column(value), clr = table.column(lr_column);
  const Grouped g = group_rows(table, by);
  std::vector<GroupSummary> out;
  for (const auto& key : g.keys) {
    std::vector<LrObservation> obs;
    for (auto i : g.rows.at(key)) {
      const std::string where = "row " + std::to_string(i + 1) + " ";
      obs.push_back({parse_double(table.rows[i][clr], where + lr_column), 0,
                     parse_double(table.rows[i][cv], where + value)});
    }
    const BestLr b = select_best_lr(obs, goal, confidence);
    GroupSummary s{key, b.lr, b.status == SelectionStatus::kSuccessful, b.summary};
    out.push_back(s);
  }
  return out;
}

}  // namespace muft::stats
