#include "muft/rundir/metrics.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace muft::rundir {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

#define MUFT_DOUBLE_COLUMN(field, doc)                                                             \
  CoreColumn {                                                                                     \
#field, doc, false,                                                                            \
        [](const MetricsRow& r) { return r.field; }, [](MetricsRow & r, double v) { r.field = v; } \
  }
#define MUFT_INT_COLUMN(field, doc)                                                       \
  CoreColumn {                                                                            \
#field, doc, true, [](const MetricsRow& r) { return static_cast<double>(r.field); },    \
        [](MetricsRow& r, double v) { r.field = static_cast<int64_t>(v); } \
  }

double parse_cell(const std::string& s, bool integer, const std::string& where) {
  if (integer && (s.empty() || s[0] == 'n' || s[0] == 'N' || s.find("inf") != std::string::npos)) {
    throw std::runtime_error(where + ": '" + s + "' is not an integer");
  }
  if (s.empty() || s == "nan" || s == "NaN") return kNaN;
  if (s == "inf") return std::numeric_limits<double>::infinity();
  if (s == "-inf") return -std::numeric_limits<double>::infinity();
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE) {
    throw std::runtime_error(where + ": '" + s + "' is not a number");
  }
  if (integer && (!(std::fabs(v) < 9.0e18) || v != std::floor(v))) {
    throw std::runtime_error(where + ": '" + s + "' is not an integer");
  }
  return v;
}

std::vector<std::string> split_commas(const std::string& line) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t c = line.find(',', start);
    out.push_back(line.substr(start, c == std::string::npos ? std::string::npos : c - start));
    if (c == std::string::npos) break;
    start = c + 1;
  }
  return out;
}

}  // namespace

const std::vector<CoreColumn> kCoreColumns = {
    MUFT_INT_COLUMN(step, "optimizer steps done"),
    MUFT_INT_COLUMN(tokens, "training tokens (LM) or examples (classifier) seen"),
    MUFT_DOUBLE_COLUMN(lr, "first group's base lr x schedule multiplier"),
    MUFT_DOUBLE_COLUMN(train_loss, "mean training loss since the previous row (nats)"),
    MUFT_DOUBLE_COLUMN(val_loss, "current task's validation loss (nats)"),
    MUFT_DOUBLE_COLUMN(val_ppl, "exp(val_loss)"),
    MUFT_DOUBLE_COLUMN(old_val_loss, "old task's validation loss (nats)"),
    MUFT_DOUBLE_COLUMN(old_val_ppl, "exp(old_val_loss)"),
    MUFT_DOUBLE_COLUMN(seconds, "wall time since the run started"),
};

#undef MUFT_DOUBLE_COLUMN
#undef MUFT_INT_COLUMN

std::vector<std::string> Metrics::column_names() const {
  std::vector<std::string> out;
  for (const auto& c : kCoreColumns) out.emplace_back(c.name);
  out.insert(out.end(), extra_columns.begin(), extra_columns.end());
  return out;
}

bool Metrics::column(const std::string& name, std::vector<double>* out) const {
  out->clear();
  for (const auto& c : kCoreColumns) {
    if (name == c.name) {
      for (const auto& r : rows) out->push_back(c.get(r));
      return true;
    }
  }
  for (std::size_t k = 0; k < extra_columns.size(); ++k) {
    if (extra_columns[k] == name) {
      for (const auto& r : rows) out->push_back(k < r.extra.size() ? r.extra[k] : kNaN);
      return true;
    }
  }
  return false;
}

double Metrics::value(std::size_t i, const std::string& name) const {
  if (i >= rows.size()) return kNaN;
  for (const auto& c : kCoreColumns) {
    if (name == c.name) return c.get(rows[i]);
  }
  for (std::size_t k = 0; k < extra_columns.size(); ++k) {
    if (extra_columns[k] == name) return k < rows[i].extra.size() ? rows[i].extra[k] : kNaN;
  }
  return kNaN;
}

std::string format_metric(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string format_metrics_csv(const Metrics& m) {
  std::string s;
  for (const auto& name : m.column_names()) s += (s.empty() ? "" : ",") + name;
  s += "\n";
  for (const auto& r : m.rows) {
    if (r.extra.size() != m.extra_columns.size()) {
      throw std::invalid_argument("metrics row of step " + std::to_string(r.step) + " has " +
                                  std::to_string(r.extra.size()) + " extra values for " +
                                  std::to_string(m.extra_columns.size()) + " extra columns");
    }
    std::string line;
    for (const auto& c : kCoreColumns) {
      if (!line.empty()) line += ",";
      line += c.integer ? std::to_string(static_cast<int64_t>(c.get(r))) : format_metric(c.get(r));
    }
    for (double v : r.extra) line += "," + format_metric(v);
    s += line + "\n";
  }
  return s;
}

Metrics parse_metrics_csv(const std::string& text, const std::string& origin) {
  Metrics m;
  std::size_t pos = 0, lineno = 0;
  std::vector<std::string> header;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    const bool complete = nl != std::string::npos;
    std::string line = text.substr(pos, complete ? nl - pos : std::string::npos);
    pos = complete ? nl + 1 : text.size();
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string where = origin + ":" + std::to_string(lineno);
    if (lineno == 1) {
      header = split_commas(line);
      if (header.size() < kCoreColumns.size()) {
        throw std::runtime_error(where + ": header has " + std::to_string(header.size()) +
                                 " columns, expected at least the " +
                                 std::to_string(kCoreColumns.size()) + " core columns");
      }
      for (std::size_t i = 0; i < kCoreColumns.size(); ++i) {
        if (header[i] != kCoreColumns[i].name) {
          throw std::runtime_error(where + ": column " + std::to_string(i + 1) + " is '" +
                                   header[i] + "', expected '" + kCoreColumns[i].name + "'");
        }
      }
      m.extra_columns.assign(header.begin() + static_cast<long>(kCoreColumns.size()), header.end());
      for (const auto& e : m.extra_columns) {
        if (e.empty()) throw std::runtime_error(where + ": an empty column name");
      }
      continue;
    }
    if (!complete) {  // cut off inside its last field: never trust it
      ++m.incomplete_rows;
      break;
    }
    if (line.empty()) continue;
    const auto cells = split_commas(line);
    if (cells.size() != header.size()) {
      throw std::runtime_error(where + ": expected " + std::to_string(header.size()) +
                               " columns, got " + std::to_string(cells.size()));
    }
    MetricsRow r;
    for (std::size_t i = 0; i < kCoreColumns.size(); ++i) {
      kCoreColumns[i].set(r, parse_cell(cells[i], kCoreColumns[i].integer, where));
    }
    for (std::size_t i = kCoreColumns.size(); i < cells.size(); ++i) {
      r.extra.push_back(parse_cell(cells[i], false, where));
    }
    m.rows.push_back(std::move(r));
  }
  if (lineno == 0) throw std::runtime_error(origin + ": empty file (no header)");
  return m;
}

}  // namespace muft::rundir
