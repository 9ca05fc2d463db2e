/// \file table_test.cpp
/// CSV / JSON-lines / HDF5 writers: read back what was written.

#include "muft/analysis/table.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <hdf5.h>
#include <nlohmann/json.hpp>

namespace muft::analysis {
namespace {

const std::vector<Column> kCols = {
    {"tensor", ColumnType::String}, {"value", ColumnType::Number}, {"sv", ColumnType::Vector}};

std::vector<Cell> row(const std::string& s, double v, std::vector<double> sv) {
  std::vector<Cell> c;
  c.emplace_back(std::in_place_type<std::string>, s);
  c.emplace_back(std::in_place_type<double>, v);
  c.emplace_back(std::in_place_type<std::vector<double>>, std::move(sv));
  return c;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(TableTest, FormatByExtension) {
  EXPECT_EQ(table_format_for("a.csv"), "csv");
  EXPECT_EQ(table_format_for("a.jsonl"), "jsonl");
  EXPECT_EQ(table_format_for("a.json"), "jsonl");
  EXPECT_EQ(table_format_for("x/a.h5"), "hdf5");
  EXPECT_EQ(table_format_for("a.hdf5"), "hdf5");
  EXPECT_THROW(table_format_for("a.txt"), std::invalid_argument);
}

TEST(TableTest, CsvRowsAreOnDiskBeforeClose) {
  const std::string path = ::testing::TempDir() + "/table_test.csv";
  auto w = open_table_writer(path, kCols);
  w->write_row(row("a,\"b\"", 0.1, {3, 2}));
  // Flushed per row: readable while the writer is still open.
  EXPECT_EQ(slurp(path), "tensor,value,sv\n\"a,\"\"b\"\"\",0.1,3;2\n");
  w->write_row(row("nan", NAN, {}));
  w->close();
  EXPECT_EQ(slurp(path), "tensor,value,sv\n\"a,\"\"b\"\"\",0.1,3;2\nnan,,\n");
  EXPECT_EQ(w->rows(), 2u);
  std::remove(path.c_str());
}

TEST(TableTest, CsvRoundTripsDoublesExactly) {
  const std::string path = ::testing::TempDir() + "/table_test_exact.csv";
  const double v = 0.1 + 0.2;
  {
    auto w = open_table_writer(path, kCols);
    w->write_row(row("x", v, {}));
  }
  const std::string text = slurp(path);
  const std::string field = text.substr(text.find("x,") + 2);
  EXPECT_EQ(std::stod(field), v);
  std::remove(path.c_str());
}

TEST(TableTest, SchemaMismatchThrows) {
  const std::string path = ::testing::TempDir() + "/table_test_bad.csv";
  auto w = open_table_writer(path, kCols);
  std::vector<Cell> wrong = row("x", 1, {});
  wrong[1] = std::string("not a number");
  EXPECT_THROW(w->write_row(wrong), std::invalid_argument);
  wrong.pop_back();
  EXPECT_THROW(w->write_row(wrong), std::invalid_argument);
  std::remove(path.c_str());
}

TEST(TableTest, JsonLines) {
  const std::string path = ::testing::TempDir() + "/table_test.jsonl";
  {
    auto w = open_table_writer(path, kCols);
    w->write_row(row("q", 2.5, {1, 0.5}));
    w->write_row(row("k", NAN, {}));
    w->write_row(row("n", 1024, {}));
  }
  std::ifstream f(path);
  std::string line;
  std::vector<nlohmann::json> rows;
  while (std::getline(f, line)) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["tensor"], "q");
  EXPECT_EQ(rows[0]["value"], 2.5);
  EXPECT_EQ(rows[0]["sv"][1], 0.5);
  EXPECT_TRUE(rows[1]["value"].is_null());
  EXPECT_TRUE(rows[2]["value"].is_number_integer());
  std::remove(path.c_str());
}

TEST(TableTest, Hdf5ColumnsReadBack) {
  const std::string path = ::testing::TempDir() + "/table_test.h5";
  {
    auto w = open_table_writer(path, kCols, {{"command", "test"}});
    w->write_row(row("q", 2.5, {1, 0.5, 0.25}));
    w->write_row(row("k", -1, {}));
  }
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t ds = H5Dopen2(f, "value", H5P_DEFAULT);
  double v[2] = {0, 0};
  ASSERT_GE(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), 0);
  EXPECT_EQ(v[0], 2.5);
  EXPECT_EQ(v[1], -1);
  H5Dclose(ds);
  ds = H5Dopen2(f, "tensor", H5P_DEFAULT);
  hid_t st = H5Tcopy(H5T_C_S1);
  H5Tset_size(st, H5T_VARIABLE);
  H5Tset_cset(st, H5T_CSET_UTF8);
  char* names[2] = {nullptr, nullptr};
  ASSERT_GE(H5Dread(ds, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, names), 0);
  EXPECT_STREQ(names[0], "q");
  EXPECT_STREQ(names[1], "k");
  hid_t space = H5Dget_space(ds);
  H5Dvlen_reclaim(st, space, H5P_DEFAULT, names);
  H5Sclose(space);
  H5Tclose(st);
  H5Dclose(ds);
  ds = H5Dopen2(f, "sv", H5P_DEFAULT);
  hid_t vt = H5Tvlen_create(H5T_NATIVE_DOUBLE);
  hvl_t sv[2];
  ASSERT_GE(H5Dread(ds, vt, H5S_ALL, H5S_ALL, H5P_DEFAULT, sv), 0);
  ASSERT_EQ(sv[0].len, 3u);
  EXPECT_EQ(static_cast<double*>(sv[0].p)[2], 0.25);
  EXPECT_EQ(sv[1].len, 0u);
  space = H5Dget_space(ds);
  H5Dvlen_reclaim(vt, space, H5P_DEFAULT, sv);
  H5Sclose(space);
  H5Tclose(vt);
  H5Dclose(ds);
  EXPECT_GT(H5Aexists(f, "command"), 0);
  H5Fclose(f);
  std::remove(path.c_str());
}

TEST(TableTest, UncreatableFileThrows) {
  EXPECT_THROW(open_table_writer("/nonexistent-dir/x.csv", kCols), std::runtime_error);
}

}  // namespace
}  // namespace muft::analysis
