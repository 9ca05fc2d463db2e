/// \file metrics_test.cpp
/// Metrics against constructed spectra (U diag(s) Vᵀ), hand-computed cases and degenerate input.

#include "muft/analysis/metrics.h"

#include <cmath>
#include <limits>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace muft::analysis {
namespace {

using testing::row_major;
using testing::with_spectrum;

constexpr double kTol = 1e-10;  // double, condition number <= 100, sizes <= 120

/// Metrics evaluated directly from the definitions on a known spectrum.
MatrixMetrics expected_from_spectrum(const Eigen::VectorXd& s, int64_t rows, int64_t cols) {
  MatrixMetrics m;
  m.rows = rows;
  m.cols = cols;
  const double s1 = s.maxCoeff();
  const double f2 = s.squaredNorm();
  m.frobenius_norm = std::sqrt(f2);
  m.spectral_norm = s1;
  m.nuclear_norm = s.sum();
  m.stable_rank = f2 / (s1 * s1);
  double h = 0, e = 0;
  for (Eigen::Index i = 0; i < s.size(); ++i) {
    const double p = s[i] * s[i] / f2, q = s[i] / s.sum();
    if (p > 0) h -= p * std::log(p);
    if (q > 0) e -= q * std::log(q);
  }
  m.svd_entropy = h / std::log(static_cast<double>(std::min(rows, cols)));
  m.effective_rank = std::exp(e);
  return m;
}

void expect_rel(double got, double want, double tol, const char* what) {
  const double err = std::fabs(got - want) / std::max(std::fabs(want), 1e-300);
  EXPECT_LE(err, tol) << what << ": got " << got << " want " << want;
}

void expect_metrics(const MatrixMetrics& got, const MatrixMetrics& want, double tol,
                    bool spectrum_metrics = true) {
  EXPECT_EQ(got.status, MetricStatus::Ok) << got.reason;
  EXPECT_EQ(got.rows, want.rows);
  EXPECT_EQ(got.cols, want.cols);
  expect_rel(got.frobenius_norm, want.frobenius_norm, tol, "frobenius_norm");
  expect_rel(got.spectral_norm, want.spectral_norm, tol, "spectral_norm");
  expect_rel(got.stable_rank, want.stable_rank, tol, "stable_rank");
  if (!spectrum_metrics) return;
  expect_rel(got.nuclear_norm, want.nuclear_norm, tol, "nuclear_norm");
  expect_rel(got.svd_entropy, want.svd_entropy, tol, "svd_entropy");
  expect_rel(got.effective_rank, want.effective_rank, tol, "effective_rank");
}

class ConstructedSpectrumTest : public ::testing::TestWithParam<std::tuple<SvdMethod, int, int>> {};

TEST_P(ConstructedSpectrumTest, EveryMetricMatchesDefinition) {
  const auto [method, rows, cols] = GetParam();
  const int r = std::min(rows, cols);
  Eigen::VectorXd s(r);
  for (int i = 0; i < r; ++i) s[i] = 10.0 * std::pow(0.01, double(i) / (r - 1));  // cond 100
  const Eigen::MatrixXd W = with_spectrum(rows, cols, s, 42 + rows);
  MetricOptions opts;
  opts.method = method;
  opts.keep_spectrum = true;
  const MatrixMetrics got = compute_metrics(W, opts);
  const bool full = method != SvdMethod::Fast;
  expect_metrics(got, expected_from_spectrum(s, rows, cols), kTol, full);
  if (full) {
    EXPECT_EQ(got.numerical_rank, r);
    ASSERT_EQ(got.singular_values.size(), static_cast<std::size_t>(r));
    for (int i = 0; i < r; ++i) expect_rel(got.singular_values[i], s[i], kTol, "sigma_i");
  } else {
    EXPECT_TRUE(std::isnan(got.svd_entropy));
  }
  expect_rel(got.max_abs, W.cwiseAbs().maxCoeff(), 0, "max_abs");
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ConstructedSpectrumTest,
    ::testing::Combine(::testing::Values(SvdMethod::Gram, SvdMethod::Exact, SvdMethod::Fast),
                       ::testing::Values(40, 120), ::testing::Values(70, 100)));

TEST(MetricsTest, HandComputedDiagonal2x2) {
  Eigen::MatrixXd W(2, 2);
  W << 3, 0, 0, -4;
  for (SvdMethod method : {SvdMethod::Gram, SvdMethod::Exact}) {
    MetricOptions opts;
    opts.method = method;
    const MatrixMetrics m = compute_metrics(W, opts);
    EXPECT_NEAR(m.frobenius_norm, 5.0, 1e-15);
    EXPECT_NEAR(m.spectral_norm, 4.0, 1e-14);
    EXPECT_NEAR(m.nuclear_norm, 7.0, 1e-14);
    EXPECT_NEAR(m.max_abs, 4.0, 0);
    EXPECT_NEAR(m.stable_rank, 25.0 / 16.0, 1e-14);
    const double h = -(0.64 * std::log(0.64) + 0.36 * std::log(0.36)) / std::log(2.0);
    EXPECT_NEAR(m.svd_entropy, h, 1e-14);
    const double e = std::exp(-(4.0 / 7 * std::log(4.0 / 7) + 3.0 / 7 * std::log(3.0 / 7)));
    EXPECT_NEAR(m.effective_rank, e, 1e-14);
    EXPECT_EQ(m.numerical_rank, 2);
  }
}

TEST(MetricsTest, RankOneOnesMatrix) {
  const Eigen::MatrixXd W = Eigen::MatrixXd::Ones(3, 4);
  for (SvdMethod method : {SvdMethod::Gram, SvdMethod::Exact}) {
    MetricOptions opts;
    opts.method = method;
    const MatrixMetrics m = compute_metrics(W, opts);
    EXPECT_NEAR(m.spectral_norm, std::sqrt(12.0), 1e-14);
    EXPECT_NEAR(m.stable_rank, 1.0, 1e-14);
    EXPECT_NEAR(m.svd_entropy, 0.0, 1e-12);
    EXPECT_NEAR(m.effective_rank, 1.0, 1e-7);  // sqrt of Gram noise ~1e-8 enters q log q
    EXPECT_EQ(m.numerical_rank, 1) << svd_method_name(method);
  }
}

TEST(MetricsTest, IdentityHasFullEntropy) {
  const Eigen::MatrixXd W = Eigen::MatrixXd::Identity(16, 16);
  const MatrixMetrics m = compute_metrics(W, MetricOptions{});
  EXPECT_NEAR(m.svd_entropy, 1.0, 1e-14);
  EXPECT_NEAR(m.stable_rank, 16.0, 1e-13);
  EXPECT_NEAR(m.effective_rank, 16.0, 1e-12);
  EXPECT_EQ(m.numerical_rank, 16);
}

TEST(MetricsTest, NumericalRankOfLowRankConstruction20x30) {
  Eigen::VectorXd s(3);
  s << 5, 2, 1;
  const Eigen::MatrixXd W = with_spectrum(20, 30, s, 7);
  for (SvdMethod method : {SvdMethod::Gram, SvdMethod::Exact}) {
    MetricOptions opts;
    opts.method = method;
    const MatrixMetrics m = compute_metrics(W, opts);
    EXPECT_EQ(m.numerical_rank, 3) << svd_method_name(method);
    EXPECT_GT(m.rank_tol, 0);
    // Entropy is normalized by log min(m, n) = log 20, not log 3.
    expect_rel(m.svd_entropy, expected_from_spectrum(s, 20, 30).svd_entropy, kTol, "entropy");
  }
  MetricOptions strict;
  strict.rank_tol = 0.3;  // 1/5 < 0.3 < 2/5: only two values above
  EXPECT_EQ(compute_metrics(W, strict).numerical_rank, 2);
}

TEST(MetricsTest, ZeroMatrixGivesNaNWithReason) {
  const Eigen::MatrixXd W = Eigen::MatrixXd::Zero(5, 7);
  for (SvdMethod method : {SvdMethod::Gram, SvdMethod::Exact, SvdMethod::Fast}) {
    MetricOptions opts;
    opts.method = method;
    const MatrixMetrics m = compute_metrics(W, opts);
    EXPECT_EQ(m.status, MetricStatus::Zero);
    EXPECT_FALSE(m.reason.empty());
    EXPECT_EQ(m.frobenius_norm, 0);
    EXPECT_EQ(m.spectral_norm, 0);
    EXPECT_TRUE(std::isnan(m.stable_rank));
    EXPECT_TRUE(std::isnan(m.svd_entropy));
    EXPECT_TRUE(std::isnan(m.effective_rank));
  }
}

TEST(MetricsTest, NonFiniteEntriesGiveNaNWithReason) {
  Eigen::MatrixXd W = Eigen::MatrixXd::Ones(4, 4);
  W(1, 2) = std::numeric_limits<double>::quiet_NaN();
  W(3, 0) = std::numeric_limits<double>::infinity();
  const MatrixMetrics m = compute_metrics(W, MetricOptions{});
  EXPECT_EQ(m.status, MetricStatus::NonFinite);
  EXPECT_NE(m.reason.find("2 non-finite"), std::string::npos) << m.reason;
  EXPECT_TRUE(std::isnan(m.frobenius_norm));
  EXPECT_TRUE(std::isnan(m.spectral_norm));
}

TEST(MetricsTest, EmptyMatrix) {
  const MatrixMetrics m = compute_metrics(static_cast<const double*>(nullptr), 0, 5, {});
  EXPECT_EQ(m.status, MetricStatus::Empty);
}

TEST(MetricsTest, FloatInputMatchesDoubleOfSameValues) {
  Eigen::VectorXd s = Eigen::VectorXd::LinSpaced(30, 3.0, 0.5);
  for (auto [rows, cols] : {std::pair{30, 80}, std::pair{80, 30}}) {
    const Eigen::MatrixXd W = with_spectrum(rows, cols, s, 11);
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> Wf = W.cast<float>();
    const auto Wd = row_major(Wf.cast<double>());
    for (SvdMethod method : {SvdMethod::Gram, SvdMethod::Exact, SvdMethod::Fast}) {
      MetricOptions opts;
      opts.method = method;
      const MatrixMetrics a = compute_metrics(Wf.data(), rows, cols, opts);
      const MatrixMetrics b = compute_metrics(Wd.data(), rows, cols, opts);
      expect_metrics(a, b, kTol, method != SvdMethod::Fast);
    }
  }
}

TEST(MetricsTest, InvalidOptionsThrow) {
  MetricOptions opts;
  opts.rank_tol = 2;
  std::string why;
  EXPECT_FALSE(opts.IsValid(&why));
  EXPECT_FALSE(why.empty());
  const Eigen::MatrixXd W = Eigen::MatrixXd::Ones(2, 2);
  EXPECT_THROW(compute_metrics(W, opts), std::invalid_argument);
  EXPECT_THROW(parse_svd_method("lanczos"), std::invalid_argument);
  EXPECT_EQ(parse_svd_method("exact"), SvdMethod::Exact);
}

TEST(MetricsTest, WrongSpectrumIsDetected) {
  // The comparison above can fail: a 1% change in one singular value moves the entropy by far
  // more than kTol.
  Eigen::VectorXd s = Eigen::VectorXd::LinSpaced(10, 2.0, 1.0);
  const Eigen::MatrixXd W = with_spectrum(10, 12, s, 3);
  s[4] *= 1.01;
  const MatrixMetrics m = compute_metrics(W, MetricOptions{});
  EXPECT_GT(std::fabs(m.svd_entropy - expected_from_spectrum(s, 10, 12).svd_entropy), 1e3 * kTol);
}

}  // namespace
}  // namespace muft::analysis
