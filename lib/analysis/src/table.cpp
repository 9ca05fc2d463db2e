/// \file table.cpp
/// CSV, JSON-lines and HDF5 table writers; every row is flushed to disk when written.

#include "muft/analysis/table.h"

#include <cmath>
#include <cstdio>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>
#include <hdf5.h>
#include <nlohmann/json.hpp>

#include "muft/checkpoint/hdf5_lock.h"

namespace muft::analysis {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Shortest text that reads back as the same double.
std::string number_text(double v) {
  if (std::isnan(v)) return "";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{}", v);
}

void check_cells(const std::vector<Column>& cols, const std::vector<Cell>& cells) {
  if (cells.size() != cols.size()) {
    throw std::invalid_argument(
        fmt::format("row has {} cells, table has {} columns", cells.size(), cols.size()));
  }
  for (std::size_t i = 0; i < cols.size(); ++i) {
    const std::size_t want = cols[i].type == ColumnType::String   ? 0
                             : cols[i].type == ColumnType::Number ? 1
                                                                  : 2;
    if (cells[i].index() != want) {
      throw std::invalid_argument("cell type does not match column '" + cols[i].name + "'");
    }
  }
}

class CsvWriter : public TableWriter {
 public:
  CsvWriter(const std::string& path, std::vector<Column> cols) : cols_(std::move(cols)) {
    f_ = std::fopen(path.c_str(), "w");
    if (!f_) throw std::runtime_error("cannot create " + path);
    std::string line;
    for (std::size_t i = 0; i < cols_.size(); ++i)
      line += (i ? "," : "") + csv_escape(cols_[i].name);
    put(line);
  }
  ~CsvWriter() override { close(); }
  void write_row(const std::vector<Cell>& cells) override {
    check_cells(cols_, cells);
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i) line += ',';
      if (const auto* s = std::get_if<std::string>(&cells[i])) {
        line += csv_escape(*s);
      } else if (const auto* d = std::get_if<double>(&cells[i])) {
        line += number_text(*d);
      } else {
        const auto& v = std::get<std::vector<double>>(cells[i]);
        std::string joined;
        for (std::size_t k = 0; k < v.size(); ++k) joined += (k ? ";" : "") + number_text(v[k]);
        line += joined;
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    put(line);
    ++rows_;
  }
  void close() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (f_) std::fclose(f_);
    f_ = nullptr;
  }
  std::size_t rows() const override { return rows_; }

 private:
  void put(const std::string& line) {
    if (!f_) throw std::runtime_error("table already closed");
    if (std::fputs(line.c_str(), f_) < 0 || std::fputc('\n', f_) == EOF || std::fflush(f_) != 0) {
      throw std::runtime_error("write error on output table");
    }
  }
  std::vector<Column> cols_;
  std::FILE* f_ = nullptr;
  std::mutex mu_;
  std::size_t rows_ = 0;
};

class JsonlWriter : public TableWriter {
 public:
  JsonlWriter(const std::string& path, std::vector<Column> cols) : cols_(std::move(cols)) {
    f_ = std::fopen(path.c_str(), "w");
    if (!f_) throw std::runtime_error("cannot create " + path);
  }
  ~JsonlWriter() override { close(); }
  void write_row(const std::vector<Cell>& cells) override {
    check_cells(cols_, cells);
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    auto num = [](double v) -> nlohmann::ordered_json {
      if (!std::isfinite(v)) return nullptr;
      // Counts (rows, cols, step, ranks) read back as integers.
      if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) return static_cast<int64_t>(v);
      return v;
    };
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (const auto* s = std::get_if<std::string>(&cells[i])) {
        j[cols_[i].name] = *s;
      } else if (const auto* d = std::get_if<double>(&cells[i])) {
        j[cols_[i].name] = num(*d);
      } else {
        auto arr = nlohmann::ordered_json::array();
        for (double v : std::get<std::vector<double>>(cells[i])) arr.push_back(num(v));
        j[cols_[i].name] = std::move(arr);
      }
    }
    const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::lock_guard<std::mutex> lock(mu_);
    if (!f_) throw std::runtime_error("table already closed");
    if (std::fputs(line.c_str(), f_) < 0 || std::fputc('\n', f_) == EOF || std::fflush(f_) != 0) {
      throw std::runtime_error("write error on output table");
    }
    ++rows_;
  }
  void close() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (f_) std::fclose(f_);
    f_ = nullptr;
  }
  std::size_t rows() const override { return rows_; }

 private:
  std::vector<Column> cols_;
  std::FILE* f_ = nullptr;
  std::mutex mu_;
  std::size_t rows_ = 0;
};

