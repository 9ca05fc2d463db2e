#include "muft/stats/csv.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace muft::stats {

std::size_t CsvTable::column(const std::string& name) const {
  const long i = find_column(name);
  if (i >= 0) return static_cast<std::size_t>(i);
  std::string known;
  for (const auto& h : header) known += (known.empty() ? "" : ",") + h;
  throw std::invalid_argument("missing CSV column '" + name + "' (columns: " + known + ")");
}

long CsvTable::find_column(const std::string& name) const {
  for (std::size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return static_cast<long>(i);
  return -1;
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cur += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (c != '\r') {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

std::string csv_escape(const std::string& field) {
  if (field.find_first_of(",\"\n") == std::string::npos) return field;
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

CsvTable parse_csv(const std::string& text, const std::string& origin) {
  CsvTable t;
  std::istringstream in(text);
  std::string line;
  std::size_t lineno = 0;
  bool have_header = false;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto fields = split_csv_line(line);
    if (!have_header) {
      for (auto& f : fields) {
        const auto b = f.find_first_not_of(" \t");
        const auto e = f.find_last_not_of(" \t");
        f = b == std::string::npos ? "" : f.substr(b, e - b + 1);
      }
      t.header = std::move(fields);
      have_header = true;
      continue;
    }
    if (fields.size() != t.header.size())
      throw std::invalid_argument(origin + ":" + std::to_string(lineno) + ": expected " +
                                  std::to_string(t.header.size()) + " fields, found " +
                                  std::to_string(fields.size()));
    t.rows.push_back(std::move(fields));
  }
  if (!have_header) throw std::invalid_argument(origin + ": empty CSV (a header line is expected)");
  return t;
}

CsvTable read_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_csv(ss.str(), path);
}

double parse_double(const std::string& text, const std::string& what) {
  std::string s = text;
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t");
  s = b == std::string::npos ? "" : s.substr(b, e - b + 1);
  if (s == "nan" || s == "NaN" || s == "-nan") return std::numeric_limits<double>::quiet_NaN();
  if (s == "inf" || s == "Inf" || s == "+inf") return std::numeric_limits<double>::infinity();
  if (s == "-inf" || s == "-Inf") return -std::numeric_limits<double>::infinity();
  if (s.empty()) throw std::invalid_argument(what + ": empty value, a number is expected");
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size())
    throw std::invalid_argument(what + ": '" + text + "' is not a number");
  return v;
}

long parse_integer(const std::string& text, const std::string& what, long lo, long hi) {
  constexpr long kExact = 1L << 53;  // every integer up to here is exactly a double
  if (lo > hi || lo < -kExact || hi > kExact)
    throw std::logic_error("parse_integer: bounds must satisfy -2^53 <= lo <= hi <= 2^53");
  const std::string expect = what + " must be a whole number in [" + std::to_string(lo) + ", " +
                             std::to_string(hi) + "], got '" + text + "'";
  double x = 0.0;
  try {
    x = parse_double(text, what);
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument(expect);
  }
  // Comparisons with NaN are false, so NaN fails here too; only then is the cast defined.
  if (!(x >= static_cast<double>(lo) && x <= static_cast<double>(hi)) || x != std::floor(x))
    throw std::invalid_argument(expect);
  return static_cast<long>(x);
}

}  // namespace muft::stats
