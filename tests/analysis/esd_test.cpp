/// \file esd_test.cpp
/// Heavy-tailed ESD metrics: the power-law fit on a hand-computed case, against a brute-force
/// implementation of the same definition, and on Pareto samples of known α; the
/// Marchenko–Pastur bulk on Gaussian matrices with and without planted spikes; the
/// Jensen–Shannon distance on a hand-computed case; the shuffle; the metrics through
/// compute_metrics. The numpy float64 reference on the CLI's eigenvalues is esd_numpy_test.py.

#include "muft/analysis/esd.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "muft/analysis/metrics.h"
#include "test_util.h"

namespace muft::analysis {
namespace {

constexpr double kExact = 1e-12;  // same formulas in double, sums of <= 20000 logs

/// Pareto(α, x_min = 1) samples: P(X > x) = x^(1−α), by inversion of a uniform.
std::vector<double> pareto(double alpha, int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> x(n);
  for (double& v : x) v = std::pow(1.0 - u(rng), -1.0 / (alpha - 1.0));
  return x;
}

/// The fit by the definition, every candidate to the end (no pruning), in long double sums.
PowerLawFit brute_force(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  const std::size_t n_all = x.size();
  PowerLawFit best;
  double best_d = 2;
  for (std::size_t i = 0; i + 1 < n_all; ++i) {
    const double n = static_cast<double>(n_all - i);
    long double s = 0;
    for (std::size_t j = i; j < n_all; ++j) s += std::log(static_cast<long double>(x[j] / x[i]));
    const double alpha = 1.0 + n / static_cast<double>(s);
    if (!(alpha > 1) || !std::isfinite(alpha)) continue;
    double d = 0;
    for (std::size_t j = 0; i + j < n_all; ++j) {
      d = std::max(d, std::fabs(1.0 - std::pow(x[i + j] / x[i], 1.0 - alpha) - j / n));
    }
    if (d < best_d) {
      best_d = d;
      best.alpha = alpha;
      best.xmin = x[i];
      best.ks_distance = d;
      best.alpha_stderr = (alpha - 1) / std::sqrt(n);
      best.n_tail = static_cast<int64_t>(n_all - i);
    }
  }
  return best;
}

TEST(PowerLawFitTest, HandComputedThreeSamples) {
  // x = {1, 2, 4}. x_min = 1: α = 1 + 3/(3 ln 2), D = max(0, |1 − e^−1 − 1/3|, |1 − e^−2 − 2/3|);
  // x_min = 2: α = 1 + 2/ln 2, D = |1 − e^−2 − 1/2| (larger), so x_min = 1 wins.
  const PowerLawFit f = fit_power_law({4.0, 1.0, 2.0});
  const double ln2 = std::log(2.0);
  EXPECT_NEAR(f.alpha, 1.0 + 1.0 / ln2, kExact);
  EXPECT_EQ(f.xmin, 1.0);
  EXPECT_NEAR(f.ks_distance, 1.0 - std::exp(-1.0) - 1.0 / 3.0, kExact);
  EXPECT_NEAR(f.alpha_stderr, (1.0 / ln2) / std::sqrt(3.0), kExact);
  EXPECT_EQ(f.n_tail, 3);
  EXPECT_EQ(f.n_samples, 3);
}

TEST(PowerLawFitTest, BadSamplesThrow) {
  EXPECT_THROW(fit_power_law({1.0}), std::invalid_argument);
  EXPECT_THROW(fit_power_law({1.0, 0.0, 2.0}), std::invalid_argument);
  EXPECT_THROW(fit_power_law({1.0, NAN}), std::invalid_argument);
}

TEST(PowerLawFitTest, AllEqualSamplesAreDegenerate) {
  // No candidate has a finite α: every D stays 1 and the first candidate is reported.
  const PowerLawFit f = fit_power_law({3.0, 3.0, 3.0, 3.0});
  EXPECT_EQ(f.ks_distance, 1.0);
  EXPECT_EQ(f.xmin, 3.0);
  EXPECT_EQ(f.n_tail, 4);
}

class PowerLawBruteForceTest : public ::testing::TestWithParam<int> {};

TEST_P(PowerLawBruteForceTest, PrunedSearchEqualsFullSearch) {
  // Lognormal body with a Pareto tail: x_min lands inside the data, not at its ends.
  const int n = GetParam();
  std::mt19937_64 rng(77 + n);
  std::lognormal_distribution<double> body(0.0, 0.5);
  std::vector<double> x = pareto(2.5, n / 4, 5 + n);
  for (int i = 0; i < n - n / 4; ++i) x.push_back(body(rng));
  const PowerLawFit got = fit_power_law(x);
  const PowerLawFit want = brute_force(x);
  EXPECT_EQ(got.xmin, want.xmin);
  EXPECT_NEAR(got.alpha, want.alpha, kExact * want.alpha);
  EXPECT_NEAR(got.ks_distance, want.ks_distance, kExact);
  EXPECT_NEAR(got.alpha_stderr, want.alpha_stderr, kExact);
  EXPECT_EQ(got.n_tail, want.n_tail);
  // The pruning is what makes the search fast: most candidates stop early.
  EXPECT_LT(got.candidates_completed, n / 2) << "candidates completed";
}

INSTANTIATE_TEST_SUITE_P(Sizes, PowerLawBruteForceTest, ::testing::Values(50, 400, 2000));

TEST(PowerLawFitTest, ParetoAlphaRecoveredWithinStandardErrors) {
  // Pure Pareto samples: α̂ is within 4 standard errors (α−1)/√n_tail, and the error over 8
  // seeds shrinks as n grows (the estimator is consistent).
  for (const double alpha : {1.8, 2.5, 4.0}) {
    double mean_err_small = 0, mean_err_large = 0;
    for (const int n : {500, 8000}) {
      double mean_err = 0;
      for (uint64_t seed = 0; seed < 8; ++seed) {
        const PowerLawFit f = fit_power_law(pareto(alpha, n, 1000 * seed + n));
        const double se = (alpha - 1) / std::sqrt(static_cast<double>(f.n_tail));
        EXPECT_LE(std::fabs(f.alpha - alpha), 4 * se)
            << "alpha " << alpha << " n " << n << " seed " << seed << " n_tail " << f.n_tail;
        EXPECT_GE(f.n_tail, 10);
        mean_err += std::fabs(f.alpha - alpha) / 8;
      }
      (n == 500 ? mean_err_small : mean_err_large) = mean_err;
    }
    std::printf("alpha %.1f: mean |error| %.4f at n=500, %.4f at n=8000\n", alpha, mean_err_small,
                mean_err_large);
    EXPECT_LT(mean_err_large, mean_err_small) << "alpha " << alpha;
  }
}

/// A rows×cols Gaussian matrix (entries N(0, 1)), row-major.
std::vector<double> gaussian(int64_t rows, int64_t cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<double> w(static_cast<std::size_t>(rows * cols));
  for (double& v : w) v = g(rng);
  return w;
}

std::vector<double> eigenvalues_of(const std::vector<double>& w, int64_t rows, int64_t cols) {
  const Eigen::VectorXd s2 = gram_squared_singular_values(w.data(), rows, cols);
  return std::vector<double>(s2.data(), s2.data() + s2.size());
}

TEST(MarchenkoPasturTest, GaussianMatrixHasNoSpikesAndEdgeNearTheory) {
  // N×M Gaussian: the eigenvalues of WᵀW fill [N(1 − 1/√Q)², N(1 + 1/√Q)²]; rescaled to mean 1
  // the bulk variance is 1. Finite-size error of σ² and λ+ ~ a few percent at M = 300.
  const int64_t n = 1200, m = 300;
  const std::vector<double> eig = eigenvalues_of(gaussian(n, m, 3), n, m);
  const MarchenkoPasturFit f = fit_marchenko_pastur(eig, n, m);
  EXPECT_DOUBLE_EQ(f.q, 4.0);
  EXPECT_NEAR(f.sigma2, 1.0, 0.02);
  EXPECT_NEAR(f.lambda_plus / (n * 2.25), 1.0, 0.03);
  EXPECT_EQ(f.num_spikes, 0);
  EXPECT_NEAR(f.softrank, 1.0, 0.05);
  EXPECT_GE(f.iterations, 1);
}

TEST(MarchenkoPasturTest, PlantedSpikesAreCounted) {
  // W = G + Σ_k θ_k u_k v_kᵀ with θ_k far above the BBP threshold: exactly k spikes, and the MP
  // soft rank drops well below 1.
  const int64_t n = 1200, m = 300;
  std::vector<double> w = gaussian(n, m, 4);
  std::mt19937_64 rng(9);
  std::normal_distribution<double> g(0.0, 1.0);
  for (int k = 0; k < 3; ++k) {
    std::vector<double> u(n), v(m);
    for (double& x : u) x = g(rng) / std::sqrt(static_cast<double>(n));
    for (double& x : v) x = g(rng) / std::sqrt(static_cast<double>(m));
    const double theta = (4.0 + 2 * k) * std::sqrt(static_cast<double>(n));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j) w[i * m + j] += theta * u[i] * v[j];
  }
  const std::vector<double> eig = eigenvalues_of(w, n, m);
  const MarchenkoPasturFit f = fit_marchenko_pastur(eig, n, m);
  EXPECT_EQ(f.num_spikes, 3);
  EXPECT_LT(f.softrank, 0.3);
}

TEST(MarchenkoPasturTest, FixedPointOnConstructedSpectrum) {
  // Q = 4, c = (1 + 1/2)² = 2.25. Eigenvalues {1, 1, 1, 1, 16}: mean 4 → rescaled
  // {0.25 ×4, 4}; edge 2.25 keeps the four 0.25s; σ² = 0.25, edge 0.5625 keeps them again.
  const MarchenkoPasturFit f = fit_marchenko_pastur({1, 16, 1, 1, 1}, 20, 5);
  EXPECT_DOUBLE_EQ(f.sigma2, 0.25);
  EXPECT_DOUBLE_EQ(f.lambda_plus, 0.25 * 2.25 * 4.0);  // back in raw units (mean 4)
  EXPECT_EQ(f.iterations, 2);
  EXPECT_DOUBLE_EQ(f.softrank, 0.25 * 2.25 * 4.0 / 16.0);
  // Tracy–Widom margin: λ+' = 0.5625, TW = 0.5625^(2/3) 5^(-2/3) / 2; spike only the 16.
  const double plus = 0.5625, tw = std::pow(plus, 2.0 / 3) * std::pow(5.0, -2.0 / 3) / 2;
  EXPECT_NEAR(f.lambda_plus_tw, (plus + std::sqrt(tw)) * 4.0, kExact);
  EXPECT_EQ(f.num_spikes, 1);
}

TEST(MarchenkoPasturTest, ZeroSpectrumIsUndefined) {
  const MarchenkoPasturFit f = fit_marchenko_pastur({0, 0, 0}, 5, 3);
  EXPECT_TRUE(std::isnan(f.lambda_plus));
  EXPECT_TRUE(std::isnan(f.softrank));
}

TEST(JensenShannonTest, HandComputedPair) {
  // p = (1/2, 1/2), q = (1/4, 3/4), m = (3/8, 5/8).
  const double kl_p = 0.5 * std::log(0.5 / 0.375) + 0.5 * std::log(0.5 / 0.625);
  const double kl_q = 0.25 * std::log(0.25 / 0.375) + 0.75 * std::log(0.75 / 0.625);
  EXPECT_NEAR(jensen_shannon_distance({2, 2}, {3, 1}), std::sqrt((kl_p + kl_q) / 2), kExact);
  EXPECT_EQ(jensen_shannon_distance({1, 2, 3}, {3, 2, 1}), 0.0);  // same sorted vectors
  EXPECT_TRUE(std::isnan(jensen_shannon_distance({1, 2}, {1, 2, 3})));
  EXPECT_TRUE(std::isnan(jensen_shannon_distance({0, 0}, {1, 2})));
  // Order is ignored: both sort to (0, 1).
  EXPECT_EQ(jensen_shannon_distance({0, 1}, {1, 0}), 0.0);
  // p = (0, 0, 1), q = (0, 1/2, 1/2), m = (0, 1/4, 3/4); zero entries contribute nothing.
  const double kl_p2 = std::log(1 / 0.75);
  const double kl_q2 = 0.5 * std::log(0.5 / 0.25) + 0.5 * std::log(0.5 / 0.75);
  EXPECT_NEAR(jensen_shannon_distance({0, 0, 1}, {0, 1, 1}), std::sqrt((kl_p2 + kl_q2) / 2),
              kExact);
}

TEST(ShuffleTest, PermutationDeterminedBySeed) {
  std::vector<float> a(1000);
  std::iota(a.begin(), a.end(), 0.0f);
  std::vector<float> b = a, c = a;
  shuffle_entries(a.data(), 1000, 42);
  shuffle_entries(b.data(), 1000, 42);
  shuffle_entries(c.data(), 1000, 43);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<float> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(sorted[i], static_cast<float>(i));
  int fixed = 0;
  for (int i = 0; i < 1000; ++i) fixed += a[i] == static_cast<float>(i);
  EXPECT_LT(fixed, 10);  // a uniform permutation fixes ~1 point on average
}

TEST(EsdMetricsTest, TooFewEigenvaluesLeaveTheFitNaN) {
  EsdOptions o;
  o.enabled = true;
  const EsdMetrics m = esd_metrics({5, 4, 3, 2, 1}, 8, 5, 0, o);
  EXPECT_TRUE(std::isnan(m.power_law.alpha));
  EXPECT_TRUE(std::isnan(m.alpha_weighted));
  EXPECT_NE(m.note.find("needs 10 eigenvalues"), std::string::npos) << m.note;
  EXPECT_EQ(m.lambda_max, 5.0);
  EXPECT_FALSE(std::isnan(m.mp.lambda_plus));  // the bulk fit does not need 10
}

TEST(EsdMetricsTest, FloorAndNoiseFloorSelectTheFittedEigenvalues) {
  EsdOptions o;
  o.enabled = true;
  std::vector<double> eig = pareto(3.0, 200, 8);
  eig.push_back(1e-7);  // below WeightWatcher's 1e-5: never fitted
  const EsdMetrics m = esd_metrics(eig, 1000, 201, 0, o);
  EXPECT_EQ(m.power_law.n_samples, 200);
  const PowerLawFit direct = fit_power_law(pareto(3.0, 200, 8));
  EXPECT_EQ(m.power_law.alpha, direct.alpha);
  EXPECT_NEAR(m.alpha_weighted, direct.alpha * std::log10(m.lambda_max), kExact);
  // A noise floor at the median removes the lower half.
  std::vector<double> sorted = pareto(3.0, 200, 8);
  std::sort(sorted.begin(), sorted.end());
  const EsdMetrics half = esd_metrics(eig, 1000, 201, sorted[99], o);
  EXPECT_EQ(half.power_law.n_samples, 100);
}

TEST(EsdMetricsTest, ComputeMetricsFillsEsdAndRandomized) {
  // A Gaussian matrix with one strong spike: alpha and the bulk come from its Gram eigenvalues;
  // the shuffled copy destroys the spike (its ESD is Gaussian-like) but keeps Σλ.
  const int64_t n = 400, m = 200;
  std::vector<double> w = gaussian(n, m, 11);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) w[i * m + j] += 0.5 * std::cos(0.01 * i) * std::sin(0.03 * j);
  MetricOptions o;
  o.esd.enabled = true;
  o.esd.randomize = true;
  o.esd.seed = 5;
  const MatrixMetrics got = compute_metrics(w.data(), n, m, o);
  ASSERT_EQ(got.status, MetricStatus::Ok) << got.reason;
  const std::vector<double> eig = eigenvalues_of(w, n, m);
  const EsdMetrics want = esd_metrics(eig, n, m, got.rank_tol * got.rank_tol, o.esd);
  EXPECT_NEAR(got.esd.power_law.alpha, want.power_law.alpha, kExact * want.power_law.alpha);
  EXPECT_NEAR(got.esd.lambda_max, got.spectral_norm * got.spectral_norm, kExact * want.lambda_max);
  EXPECT_EQ(got.esd.mp.num_spikes, 1);
  std::vector<double> shuffled = w;
  shuffle_entries(shuffled.data(), n * m, 5);
  const std::vector<double> reig = eigenvalues_of(shuffled, n, m);
  EXPECT_NEAR(got.esd.rand_lambda_max, *std::max_element(reig.begin(), reig.end()),
              kExact * got.esd.rand_lambda_max);
  EXPECT_NEAR(got.esd.rand_distance, jensen_shannon_distance(eig, reig), kExact);
  EXPECT_EQ(got.esd.rand_num_spikes, 0.0);
  EXPECT_LT(got.esd.rand_lambda_max, got.esd.lambda_max);
  EXPECT_GT(got.esd.rand_distance, 0.0);
}

TEST(EsdMetricsTest, OptionsAreChecked) {
  MetricOptions o;
  std::string why;
  o.esd.randomize = true;
  EXPECT_FALSE(o.IsValid(&why));
  EXPECT_NE(why.find("needs --esd"), std::string::npos) << why;
  o.esd.enabled = true;
  EXPECT_TRUE(o.IsValid(&why)) << why;
  o.method = SvdMethod::Fast;
  EXPECT_FALSE(o.IsValid(&why));
  EXPECT_NE(why.find("drop --fast"), std::string::npos) << why;
  EXPECT_THROW(compute_metrics(std::vector<double>(4, 1.0).data(), 2, 2, o), std::invalid_argument);
}

}  // namespace
}  // namespace muft::analysis
