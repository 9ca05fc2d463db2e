/// \file table.cpp
/// CSV, JSON-lines and HDF5 table writers; every row is flushed to disk when written.

#include "muft/analysis/table.h"

#include <cmath>
#include <cstdio>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "muft/checkpoint/hdf5.h"

namespace muft::analysis {
namespace {

namespace h5 = muft::checkpoint::h5;

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
      : path_(path), cols_(std::move(cols)) {
    h5::Lock hl;
    file_ = h5::File::create(path);
    std::string order;
    for (const Column& c : cols_) {
      datasets_.push_back(file_.create_appendable(c.name, type_of(c.type), 64));
      order += (order.empty() ? "" : ",") + c.name;
    }
    file_.set_string_attribute("columns", order);
    for (const auto& [k, v] : attrs) file_.set_string_attribute(k, v);
    file_.flush();
  }
  ~Hdf5Writer() override {
    try {
      close();
    } catch (const std::exception&) {
      // close() is where failures are reported; a destructor only cleans up.
    }
  }
  void write_row(const std::vector<Cell>& cells) override {
    check_cells(cols_, cells);
    std::lock_guard<std::mutex> lock(mu_);
    h5::Lock hl;  // the whole row at once
    if (!file_.valid()) throw std::runtime_error("table already closed");
    try {
      for (std::size_t i = 0; i < cols_.size(); ++i) {
        if (const auto* s = std::get_if<std::string>(&cells[i])) {
          datasets_[i].append(*s);
        } else if (const auto* d = std::get_if<double>(&cells[i])) {
          datasets_[i].append(*d);
        } else {
          datasets_[i].append(std::get<std::vector<double>>(cells[i]));
        }
      }
      file_.flush();
    } catch (const std::runtime_error&) {
      failed_ = true;
      throw;
    }
    ++rows_;
  }
  /// Closes the file; after a failed write it removes the file (HDF5 cannot keep a consistent
  /// file on a full disk) and says so.
  void close() override {
    std::lock_guard<std::mutex> lock(mu_);
    h5::Lock hl;
    if (!file_.valid()) return;
    datasets_.clear();
    try {
      file_.close();
    } catch (const std::runtime_error& e) {
      failed_ = true;
      std::remove(path_.c_str());
      throw std::runtime_error(std::string(e.what()) + " (incomplete file removed)");
    }
    if (failed_) {
      std::remove(path_.c_str());
      throw std::runtime_error(path_ + ": an earlier write failed (incomplete file removed)");
    }
  }
  std::size_t rows() const override { return rows_; }

 private:
  static h5::Type type_of(ColumnType t) {
    switch (t) {
      case ColumnType::String:
        return h5::Type::String;
      case ColumnType::Number:
        return h5::Type::F64;
      case ColumnType::Vector:
        return h5::Type::F64List;
    }
    return h5::Type::F64;
  }
  std::string path_;
  std::vector<Column> cols_;
  h5::File file_;
  std::vector<h5::Dataset> datasets_;
  std::mutex mu_;
  std::size_t rows_ = 0;
  bool failed_ = false;
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
