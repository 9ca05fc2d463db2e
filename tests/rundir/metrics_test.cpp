#include "muft/rundir/metrics.h"

#include <cmath>

#include <gtest/gtest.h>

namespace muft::rundir {
namespace {

constexpr const char* kHeader =
    "step,tokens,lr,train_loss,val_loss,val_ppl,old_val_loss,old_val_ppl,seconds";

TEST(MetricsCsvTest, RoundTripIncludingNaNAndExtraColumns) {
  Metrics m;
  m.extra_columns = {"val_acc", "old_val_acc"};
  MetricsRow a{0, 0, 0.02, std::nan(""), 5.5, std::exp(5.5), 5.5, std::exp(5.5), 0.25, {0.1, 0.9}};
  MetricsRow b{100,          409600,
               0.0123456789, 2.5,
               2.25,         std::exp(2.25),
               2.75,         std::exp(2.75),
               61.5,         {0.5, std::nan("")}};
  m.rows = {a, b};
  const std::string csv = format_metrics_csv(m);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), std::string(kHeader) + ",val_acc,old_val_acc");
  const Metrics r = parse_metrics_csv(csv, "m.csv");
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.extra_columns, m.extra_columns);
  EXPECT_TRUE(std::isnan(r.rows[0].train_loss));
  EXPECT_EQ(r.rows[1].step, 100);
  EXPECT_EQ(r.rows[1].tokens, 409600);
  EXPECT_NEAR(r.rows[1].lr, 0.0123456789, 1e-17);  // %.9g keeps 9 significant digits
  EXPECT_DOUBLE_EQ(r.rows[1].old_val_loss, 2.75);
  EXPECT_DOUBLE_EQ(r.rows[1].seconds, 61.5);
  EXPECT_DOUBLE_EQ(r.rows[1].extra[0], 0.5);
  EXPECT_TRUE(std::isnan(r.rows[1].extra[1]));
  EXPECT_EQ(r.incomplete_rows, 0u);
  std::vector<double> col;
  ASSERT_TRUE(r.column("val_acc", &col));
  EXPECT_EQ(col, (std::vector<double>{0.1, 0.5}));
  ASSERT_TRUE(r.column("val_loss", &col));
  EXPECT_EQ(col, (std::vector<double>{5.5, 2.25}));
  EXPECT_FALSE(r.column("nope", &col));
  EXPECT_DOUBLE_EQ(r.value(1, "step"), 100.0);
  EXPECT_TRUE(std::isnan(r.value(1, "nope")));
  EXPECT_TRUE(std::isnan(r.value(7, "step")));
}

TEST(MetricsCsvTest, HeaderComesFromTheColumnTable) {
  std::string h;
  for (const auto& c : kCoreColumns) h += (h.empty() ? "" : ",") + std::string(c.name);
  EXPECT_EQ(h, kHeader);
  EXPECT_EQ(format_metrics_csv(Metrics{}), std::string(kHeader) + "\n");
}

TEST(MetricsCsvTest, RowCutInsideItsLastFieldIsIgnoredAndCounted) {
  const std::string full = std::string(kHeader) +
                           "\n0,0,0.1,nan,5,148,5,148,0.5\n"
                           "10,80,0.1,3,2.5,12.18,4,54.6,1.25\n";
  // A writer killed inside the last value: "1.25" became "1.2" and the newline is missing.
  const std::string cut = full.substr(0, full.size() - 2);
  const Metrics m = parse_metrics_csv(cut, "cut.csv");
  EXPECT_EQ(m.rows.size(), 1u);
  EXPECT_EQ(m.incomplete_rows, 1u);
  EXPECT_EQ(parse_metrics_csv(full, "full.csv").rows.size(), 2u);
  EXPECT_EQ(parse_metrics_csv(full, "full.csv").incomplete_rows, 0u);
}

TEST(MetricsCsvTest, MalformedInputIsAnErrorNamingTheLine) {
  EXPECT_THROW(parse_metrics_csv("step,tokens\n1,2\n", "a.csv"), std::runtime_error);
  EXPECT_THROW(parse_metrics_csv("", "a.csv"), std::runtime_error);
  const std::string h = std::string(kHeader) + "\n";
  try {
    parse_metrics_csv(h + "0,0,0.1,nan,5,148,5,148\n", "b.csv");
    FAIL() << "a short row was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("b.csv:2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_metrics_csv(h + "0,0,0.1,nan,5,x148,5,148,1\n", "c.csv"), std::runtime_error);
  EXPECT_THROW(parse_metrics_csv(h + "nan,0,0.1,nan,5,148,5,148,1\n", "d.csv"),
               std::runtime_error);  // an integer column cannot be NaN
  EXPECT_THROW(parse_metrics_csv(h + "1.5,0,0.1,nan,5,148,5,148,1\n", "e.csv"), std::runtime_error);
  EXPECT_THROW(parse_metrics_csv(h + "1e300,0,0.1,nan,5,148,5,148,1\n", "f.csv"),
               std::runtime_error);  // no overflowing cast
  Metrics bad;
  bad.extra_columns = {"x"};
  bad.rows.push_back(MetricsRow{});
  EXPECT_THROW(format_metrics_csv(bad), std::invalid_argument);
}

}  // namespace
}  // namespace muft::rundir