/// One extendible 1-D dataset per column at the file root, named after the column.
class Hdf5Writer : public TableWriter {
 public:
  Hdf5Writer(const std::string& path, std::vector<Column> cols,
             const std::vector<std::pair<std::string, std::string>>& attrs)
      : cols_(std::move(cols)) {
    std::lock_guard<std::recursive_mutex> h5(checkpoint::hdf5_mutex());
    file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file_ < 0) throw std::runtime_error("cannot create HDF5 file " + path);
    str_type_ = H5Tcopy(H5T_C_S1);
    H5Tset_size(str_type_, H5T_VARIABLE);
    H5Tset_cset(str_type_, H5T_CSET_UTF8);
    vlen_type_ = H5Tvlen_create(H5T_NATIVE_DOUBLE);
    std::string order;
    for (const Column& c : cols_) {
      const hsize_t dims[1] = {0}, maxdims[1] = {H5S_UNLIMITED}, chunk[1] = {64};
      hid_t space = H5Screate_simple(1, dims, maxdims);
      hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
      H5Pset_chunk(dcpl, 1, chunk);
      hid_t ds =
          H5Dcreate2(file_, c.name.c_str(), type_of(c.type), space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
      H5Pclose(dcpl);
      H5Sclose(space);
      if (ds < 0) {
        close();
        throw std::runtime_error("cannot create dataset '" + c.name + "' in " + path);
      }
      datasets_.push_back(ds);
      order += (order.empty() ? "" : ",") + c.name;
    }
    write_attr("columns", order);
    for (const auto& [k, v] : attrs) write_attr(k, v);
    H5Fflush(file_, H5F_SCOPE_LOCAL);
  }
  ~Hdf5Writer() override { close(); }
  void write_row(const std::vector<Cell>& cells) override {
    check_cells(cols_, cells);
    std::lock_guard<std::mutex> lock(mu_);
    std::lock_guard<std::recursive_mutex> h5(checkpoint::hdf5_mutex());
    if (file_ < 0) throw std::runtime_error("table already closed");
    const hsize_t n = rows_;
    const hsize_t new_size[1] = {n + 1}, start[1] = {n}, count[1] = {1};
    for (std::size_t i = 0; i < cols_.size(); ++i) {
      hid_t ds = datasets_[i];
      bool ok = H5Dset_extent(ds, new_size) >= 0;
      hid_t fspace = H5Dget_space(ds);
      ok = ok && H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, nullptr, count, nullptr) >= 0;
      hid_t mspace = H5Screate_simple(1, count, nullptr);
      if (const auto* s = std::get_if<std::string>(&cells[i])) {
        const char* p = s->c_str();
        ok = ok && H5Dwrite(ds, str_type_, mspace, fspace, H5P_DEFAULT, &p) >= 0;
      } else if (const auto* d = std::get_if<double>(&cells[i])) {
        ok = ok && H5Dwrite(ds, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT, d) >= 0;
      } else {
        const auto& v = std::get<std::vector<double>>(cells[i]);
        hvl_t h{v.size(), const_cast<double*>(v.data())};
        ok = ok && H5Dwrite(ds, vlen_type_, mspace, fspace, H5P_DEFAULT, &h) >= 0;
      }
      H5Sclose(mspace);
      H5Sclose(fspace);
      if (!ok) throw std::runtime_error("HDF5 write failed for column '" + cols_[i].name + "'");
    }
    H5Fflush(file_, H5F_SCOPE_LOCAL);
    ++rows_;
  }
  void close() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::lock_guard<std::recursive_mutex> h5(checkpoint::hdf5_mutex());
    for (hid_t ds : datasets_) H5Dclose(ds);
    datasets_.clear();
    if (str_type_ >= 0) H5Tclose(str_type_);
    if (vlen_type_ >= 0) H5Tclose(vlen_type_);
    str_type_ = vlen_type_ = -1;
    if (file_ >= 0) H5Fclose(file_);
    file_ = -1;
  }
  std::size_t rows() const override { return rows_; }

 private:
  hid_t type_of(ColumnType t) const {
    switch (t) {
      case ColumnType::String:
        return str_type_;
      case ColumnType::Number:
        return H5T_IEEE_F64LE;
      case ColumnType::Vector:
        return vlen_type_;
    }
    return -1;
  }
  void write_attr(const std::string& key, const std::string& value) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(file_, key.c_str(), str_type_, space, H5P_DEFAULT, H5P_DEFAULT);
    const char* p = value.c_str();
    if (a >= 0) {
      H5Awrite(a, str_type_, &p);
      H5Aclose(a);
    }
    H5Sclose(space);
  }
  std::vector<Column> cols_;
  hid_t file_ = -1, str_type_ = -1, vlen_type_ = -1;
  std::vector<hid_t> datasets_;
  std::mutex mu_;
  std::size_t rows_ = 0;
};

}  // namespace

std::string csv_escape(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string table_format_for(const std::string& path) {
  if (ends_with(path, ".csv")) return "csv";
  if (ends_with(path, ".jsonl") || ends_with(path, ".json") || ends_with(path, ".ndjson")) {
    return "jsonl";
  }
  if (ends_with(path, ".h5") || ends_with(path, ".hdf5")) return "hdf5";
  throw std::invalid_argument("cannot tell the output format of '" + path +
                              "': use a .csv, .jsonl (.json, .ndjson) or .h5 (.hdf5) file name");
}

std::unique_ptr<TableWriter> open_table_writer(
    const std::string& path, const std::vector<Column>& columns,
    const std::vector<std::pair<std::string, std::string>>& attributes) {
  const std::string fmt = table_format_for(path);
  if (fmt == "csv") return std::make_unique<CsvWriter>(path, columns);
  if (fmt == "jsonl") return std::make_unique<JsonlWriter>(path, columns);
  return std::make_unique<Hdf5Writer>(path, columns, attributes);
}

}  // namespace muft::analysis
