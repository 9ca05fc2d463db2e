#include "muft/stats/csv.h"

#include <cmath>
#include <limits>

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

TEST(CsvTest, WholeNumbersAreRangeCheckedBeforeConversion) {
  EXPECT_EQ(parse_integer("3", "n", 1, 10), 3);
  EXPECT_EQ(parse_integer(" 3.0 ", "n", 1, 10), 3);
  EXPECT_EQ(parse_integer("1e1", "n", 1, 10), 10);
  // 1e30 does not fit in a long: converting it first would be undefined behaviour (it gave
  // -9223372036854775808 on x86-64), so the range has to be checked on the double.
  for (const char* bad : {"1e30", "-1e30", "inf", "-inf", "nan", "0", "11", "2.5", "x"}) {
    try {
      parse_integer(bad, "n", 1, 10);
      ADD_FAILURE() << bad << " accepted";
    } catch (const std::invalid_argument& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(std::string("'") + bad + "'"), std::string::npos) << m;
      EXPECT_EQ(m.find("9223372036854775808"), std::string::npos) << m;
    }
  }
  EXPECT_THROW(parse_integer("1", "n", 0, std::numeric_limits<long>::max()), std::logic_error);
}

}  // namespace
}  // namespace muft::stats
