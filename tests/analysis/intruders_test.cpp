/// \file intruders_test.cpp
/// Intruder dimensions on constructed matrices whose singular vectors are known in closed form,
/// and against an independent implementation (Eigen's Jacobi SVD of both matrices).

#include "muft/analysis/intruders.h"

#include <cmath>
#include <limits>
#include <random>

#include <gtest/gtest.h>
#include <Eigen/QR>
#include <Eigen/SVD>

#include "test_util.h"

namespace muft::analysis {
namespace {

using testing::random_orthonormal;
using testing::row_major;
using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// W0 = U0 diag(s0) V0ᵀ (80 × 40, σ from 2 down to 1) and W = W0 + Σⱼ σⱼ xⱼ v0ⱼᵀ over the three
/// smallest right singular vectors v0ⱼ, with xⱼ orthonormal and orthogonal to every column of
/// U0. Then W's SVD is known exactly: the untouched triplets of W0, and for each j the left
/// vector (s0ⱼ u0ⱼ + σⱼ xⱼ)/√(s0ⱼ² + σⱼ²), whose largest |cosine| with W0's is
/// s0ⱼ/√(s0ⱼ² + σⱼ²) (with u0ⱼ; 0 with all others).
struct Planted {
  RowMajor w, w0;
  Eigen::Vector3d planted_cos;
};

Planted planted(const Eigen::Vector3d& sigma, uint64_t seed) {
  const int m = 80, n = 40;
  std::mt19937_64 rng(seed);
  const Eigen::MatrixXd Q = random_orthonormal(m, n + 3, rng);  // U0 = first n, X = last 3
  const Eigen::MatrixXd U0 = Q.leftCols(n), X = Q.rightCols(3);
  const Eigen::MatrixXd V0 = random_orthonormal(n, n, rng);
  Eigen::VectorXd s0(n);
  for (int i = 0; i < n; ++i) s0[i] = 2.0 - i / double(n - 1);  // 2 .. 1, distinct
  Planted p;
  const Eigen::MatrixXd W0 = U0 * s0.asDiagonal() * V0.transpose();
  Eigen::MatrixXd W = W0;
  for (int j = 0; j < 3; ++j) {
    W += sigma[j] * X.col(j) * V0.col(n - 1 - j).transpose();
    const double sj = s0[n - 1 - j];
    p.planted_cos[j] = sj / std::hypot(sj, sigma[j]);
  }
  p.w = row_major(W);
  p.w0 = row_major(W0);
  return p;
}

TEST(IntrudersTest, PlantedIntrudersAreCountedExactly80x40) {
  const Planted p = planted(Eigen::Vector3d(100, 80, 60), 1);
  IntruderOptions o;  // top_k 10, epsilon 0.5 (PEFT's defaults)
  const IntruderResult r = intruder_dimensions(p.w.data(), p.w0.data(), 80, 40, o);
  EXPECT_EQ(r.examined, 10);
  EXPECT_EQ(r.count, 3);
  EXPECT_FALSE(r.lanczos);  // 4·10 + 20 >= min(m, n) = 40: the full SVD
  ASSERT_EQ(r.max_cosine.size(), 10u);
  // The three largest σ are the planted ones (√(1 + 100²) > √(1 + 80²) > ...).
  constexpr double kTol = 1e-12;  // exact singular vectors of a 80 × 40 matrix, ‖W‖ = 100
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(r.max_cosine[j], p.planted_cos[j], kTol) << j;
  for (int j = 3; j < 10; ++j) EXPECT_NEAR(r.max_cosine[j], 1.0, kTol) << j;  // W0's own
  // W = 2·W0 has W0's singular vectors: no intruders; nor has W0 itself.
  const RowMajor w2 = 2 * p.w0;
  EXPECT_EQ(intruder_dimensions(w2.data(), p.w0.data(), 80, 40, o).count, 0);
  EXPECT_EQ(intruder_dimensions(p.w0.data(), p.w0.data(), 80, 40, o).count, 0);
}

TEST(IntrudersTest, EpsilonAndTopKDecide80x40) {
  // σ = s0ⱼ gives cos = 1/√2 ≈ 0.707: above ε = 0.5, below ε = 0.8. σ of the first is 100.
  const Planted p = planted(Eigen::Vector3d(100, 1.0 + 1.0 / 39, 1.0 + 2.0 / 39), 2);
  IntruderOptions o;
  o.top_k = 1;
  IntruderResult r = intruder_dimensions(p.w.data(), p.w0.data(), 80, 40, o);
  EXPECT_EQ(r.examined, 1);
  EXPECT_EQ(r.count, 1);
  // With all 40 vectors: the two weak plants sit at cos 1/√2 inside W0's spectrum.
  o.top_k = 40;
  r = intruder_dimensions(p.w.data(), p.w0.data(), 80, 40, o);
  EXPECT_EQ(r.count, 1);
  o.epsilon = 0.8;
  r = intruder_dimensions(p.w.data(), p.w0.data(), 80, 40, o);
  EXPECT_EQ(r.count, 3);
  EXPECT_NEAR(p.planted_cos[1], std::sqrt(0.5), 1e-15);
  // More than min(m, n) asked: all 40 are examined.
  o.top_k = 64;
  EXPECT_EQ(intruder_dimensions(p.w.data(), p.w0.data(), 80, 40, o).examined, 40);
}

TEST(IntrudersTest, WideMatrixIntruderAgainstAFullBasis16x40) {
  // m < n: W0's 16 left singular vectors are a basis of R^16, so no vector is orthogonal to all
  // of them; w = U0·(1, …, 1)/4 is as far as possible, |cos| = 1/4 with each. W = W0 + σ w vᵀ
  // with v orthogonal to W0's rows: W Wᵀ = W0 W0ᵀ + σ² w wᵀ, whose top eigenvector is w up to
  // O((s0₁/σ)²) = 4e-4.
  std::mt19937_64 rng(3);
  const Eigen::MatrixXd U0 = random_orthonormal(16, 16, rng);
  const Eigen::MatrixXd V = random_orthonormal(40, 17, rng);
  Eigen::VectorXd s0(16);
  for (int i = 0; i < 16; ++i) s0[i] = 2.0 - i / 15.0;
  const Eigen::MatrixXd W0 = U0 * s0.asDiagonal() * V.leftCols(16).transpose();
  const Eigen::VectorXd w = U0 * Eigen::VectorXd::Constant(16, 0.25);
  const Eigen::MatrixXd W = W0 + 100.0 * w * V.col(16).transpose();
  const RowMajor wr = row_major(W), w0r = row_major(W0);
  IntruderOptions o;
  o.top_k = 1;
  const IntruderResult r = intruder_dimensions(wr.data(), w0r.data(), 16, 40, o);
  EXPECT_EQ(r.count, 1);
  EXPECT_NEAR(r.max_cosine[0], 0.25, 1e-3);
}

/// The test's own implementation: Jacobi SVDs (a different algorithm from dgesdd, Lanczos and
/// BDCSVD) of both matrices, then PEFT's cos_sim = (U_merged.T @ U_base).abs().max(dim=1).
Eigen::VectorXd reference_max_cos(const Eigen::MatrixXd& W, const Eigen::MatrixXd& W0, int k) {
  Eigen::JacobiSVD<Eigen::MatrixXd> a(W, Eigen::ComputeThinU), b(W0, Eigen::ComputeThinU);
  return (a.matrixU().leftCols(k).transpose() * b.matrixU()).cwiseAbs().rowwise().maxCoeff();
}

void expect_matches_reference(int m, int n, int k, bool lanczos, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0, 1);
  Eigen::MatrixXd W0(m, n), B(m, 4), A(4, n);
  for (Eigen::Index i = 0; i < W0.size(); ++i) W0.data()[i] = g(rng);
  for (Eigen::Index i = 0; i < B.size(); ++i) B.data()[i] = g(rng);
  for (Eigen::Index i = 0; i < A.size(); ++i) A.data()[i] = g(rng);
  // A LoRA-like update: rank 4, comparable to W0's largest directions.
  const Eigen::MatrixXd W = W0 + 0.5 * B * A;
  const RowMajor wr = row_major(W), w0r = row_major(W0);
  IntruderOptions o;
  o.top_k = k;
  const IntruderResult r = intruder_dimensions(wr.data(), w0r.data(), m, n, o);
  EXPECT_EQ(r.lanczos, lanczos);
  const Eigen::VectorXd want = reference_max_cos(W, W0, k);
  ASSERT_EQ(static_cast<Eigen::Index>(r.max_cosine.size()), want.size());
  // Gaussian matrices of this size have relative gaps ≥ ~1e-3 between their leading σ, so the
  // vectors are determined to ~1e-10 by both solvers (Lanczos converged to 1e-10 in σ²).
  constexpr double kTol = 1e-6;
  double count = 0;
  for (Eigen::Index j = 0; j < want.size(); ++j) {
    EXPECT_NEAR(r.max_cosine[j], want[j], kTol) << j;
    if (want[j] < o.epsilon) ++count;
  }
  EXPECT_EQ(r.count, count);
}

TEST(IntrudersTest, FullSvdPathMatchesJacobiReference60x40) {
  expect_matches_reference(60, 40, 10, /*lanczos=*/false, 4);
}

TEST(IntrudersTest, LanczosPathMatchesJacobiReference120x90) {
  expect_matches_reference(120, 90, 5, /*lanczos=*/true, 5);
}

TEST(IntrudersTest, LanczosPathMatchesJacobiReferenceWide70x130) {
  expect_matches_reference(70, 130, 8, /*lanczos=*/true, 6);
}

TEST(IntrudersTest, SingularVectorsAreOrthonormalAndOrdered) {
  Eigen::VectorXd s(30);
  for (int i = 0; i < 30; ++i) s[i] = 30.0 - i;
  const RowMajor w = row_major(testing::with_spectrum(50, 30, s, 8));
  const Eigen::MatrixXd U = left_singular_vectors(w.data(), 50, 30);
  ASSERT_EQ(U.rows(), 50);
  ASSERT_EQ(U.cols(), 30);
  EXPECT_LE((U.transpose() * U - Eigen::MatrixXd::Identity(30, 30)).cwiseAbs().maxCoeff(), 1e-13);
  // ‖Wᵀuᵢ‖ = σᵢ in order.
  const Eigen::MatrixXd Wm = w;
  for (int i = 0; i < 30; ++i) EXPECT_NEAR((Wm.transpose() * U.col(i)).norm(), s[i], 1e-12);
  bool lanczos = false;
  const RowMajor big = row_major(testing::with_spectrum(200, 150, s, 9));
  const Eigen::MatrixXd T = top_left_singular_vectors(big.data(), 200, 150, 3, &lanczos);
  EXPECT_TRUE(lanczos);
  const Eigen::MatrixXd Bm = big;
  for (int i = 0; i < 3; ++i) EXPECT_NEAR((Bm.transpose() * T.col(i)).norm(), s[i], 1e-9);
}

TEST(IntrudersTest, NonFiniteAndBadOptions) {
  RowMajor w = RowMajor::Identity(6, 4), w0 = RowMajor::Identity(6, 4);
  w(1, 2) = std::numeric_limits<double>::quiet_NaN();
  const IntruderResult r = intruder_dimensions(w.data(), w0.data(), 6, 4, IntruderOptions{});
  EXPECT_TRUE(std::isnan(r.count));
  EXPECT_EQ(r.examined, 4);
  IntruderOptions bad;
  bad.top_k = 0;
  EXPECT_THROW(intruder_dimensions(w0.data(), w0.data(), 6, 4, bad), std::invalid_argument);
  bad = IntruderOptions{};
  bad.epsilon = 0;
  std::string why;
  EXPECT_FALSE(bad.IsValid(&why));
  EXPECT_NE(why.find("--epsilon"), std::string::npos);
  bad.epsilon = 1.5;
  EXPECT_FALSE(bad.IsValid(nullptr));
  EXPECT_THROW(intruder_dimensions(w0.data(), w0.data(), 0, 4, IntruderOptions{}),
               std::invalid_argument);
  // float input is widened: same answer as double.
  const Planted p = planted(Eigen::Vector3d(100, 80, 60), 1);
  using RowMajorF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const RowMajorF wfr = p.w.cast<float>(), w0fr = p.w0.cast<float>();
  EXPECT_EQ(intruder_dimensions(wfr.data(), w0fr.data(), 80, 40, IntruderOptions{}).count, 3);
}

}  // namespace
}  // namespace muft::analysis
