#include "muft/stats/gap_reduction.h"

#include <cmath>
#include <limits>
#include <map>
#include <set>
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

template <typename Row>
std::vector<Row> filter_tasks(const std::vector<Row>& rows, const std::vector<std::string>& tasks) {
  if (tasks.empty()) return rows;
  std::vector<Row> out;
  for (const auto& t : tasks) {
    const std::size_t before = out.size();
    for (const auto& r : rows)
      if (r.task == t) out.push_back(r);
    if (out.size() == before) throw std::invalid_argument("no row for task '" + t + "'");
  }
  return out;
}

std::string join(const std::set<std::string>& xs) {
  std::string out;
  for (const auto& x : xs) out += (out.empty() ? "" : ", ") + x;
  return out;
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
  double denom = 0.0;  // Σ (s²/n)²/(n − 1), Welch–Satterthwaite
  bool unknown = false;
  for (const MethodCell* c : {&full_a, &full_b, &lora_a, &lora_b}) {
    const double u = c->std * c->std / static_cast<double>(c->n);
    e.variance += u;
    if (c->n < 2)
      unknown = true;  // a std over one seed says nothing about the spread
    else
      denom += u * u / static_cast<double>(c->n - 1);
  }
  e.df = unknown || !(denom > 0.0) ? std::numeric_limits<double>::quiet_NaN()
                                   : e.variance * e.variance / denom;
  return e;
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

std::vector<SeedRow> read_seed_table(const std::string& path, const SeedColumns& columns) {
  if (columns.value.empty()) throw std::invalid_argument("the value column must be named");
  if (columns.task.empty()) throw std::invalid_argument("at least one task column is needed");
  const CsvTable t = read_csv(path);
  std::vector<std::size_t> ct;
  for (const auto& c : columns.task) ct.push_back(t.column(c));
  const std::size_t cm = t.column(columns.method), cs = t.column(columns.seed),
                    cv = t.column(columns.value);
  std::vector<SeedRow> rows;
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    const auto& f = t.rows[i];
    SeedRow r;
    for (std::size_t j = 0; j < ct.size(); ++j) r.task += (j ? "/" : "") + f[ct[j]];
    r.method = f[cm];
    r.seed = f[cs];
    const auto b = r.seed.find_first_not_of(" \t"), e = r.seed.find_last_not_of(" \t");
    r.seed = b == std::string::npos ? "" : r.seed.substr(b, e - b + 1);
    if (r.seed.empty())
      throw std::invalid_argument(path + " row " + std::to_string(i + 1) + ": empty seed");
    r.value = parse_double(f[cv], path + " row " + std::to_string(i + 1) + " " + columns.value);
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<Effect> paired_gap_reductions(const std::vector<SeedRow>& rows,
                                          const std::string& full_a, const std::string& full_b,
                                          const std::string& lora_a, const std::string& lora_b,
                                          std::vector<std::string>* skipped) {
  const std::vector<std::string> four = {full_a, full_b, lora_a, lora_b};
  std::vector<std::string> order;
  // task -> method -> seed -> value
  std::map<std::string, std::map<std::string, std::map<std::string, double>>> cells;
  for (const auto& r : rows) {
    if (!cells.count(r.task)) order.push_back(r.task);
    auto& seeds = cells[r.task][r.method];
    if (seeds.count(r.seed))
      throw std::invalid_argument("task '" + r.task + "', method '" + r.method + "': seed " +
                                  r.seed + " appears twice (one row per seed is expected)");
    seeds[r.seed] = r.value;
  }
  std::vector<Effect> effects;
  for (const auto& task : order) {
    const auto& m = cells.at(task);
    bool complete = true;
    for (const auto& name : four) complete = complete && m.count(name);
    if (!complete) {
      if (skipped) skipped->push_back(task);
      continue;
    }
    std::set<std::string> all, common;
    for (const auto& name : four)
      for (const auto& [seed, v] : m.at(name)) all.insert(seed);
    for (const auto& seed : all) {
      bool everywhere = true;
      for (const auto& name : four) everywhere = everywhere && m.at(name).count(seed);
      if (everywhere) common.insert(seed);
    }
    if (common.size() != all.size()) {
      std::set<std::string> missing;
      for (const auto& s : all)
        if (!common.count(s)) missing.insert(s);
      throw std::invalid_argument("task '" + task +
                                  "': the four methods must have the same seeds for a paired "
                                  "analysis; not in all four: " +
                                  join(missing));
    }
    if (common.size() < 2)
      throw std::invalid_argument("task '" + task + "': a paired analysis needs >= 2 seeds, got " +
                                  std::to_string(common.size()));
    std::vector<double> full_gap, lora_gap;  // per seed, in seed order
    for (const auto& seed : common) {
      for (const auto& name : four)
        if (!std::isfinite(m.at(name).at(seed)))
          throw std::invalid_argument("task '" + task + "', method '" + name + "', seed " + seed +
                                      ": value not finite (a diverged run has no paired partner; "
                                      "leave the seed out of the table)");
      full_gap.push_back(m.at(full_a).at(seed) - m.at(full_b).at(seed));
      lora_gap.push_back(m.at(lora_a).at(seed) - m.at(lora_b).at(seed));
    }
    const PairedDifference d = paired_difference(full_gap, lora_gap);
    Effect e;
    e.task = task;
    e.y = d.difference.mean;
    e.variance = d.difference.sem * d.difference.sem;
    e.df = static_cast<double>(d.difference.n - 1);
    effects.push_back(e);
  }
  return effects;
}

std::vector<MethodRow> rows_of_tasks(const std::vector<MethodRow>& rows,
                                     const std::vector<std::string>& tasks) {
  return filter_tasks(rows, tasks);
}

std::vector<SeedRow> rows_of_tasks(const std::vector<SeedRow>& rows,
                                   const std::vector<std::string>& tasks) {
  return filter_tasks(rows, tasks);
}

}  // namespace muft::stats
