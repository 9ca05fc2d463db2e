// Tests of the Newton–Schulz / Polar Express orthogonalization (lib/train/src/newton_schulz.cpp).
#include "muft/train/newton_schulz.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "muft/theory/orthogonalize.h"
#include "muft/theory/polar_express.h"

namespace muft::train {
namespace {

// G = U diag(sigma) Vᵀ with random orthonormal U (m, k), V (n, k), k = sigma.size().
torch::Tensor with_spectrum(int64_t m, int64_t n, const std::vector<double>& sigma, int64_t seed) {
  torch::manual_seed(seed);
  const int64_t k = static_cast<int64_t>(sigma.size());
  auto U = std::get<0>(torch::linalg_qr(torch::randn({m, k}, torch::kFloat64)));
  auto V = std::get<0>(torch::linalg_qr(torch::randn({n, k}, torch::kFloat64)));
  auto s = torch::tensor(sigma, torch::kFloat64);
  return (U * s.unsqueeze(0)).mm(V.t());
}

std::vector<double> geometric(double lo, double hi, int k) {
  std::vector<double> s(k);
  for (int i = 0; i < k; ++i) s[i] = hi * std::pow(lo / hi, double(i) / double(k - 1));
  return s;
}

// The iteration acts on each singular value separately: σ ↦ p_K(…p_1(σ / norm)), so the
// singular values of the output are the scalar composition applied to the input's.
std::vector<double> predicted(const std::vector<double>& sigma, double norm_mult,
                              const std::vector<std::array<double, 3>>& coeffs) {
  double fro = 0;
  for (double s : sigma) fro += s * s;
  fro = std::sqrt(fro);
  std::vector<double> out;
  for (double s : sigma) {
    double x = s / (norm_mult * fro + 1e-7);
    for (const auto& c : coeffs) x = c[0] * x + c[1] * x * x * x + c[2] * x * x * x * x * x;
    out.push_back(x);
  }
  return out;
}

std::vector<double> singular_values(const torch::Tensor& t) {
  auto sv = torch::linalg_svdvals(t.to(torch::kFloat64).reshape({t.size(0), -1}));
  return std::vector<double>(sv.data_ptr<double>(), sv.data_ptr<double>() + sv.numel());
}

TEST(NewtonSchulzTest, CoefficientTables) {
  NewtonSchulzOptions o;
  auto ns5 = ns_coefficients(o);
  ASSERT_EQ(ns5.size(), 5u);
  for (const auto& c : ns5) EXPECT_EQ(c, kNS5Coefficients);
  o.coefficients = NSCoefficients::kPolarExpress;
  auto pe = ns_coefficients(o);
  theory::PolarExpressOptions po;  // defaults are the paper's ℓ = 1e-3, K = 10, 1e-2, 0.02
  auto theory_pe = theory::polar_express_coefficients(po);
  ASSERT_EQ(pe.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(pe[i], theory_pe[i]);
  // Polar Express starts aggressive (a₁ ≈ 8) where NS5 uses 3.4445.
  EXPECT_GT(pe[0][0], 7.0);
  o.steps = 11;
  std::string error;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_THROW(newton_schulz(torch::ones({3}), NewtonSchulzOptions{}), std::invalid_argument);
  EXPECT_EQ(parse_ns_coefficients("pe"), NSCoefficients::kPolarExpress);
  EXPECT_THROW(parse_ns_coefficients("ns7"), std::invalid_argument);
}

struct Case {
  int64_t m, n;
  NSCoefficients coeffs;
};

class NewtonSchulzSpectrumTest : public ::testing::TestWithParam<Case> {};

TEST_P(NewtonSchulzSpectrumTest, Float32SingularValuesFollowTheScalarComposition) {
  const Case c = GetParam();
  const int k = static_cast<int>(std::min(c.m, c.n));
  const auto sigma = geometric(1e-2, 3.0, k);
  auto G = with_spectrum(c.m, c.n, sigma, 17).to(torch::kFloat32);
  NewtonSchulzOptions o;
  o.coefficients = c.coeffs;
  o.bf16 = false;
  auto X = newton_schulz(G, o);
  ASSERT_EQ(X.sizes(), G.sizes());
  ASSERT_EQ(X.scalar_type(), torch::kFloat32);
  const double mult = c.coeffs == NSCoefficients::kPolarExpress ? 1.1 : 1.0;
  // The quintics are not monotone: compare the sorted multisets.
  auto want = predicted(sigma, mult, ns_coefficients(o));
  auto got = singular_values(X);
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  double worst = 0;
  for (int i = 0; i < k; ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
  constexpr double kTol = 2e-4;  // float32 iteration, κ = 300 input
  EXPECT_LT(worst, kTol) << "max |σ_i(NS(G)) − p(σ_i)|";
  // The band itself: NS5 leaves singular values in roughly [0.68, 1.2] once they are not tiny.
  const double top = *std::max_element(got.begin(), got.end());
  EXPECT_LT(top, 1.25);
  // Left and right singular vectors are kept: X ≈ U f(Σ) Vᵀ, so Gᵀ X is symmetric PSD.
  auto GtX = G.t().to(torch::kFloat64).mm(X.to(torch::kFloat64));
  EXPECT_LT((GtX - GtX.t()).abs().max().item<double>(), 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Shapes, NewtonSchulzSpectrumTest,
                         ::testing::Values(Case{24, 40, NSCoefficients::kNS5},
                                           Case{40, 24, NSCoefficients::kNS5},
                                           Case{24, 40, NSCoefficients::kPolarExpress},
                                           Case{40, 24, NSCoefficients::kPolarExpress}));

TEST(NewtonSchulzTest, PolarExpressReachesATighterBandThanNS5) {
  // Singular values spread over two decades: after 5 steps PE is near 1 everywhere, NS5 is not.
  const auto sigma = geometric(1e-2, 1.0, 32);
  auto G = with_spectrum(32, 64, sigma, 3).to(torch::kFloat32);
  NewtonSchulzOptions ns5;
  ns5.bf16 = false;
  NewtonSchulzOptions pe = ns5;
  pe.coefficients = NSCoefficients::kPolarExpress;
  auto s_ns5 = singular_values(newton_schulz(G, ns5));
  auto s_pe = singular_values(newton_schulz(G, pe));
  const double ns5_min = *std::min_element(s_ns5.begin(), s_ns5.end());
  const double pe_min = *std::min_element(s_pe.begin(), s_pe.end());
  const double pe_max = *std::max_element(s_pe.begin(), s_pe.end());
  std::cout << "σ_min NS5 " << ns5_min << ", PE [" << pe_min << ", " << pe_max << "]\n";
  EXPECT_GT(pe_min, ns5_min);
  EXPECT_GT(pe_min, 0.5);
  EXPECT_LT(pe_max, 1.2);
}

TEST(NewtonSchulzTest, Bfloat16IterationStaysCloseToFloat32) {
  const auto sigma = geometric(0.1, 1.0, 16);
  auto G = with_spectrum(16, 48, sigma, 5).to(torch::kFloat32);
  NewtonSchulzOptions o32;
  o32.bf16 = false;
  NewtonSchulzOptions o16;  // default: bfloat16
  auto X32 = newton_schulz(G, o32);
  auto X16 = newton_schulz(G, o16);
  ASSERT_EQ(X16.scalar_type(), torch::kFloat32);
  const double rel = ((X16 - X32).norm() / X32.norm()).item<double>();
  // bfloat16 keeps 8 significant bits (0.4 % per rounding); five quintic steps with
  // coefficients up to ~5 amplify that to a few percent on the small singular values.
  EXPECT_LT(rel, 0.1);
  EXPECT_GT(rel, 0.0);  // and really was computed in lower precision
}

TEST(NewtonSchulzTest, PolarExpressDefaultsToFloat32AndStaysBoundedOnLoRAFactors) {
  // Regression: the spectrum of a rank-8 LoRA B factor (128 × 8) whose bfloat16 PE update blew
  // up in the paper-toy sweep (σ_max 1.5e4 after 5 steps). The exact composition keeps every
  // singular value within [0.87, 1.14]; the default (float32) iteration must follow it, for
  // many random singular vectors with that spectrum.
  const std::vector<double> sigma = {0.7366, 0.3721, 0.2596, 0.1715,
                                     0.1619, 0.0988, 0.0909, 0.0665};
  NewtonSchulzOptions pe;
  pe.coefficients = NSCoefficients::kPolarExpress;
  ASSERT_FALSE(pe.pe_bf16);
  ASSERT_TRUE(pe.bf16);  // the NS5 switch does not turn PE to bfloat16
  const auto want = predicted(sigma, 1.1, ns_coefficients(pe));
  const double want_max = *std::max_element(want.begin(), want.end());
  EXPECT_LT(want_max, 1.2);
  double worst = 0;
  for (int64_t seed = 0; seed < 100; ++seed) {
    const auto G = with_spectrum(128, 8, sigma, 100 + seed).to(torch::kFloat32);
    const auto s = singular_values(newton_schulz(G, pe));
    worst = std::max(worst, *std::max_element(s.begin(), s.end()));
  }
  std::cout << "PE float32 on 100 LoRA-like factors: worst σ_max " << worst << " (exact "
            << want_max << ")\n";
  EXPECT_NEAR(worst, want_max, 1e-3);
  // Asking for bfloat16 really changes the arithmetic (the option is honoured).
  NewtonSchulzOptions pe16 = pe;
  pe16.pe_bf16 = true;
  const auto G = with_spectrum(128, 8, sigma, 7).to(torch::kFloat32);
  EXPECT_GT((newton_schulz(G, pe16) - newton_schulz(G, pe)).abs().max().item<double>(), 0.0);
}

TEST(NewtonSchulzTest, HigherRankIsViewedAsDim0ByRest) {
  torch::manual_seed(9);
  auto G = torch::randn({6, 4, 5});
  NewtonSchulzOptions o;
  o.bf16 = false;
  auto X = newton_schulz(G, o);
  auto X2 = newton_schulz(G.reshape({6, 20}), o).reshape({6, 4, 5});
  EXPECT_TRUE(torch::allclose(X, X2, 0, 0));
}

// DESIGN.md seam 2: muft::theory (Eigen, double) and the LibTorch Muon share the same math.
TEST(NewtonSchulzTest, AgreesWithTheoryOnTheSameMatrix) {
  for (bool tall : {false, true}) {
    const int64_t m = tall ? 30 : 12, n = tall ? 12 : 30;
    auto G = with_spectrum(m, n, geometric(0.05, 2.0, 12), 21).to(torch::kFloat32);
    Eigen::MatrixXd E(m, n);
    auto G64 = G.to(torch::kFloat64).contiguous();
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) E(i, j) = G64[i][j].item<double>();
    NewtonSchulzOptions o;
    o.bf16 = false;
    auto ours_ns5 = newton_schulz(G, o).to(torch::kFloat64);
    const Eigen::MatrixXd th_ns5 = theory::newton_schulz5(E, 5);
    o.coefficients = NSCoefficients::kPolarExpress;
    auto ours_pe = newton_schulz(G, o).to(torch::kFloat64);
    const Eigen::MatrixXd th_pe = theory::polar_express_orthogonalize(
        E, theory::polar_express_coefficients(theory::PolarExpressOptions{}), 5);
    double d_ns5 = 0, d_pe = 0;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        d_ns5 = std::max(d_ns5, std::abs(ours_ns5[i][j].item<double>() - th_ns5(i, j)));
        d_pe = std::max(d_pe, std::abs(ours_pe[i][j].item<double>() - th_pe(i, j)));
      }
    constexpr double kTol = 1e-4;  // float32 iteration against double
    EXPECT_LT(d_ns5, kTol) << (tall ? "tall" : "wide");
    EXPECT_LT(d_pe, kTol) << (tall ? "tall" : "wide");
    // NS5 and PE differ by far more than the tolerance, so the comparison can fail.
    EXPECT_GT((ours_ns5 - ours_pe).abs().max().item<double>(), 100 * kTol);
  }
}

TEST(NewtonSchulzTest, ZeroInputGivesZero) {
  NewtonSchulzOptions o;
  auto X = newton_schulz(torch::zeros({4, 6}), o);
  EXPECT_EQ(X.abs().max().item<float>(), 0.0f);
}

}  // namespace
}  // namespace muft::train
