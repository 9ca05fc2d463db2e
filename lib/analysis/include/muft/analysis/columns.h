#pragma once
/// \file columns.h
/// Result tables as lists of (name, type, getter): the header of a table and the cells of each
/// row come from the same list, so they cannot disagree. Column meanings: docs/formats.md
/// ("muft-analyze outputs").

#include <functional>
#include <string>
#include <vector>

#include "muft/analysis/record.h"
#include "muft/analysis/table.h"

namespace muft::analysis {

/// One column of a table of Rows: its name and type, and how a row gives its cell.
template <class Row>
struct FieldColumn {
  Column column;
  std::function<Cell(const Row&)> get;
};
/// A table layout: columns in order.
template <class Row>
using ColumnTable = std::vector<FieldColumn<Row>>;

/// The schema of a layout (for open_table_writer).
template <class Row>
std::vector<Column> columns_of(const ColumnTable<Row>& table) {
  std::vector<Column> out;
  out.reserve(table.size());
  for (const auto& c : table) out.push_back(c.column);
  return out;
}
/// The cells of one row, in column order.
template <class Row>
std::vector<Cell> cells_of(const ColumnTable<Row>& table, const Row& row) {
  std::vector<Cell> out;
  out.reserve(table.size());
  for (const auto& c : table) out.push_back(c.get(row));
  return out;
}

/// A per-matrix number of a Record, by name: the metrics (frobenius_norm … rank_tol) and, for
/// diffs, the distances.
struct RecordMetric {
  std::string name;
  std::function<double(const Record&)> get;
};
/// Every MatrixMetrics number written per row (frobenius_norm, spectral_norm, nuclear_norm,
/// max_abs, stable_rank, svd_entropy, effective_rank, numerical_rank, rank_tol).
const std::vector<RecordMetric>& matrix_metrics();
/// The numbers a series aggregates per layer group: the matrix metrics except rank_tol, and
/// with `diff` the distances l2_distance, relative_distance, cosine_distance.
const std::vector<RecordMetric>& series_metrics(bool diff);

/// The heavy-tailed ESD numbers written per row with --esd (lambda_max, alpha, alpha_weighted,
/// alpha_stderr, xmin, ks_distance, num_pl_spikes, mp_bulk_max, num_spikes, mp_softrank) and,
/// with `randomize`, rand_distance, rand_lambda_max, rand_num_spikes.
const std::vector<RecordMetric>& esd_metrics(bool randomize);

/// Which table a set of records goes to (decides the columns).
enum class TableKind { Spectra, Diff, Series };
/// Optional column groups of a record table.
struct RecordColumns {
  bool spectrum = false;   ///< the singular_values vector column
  bool esd = false;        ///< esd_metrics(false), after the matrix metrics
  bool randomize = false;  ///< with esd: the rand_* columns too
};
/// The layout of a record table with optional column groups (built on each call: keep it).
ColumnTable<Record> make_record_table(TableKind kind, const RecordColumns& groups);
/// The layout of a record table; `spectrum` adds the singular_values vector column.
const ColumnTable<Record>& record_table(TableKind kind, bool spectrum);
/// columns_of(record_table(kind, spectrum)).
std::vector<Column> record_columns(TableKind kind, bool spectrum);
/// cells_of(record_table(kind, spectrum), r).
std::vector<Cell> record_cells(const Record& r, TableKind kind, bool spectrum);

/// Names of series_metrics(diff), in column order.
std::vector<std::string> series_metric_names(bool diff);
/// The layout of the aggregated series table: run, file, step, group, n_tensors, n_failed, then
/// <metric> and <metric>_std for each of series_metrics(diff).
const ColumnTable<GroupRecord>& group_table(bool diff);
/// group_table(diff) followed by <metric> and <metric>_std of each esd_metrics(randomize)
/// (built on each call: keep it).
ColumnTable<GroupRecord> make_group_table(bool diff, bool esd, bool randomize);
/// columns_of(group_table(diff)) and cells_of(group_table(diff), g).
std::vector<Column> group_columns(bool diff);
std::vector<Cell> group_cells(const GroupRecord& g, bool diff);

}  // namespace muft::analysis
