#pragma once
/// \file table.h
/// Result tables written row by row as they are produced: CSV, JSON lines or HDF5, chosen by the
/// file extension. Layout of each format: docs/formats.md ("muft-analyze outputs").

#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace muft::analysis {

/// Type of a column.
enum class ColumnType {
  String,  ///< text
  Number,  ///< double; NaN is written as an empty CSV field / JSON null / HDF5 NaN
  Vector,  ///< list of doubles (e.g. the singular values): CSV ';'-joined, JSON array, HDF5 vlen
};

/// One column of a table.
struct Column {
  std::string name;
  ColumnType type = ColumnType::Number;
};

/// One cell; its alternative must match the column type.
using Cell = std::variant<std::string, double, std::vector<double>>;

/// A sink of rows with a fixed schema. write_row is thread-safe and flushes the file, so an
/// interrupted run keeps every row already written.
class TableWriter {
 public:
  virtual ~TableWriter() = default;
  /// Appends one row (cells in column order). Throws std::invalid_argument on a schema mismatch,
  /// std::runtime_error on an I/O failure.
  virtual void write_row(const std::vector<Cell>& cells) = 0;
  /// Flushes and closes (also done by the destructor).
  virtual void close() = 0;
  /// Rows written so far.
  virtual std::size_t rows() const = 0;
};

/// "csv", "jsonl" or "hdf5" for a path by its extension (.csv; .jsonl/.json/.ndjson;
/// .h5/.hdf5); throws std::invalid_argument for anything else.
std::string table_format_for(const std::string& path);

/// Opens a writer for `path` (truncating it). `attributes` are (key, value) strings stored as
/// HDF5 root attributes (CSV and JSON lines hold rows only). Throws std::runtime_error when the
/// file cannot be created.
std::unique_ptr<TableWriter> open_table_writer(
    const std::string& path, const std::vector<Column>& columns,
    const std::vector<std::pair<std::string, std::string>>& attributes = {});

/// CSV field quoting (RFC 4180): quotes a field holding ',', '"', CR or LF.
std::string csv_escape(const std::string& s);

}  // namespace muft::analysis
