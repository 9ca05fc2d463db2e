#pragma once
/// \file csv.h
/// Minimal CSV reading/writing shared by muft-stats and the sweep collector: comma separated,
/// first line is the header, double quotes around fields that hold commas or quotes.

#include <cstddef>
#include <string>
#include <vector>

namespace muft::stats {

/// A CSV file held as strings.
struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  ///< each row has header.size() fields

  /// Index of a column; throws std::invalid_argument naming `name` and the known columns.
  std::size_t column(const std::string& name) const;
  /// Index of a column or -1 when absent.
  long find_column(const std::string& name) const;
};

/// Splits one CSV line (RFC 4180 quoting, no embedded newlines).
std::vector<std::string> split_csv_line(const std::string& line);
/// Quotes a field when it holds a comma, quote or newline.
std::string csv_escape(const std::string& field);

/// Reads a CSV file. Blank lines are skipped. Throws std::runtime_error when the file cannot be
/// opened and std::invalid_argument ("FILE:LINE: ...") on a row with the wrong number of fields.
CsvTable read_csv(const std::string& path);
/// Parses CSV text (used by read_csv and by tests); `origin` names the source in error messages.
CsvTable parse_csv(const std::string& text, const std::string& origin);

/// Parses a number; "nan", "inf", "-inf" accepted. Throws std::invalid_argument with `what` in
/// the message when the text is not a number.
double parse_double(const std::string& text, const std::string& what);

/// Parses a whole number in [lo, hi], written as an integer or in floating-point notation ("3",
/// "3.0", "1e1"). The range is checked on the parsed double before converting, so "1e30" or
/// "inf" is an error instead of an out-of-range (undefined) conversion. Throws
/// std::invalid_argument naming `what`, the bounds and the text; std::logic_error when a bound
/// exceeds \f$ 2^{53} \f$ in magnitude (beyond it doubles cannot hold every integer).
long parse_integer(const std::string& text, const std::string& what, long lo, long hi);

}  // namespace muft::stats
