/// \file columns.cpp
/// The record and series table layouts: every column is listed once, with its getter.

#include "muft/analysis/columns.h"

#include <array>
#include <cmath>

namespace muft::analysis {
namespace {

using T = ColumnType;

template <class Row>
FieldColumn<Row> text(const char* name, std::function<std::string(const Row&)> get) {
  return {{name, T::String},
          [get](const Row& r) { return Cell(std::in_place_type<std::string>, get(r)); }};
}

template <class Row>
FieldColumn<Row> number(const std::string& name, std::function<double(const Row&)> get) {
  return {{name, T::Number},
          [get](const Row& r) { return Cell(std::in_place_type<double>, get(r)); }};
}

RecordMetric metric(const char* name, double MatrixMetrics::*field) {
  return {name, [field](const Record& r) { return r.metrics.*field; }};
}

RecordMetric distance(const char* name, double DiffMetrics::*field) {
  return {name, [field](const Record& r) { return r.diff.*field; }};
}

std::vector<RecordMetric> make_matrix_metrics() {
  using M = MatrixMetrics;
  return {metric("frobenius_norm", &M::frobenius_norm),
          metric("spectral_norm", &M::spectral_norm),
          metric("nuclear_norm", &M::nuclear_norm),
          metric("max_abs", &M::max_abs),
          metric("stable_rank", &M::stable_rank),
          metric("svd_entropy", &M::svd_entropy),
          metric("effective_rank", &M::effective_rank),
          metric("numerical_rank", &M::numerical_rank),
          metric("rank_tol", &M::rank_tol)};
}

RecordMetric esd_value(const char* name, double EsdMetrics::*field) {
  return {name, [field](const Record& r) { return r.metrics.esd.*field; }};
}

RecordMetric power_law(const char* name, double PowerLawFit::*field) {
  return {name, [field](const Record& r) { return r.metrics.esd.power_law.*field; }};
}

RecordMetric bulk(const char* name, double MarchenkoPasturFit::*field) {
  return {name, [field](const Record& r) { return r.metrics.esd.mp.*field; }};
}

/// A count of an ESD fit, NaN when the fit it belongs to was not made (its defining value is).
RecordMetric esd_count(const char* name, std::function<double(const EsdMetrics&)> get) {
  return {name, [get](const Record& r) { return get(r.metrics.esd); }};
}

std::vector<RecordMetric> make_esd_metrics(bool randomize) {
  using E = EsdMetrics;
  using P = PowerLawFit;
  using B = MarchenkoPasturFit;
  std::vector<RecordMetric> m = {
      esd_value("lambda_max", &E::lambda_max),
      power_law("alpha", &P::alpha),
      esd_value("alpha_weighted", &E::alpha_weighted),
      power_law("alpha_stderr", &P::alpha_stderr),
      power_law("xmin", &P::xmin),
      power_law("ks_distance", &P::ks_distance),
      esd_count("num_pl_spikes",
                [](const E& e) {
                  return std::isnan(e.power_law.alpha) ? NAN
                                                       : static_cast<double>(e.power_law.n_tail);
                }),
      bulk("mp_bulk_max", &B::lambda_plus),
      esd_count("num_spikes",
                [](const E& e) {
                  return std::isnan(e.mp.lambda_plus) ? NAN : static_cast<double>(e.mp.num_spikes);
                }),
      bulk("mp_softrank", &B::softrank)};
  if (randomize) {
    m.push_back(esd_value("rand_distance", &E::rand_distance));
    m.push_back(esd_value("rand_lambda_max", &E::rand_lambda_max));
    m.push_back(esd_value("rand_num_spikes", &E::rand_num_spikes));
  }
  return m;
}

/// <metric> and <metric>_std columns of a group table, read from GroupRecord::stats.
void add_group_stat(ColumnTable<GroupRecord>& c, const std::string& name) {
  using G = GroupRecord;
  c.push_back(number<G>(name, [name](const G& g) {
    const auto it = g.stats.find(name);
    return it == g.stats.end() ? NAN : it->second.first;
  }));
  c.push_back(number<G>(name + "_std", [name](const G& g) {
    const auto it = g.stats.find(name);
    return it == g.stats.end() ? NAN : it->second.second;
  }));
}

std::vector<RecordMetric> make_series_metrics(bool diff) {
  std::vector<RecordMetric> m;
  for (const RecordMetric& x : matrix_metrics()) {
    if (x.name != "rank_tol") m.push_back(x);  // a tolerance, not a property of the weights
  }
  if (diff) {
    m.push_back(distance("l2_distance", &DiffMetrics::l2_distance));
    m.push_back(distance("relative_distance", &DiffMetrics::relative_distance));
    m.push_back(distance("cosine_distance", &DiffMetrics::cosine_distance));
  }
  return m;
}

ColumnTable<Record> build_record_table(TableKind kind, const RecordColumns& groups) {
  using R = Record;
  ColumnTable<R> c;
  if (kind == TableKind::Series) {
    c.push_back(text<R>("run", [](const R& r) { return r.run; }));
    c.push_back(number<R>("step", [](const R& r) { return r.step; }));
  }
  c.push_back(text<R>("file", [](const R& r) { return r.file; }));
  c.push_back(text<R>("format", [](const R& r) { return r.format; }));
  c.push_back(text<R>("tensor", [](const R& r) { return r.tensor; }));
  c.push_back(text<R>("kind", [](const R& r) { return std::string(kind_name(r.kind)); }));
  c.push_back(text<R>("group", [](const R& r) { return r.group; }));
  c.push_back(text<R>("dtype", [](const R& r) { return r.dtype; }));
  c.push_back(number<R>("rows", [](const R& r) { return static_cast<double>(r.metrics.rows); }));
  c.push_back(number<R>("cols", [](const R& r) { return static_cast<double>(r.metrics.cols); }));
  if (kind == TableKind::Diff) {
    c.push_back(text<R>("base_file", [](const R& r) { return r.base_file; }));
    c.push_back(text<R>("base_tensor", [](const R& r) { return r.base_tensor; }));
    c.push_back(number<R>("l2_distance", [](const R& r) { return r.diff.l2_distance; }));
    c.push_back(
        number<R>("relative_distance", [](const R& r) { return r.diff.relative_distance; }));
    c.push_back(number<R>("cosine_distance", [](const R& r) { return r.diff.cosine_distance; }));
    c.push_back(number<R>("weight_norm", [](const R& r) { return r.diff.norm; }));
    c.push_back(number<R>("base_norm", [](const R& r) { return r.diff.base_norm; }));
    c.push_back(number<R>("l2_ratio", [](const R& r) { return r.l2_ratio; }));
    c.push_back(number<R>("relative_ratio", [](const R& r) { return r.relative_ratio; }));
    c.push_back(number<R>("cosine_ratio", [](const R& r) { return r.cosine_ratio; }));
    c.push_back(number<R>("intruders", [](const R& r) { return r.intruders; }));
  }
  for (const RecordMetric& m : matrix_metrics()) c.push_back(number<R>(m.name, m.get));
  if (groups.esd) {
    for (const RecordMetric& m : esd_metrics(groups.randomize)) {
      c.push_back(number<R>(m.name, m.get));
    }
  }
  c.push_back(
      text<R>("status", [](const R& r) { return std::string(status_name(r.metrics.status)); }));
  c.push_back(text<R>("reason", [](const R& r) { return r.metrics.reason; }));
  if (groups.spectrum) {
    c.push_back({{"singular_values", T::Vector}, [](const R& r) {
                   return Cell(std::in_place_type<std::vector<double>>, r.metrics.singular_values);
                 }});
  }
  return c;
}

ColumnTable<GroupRecord> build_group_table(bool diff, bool esd, bool randomize) {
  using G = GroupRecord;
  ColumnTable<G> c;
  c.push_back(text<G>("run", [](const G& g) { return g.run; }));
  c.push_back(text<G>("file", [](const G& g) { return g.file; }));
  c.push_back(number<G>("step", [](const G& g) { return g.step; }));
  c.push_back(text<G>("group", [](const G& g) { return g.group; }));
  c.push_back(number<G>("n_tensors", [](const G& g) { return static_cast<double>(g.tensors); }));
  c.push_back(number<G>("n_failed", [](const G& g) { return static_cast<double>(g.failed); }));
  for (const RecordMetric& m : series_metrics(diff)) add_group_stat(c, m.name);
  if (esd) {
    for (const RecordMetric& m : esd_metrics(randomize)) add_group_stat(c, m.name);
  }
  return c;
}

}  // namespace

const char* kind_name(RecordKind k) {
  switch (k) {
    case RecordKind::Matrix:
      return "matrix";
    case RecordKind::LoraA:
      return "lora_A";
    case RecordKind::LoraB:
      return "lora_B";
    case RecordKind::LoraDelta:
      return "lora_delta";
    case RecordKind::Total:
      return "total";
    case RecordKind::File:
      return "file";
  }
  return "?";
}

const std::vector<RecordMetric>& matrix_metrics() {
  static const std::vector<RecordMetric> m = make_matrix_metrics();
  return m;
}

const std::vector<RecordMetric>& series_metrics(bool diff) {
  static const std::vector<RecordMetric> plain = make_series_metrics(false);
  static const std::vector<RecordMetric> with_diff = make_series_metrics(true);
  return diff ? with_diff : plain;
}

const std::vector<RecordMetric>& esd_metrics(bool randomize) {
  static const std::vector<RecordMetric> plain = make_esd_metrics(false);
  static const std::vector<RecordMetric> with_rand = make_esd_metrics(true);
  return randomize ? with_rand : plain;
}

ColumnTable<Record> make_record_table(TableKind kind, const RecordColumns& groups) {
  return build_record_table(kind, groups);
}

const ColumnTable<Record>& record_table(TableKind kind, bool spectrum) {
  auto plain = [](TableKind k, bool s) {
    RecordColumns g;
    g.spectrum = s;
    return build_record_table(k, g);
  };
  static const std::array<ColumnTable<Record>, 6> tables = {
      plain(TableKind::Spectra, false), plain(TableKind::Spectra, true),
      plain(TableKind::Diff, false),    plain(TableKind::Diff, true),
      plain(TableKind::Series, false),  plain(TableKind::Series, true)};
  return tables[static_cast<std::size_t>(kind) * 2 + (spectrum ? 1 : 0)];
}

std::vector<Column> record_columns(TableKind kind, bool spectrum) {
  return columns_of(record_table(kind, spectrum));
}

std::vector<Cell> record_cells(const Record& r, TableKind kind, bool spectrum) {
  return cells_of(record_table(kind, spectrum), r);
}

std::vector<std::string> series_metric_names(bool diff) {
  std::vector<std::string> n;
  for (const RecordMetric& m : series_metrics(diff)) n.push_back(m.name);
  return n;
}

const ColumnTable<GroupRecord>& group_table(bool diff) {
  static const ColumnTable<GroupRecord> plain = build_group_table(false, false, false);
  static const ColumnTable<GroupRecord> with_diff = build_group_table(true, false, false);
  return diff ? with_diff : plain;
}

ColumnTable<GroupRecord> make_group_table(bool diff, bool esd, bool randomize) {
  return build_group_table(diff, esd, randomize);
}

std::vector<Column> group_columns(bool diff) {
  return columns_of(group_table(diff));
}

std::vector<Cell> group_cells(const GroupRecord& g, bool diff) {
  return cells_of(group_table(diff), g);
}

}  // namespace muft::analysis
