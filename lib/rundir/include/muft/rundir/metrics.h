#pragma once
/// \file metrics.h
/// DIR/metrics.csv: one row per evaluation. The columns are one table (kCoreColumns, below)
/// from which the header, the cells and the parser all come, followed by the task's own
/// columns (e.g. the digits task's val_acc, old_val_acc), named in the header.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace muft::rundir {

/// One evaluation row.
struct MetricsRow {
  int64_t step = 0;    ///< optimizer steps done
  int64_t tokens = 0;  ///< training tokens (LM) or examples (classifiers) seen
  double lr = 0.0;     ///< base learning rate of the first group × schedule multiplier
  /// Mean training loss (nats) since the previous row; NaN in the step-0 row (no step yet).
  double train_loss = std::numeric_limits<double>::quiet_NaN();
  double val_loss = 0.0;      ///< loss on the current task's validation data (nats)
  double val_ppl = 0.0;       ///< exp(val_loss)
  double old_val_loss = 0.0;  ///< loss on the old (pretraining) task's validation data
  double old_val_ppl = 0.0;   ///< exp(old_val_loss)
  double seconds = 0.0;       ///< wall time since the run (its first segment) started
  std::vector<double> extra;  ///< the task's columns, in Metrics::extra_columns order
};

/// A core column: its name, meaning, and how to read/write it in a row.
struct CoreColumn {
  const char* name;
  const char* doc;
  bool integer;  ///< written without a fraction (step, tokens)
  double (*get)(const MetricsRow&);
  void (*set)(MetricsRow&, double);
};
/// step, tokens, lr, train_loss, val_loss, val_ppl, old_val_loss, old_val_ppl, seconds.
extern const std::vector<CoreColumn> kCoreColumns;

/// A whole metrics.csv.
struct Metrics {
  std::vector<std::string> extra_columns;  ///< names after the core columns
  std::vector<MetricsRow> rows;
  /// Rows dropped when reading: the last line had no terminating newline (the writer was
  /// cut off inside it), so it may hold a shortened value.
  std::size_t incomplete_rows = 0;

  /// Every column name, core first.
  std::vector<std::string> column_names() const;
  /// Values of a column by name (core or extra); false when there is no such column.
  bool column(const std::string& name, std::vector<double>* out) const;
  /// Value of `name` in row i (NaN when the column is absent).
  double value(std::size_t i, const std::string& name) const;
};

/// The CSV text (header + rows, "%.9g", nan/inf spelled out). Throws std::invalid_argument
/// when a row's extra values do not match extra_columns.
std::string format_metrics_csv(const Metrics& m);
/// Parses a metrics.csv. The header must start with the core columns; further names are extra
/// columns. A final line without '\n' is counted in incomplete_rows and ignored. Throws
/// std::runtime_error "origin:line: what" on a wrong header, a wrong cell count or a cell that is
/// not a number.
Metrics parse_metrics_csv(const std::string& text, const std::string& origin);

/// Formats a number the way metrics.csv does ("%.9g", "nan", "inf", "-inf").
std::string format_metric(double v);

}  // namespace muft::rundir
