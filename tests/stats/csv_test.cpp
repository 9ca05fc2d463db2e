#include "muft/stats/csv.h"

#include <cmath>

#include <gtest/gtest.h>

namespace muft::stats {
namespace {

TEST(CsvTest, QuotedFieldsAndColumns) {
  const CsvTable t = parse_csv("a, b ,c\n1,\"x,\"\"y\"\"\",3\n\n4,5,6\n", "mem");
  ASSERT_EQ(t.header, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0][1], "x,\"y\"");
  EXPECT_EQ(t.column("c"), 2u);
  EXPECT_EQ(t.find_column("zz"), -1);
  EXPECT_THROW(t.column("zz"), std::invalid_argument);
  EXPECT_EQ(split_csv_line(csv_escape("x,\"y\"")), std::vector<std::string>{"x,\"y\""});
}

TEST(CsvTest, RaggedRowNamesLine) {
  try {
    parse_csv("a,b\n1,2\n3\n", "f.csv");
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("f.csv:3"), std::string::npos) << e.what();
  }
}

TEST(CsvTest, Numbers) {
  EXPECT_EQ(parse_double(" 2.5 ", "x"), 2.5);
  EXPECT_TRUE(std::isnan(parse_double("nan", "x")));
  EXPECT_TRUE(std::isinf(parse_double("inf", "x")));
  EXPECT_THROW(parse_double("2.5x", "x"), std::invalid_argument);
  EXPECT_THROW(parse_double("", "x"), std::invalid_argument);
}

}  // namespace
}  // namespace muft::stats
