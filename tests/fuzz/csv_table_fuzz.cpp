// libFuzzer target: the fuzz input is a CSV file as muft reads them (muft::stats::parse_csv:
// `muft-stats summary` tables, and metrics.csv / digits.csv in `muft-sweep collect`). Any input
// must either be rejected with std::invalid_argument or give a table whose every row has one
// field per header column; each accepted table is then read the way collect reads metrics.csv
// (every cell as a number) and the way `muft-stats summary` does (grouped by the first column,
// the last column summarized, with and without best-lr selection over the second).

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "muft/stats/csv.h"
#include "muft/stats/table_summary.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace muft::stats;
  CsvTable t;
  try {
    t = parse_csv(std::string(reinterpret_cast<const char*>(data), size), "fuzz.csv");
  } catch (const std::invalid_argument&) {
    return 0;  // rejected with a message: fine
  }
  if (t.header.empty()) std::abort();
  for (const auto& row : t.rows)
    if (row.size() != t.header.size()) std::abort();
  // collect: every metrics.csv cell is a number (or the run gets a problem, not a crash).
  try {
    for (const auto& row : t.rows)
      for (const auto& cell : row) parse_double(cell, "cell");
  } catch (const std::invalid_argument&) {
  }
  const std::string value = t.header.back();
  try {
    summarize_groups(t, {t.header.front()}, value);
  } catch (const std::invalid_argument&) {
  }
  if (t.header.size() >= 2) {
    try {
      best_lr_groups(t, {}, value, t.header[1], Goal::kMinimize);
    } catch (const std::invalid_argument&) {
    }
  }
  return 0;
}
