#include "muft/theory/orthogonalize.h"

#include <gtest/gtest.h>

#include <cmath>

#include "muft/theory/polar_express.h"
#include "muft/theory/problems.h"

namespace muft::theory {
namespace {

constexpr double kTight = 1e-12;  // SVD of small well-conditioned matrices

// Constructed spectrum: G = U diag(s) V' with known U, V.
Eigen::MatrixXd constructed(int m, int n, const Eigen::VectorXd& s, InstanceSampler* smp,
                            Eigen::MatrixXd* polar) {
  Eigen::HouseholderQR<Eigen::MatrixXd> qu(smp->gaussian_matrix(m, m)),
      qv(smp->gaussian_matrix(n, n));
  const Eigen::MatrixXd U = qu.householderQ() * Eigen::MatrixXd::Identity(m, s.size());
  const Eigen::MatrixXd V = qv.householderQ() * Eigen::MatrixXd::Identity(n, s.size());
  Eigen::Index rank = (s.array() > 0.0).count();
  *polar = U.leftCols(rank) * V.leftCols(rank).transpose();
  return U * s.asDiagonal() * V.transpose();
}

TEST(OrthogonalizeTest, ExactPolarOfConstructedSpectrum) {
  InstanceSampler smp(3);
  for (auto [m, n] : std::vector<std::pair<int, int>>{{5, 3}, {3, 5}, {4, 4}, {1, 6}, {6, 1}}) {
    const int r = std::min(m, n);
    Eigen::VectorXd s = Eigen::VectorXd::LinSpaced(r, 3.0, 0.5);
    Eigen::MatrixXd P;
    const Eigen::MatrixXd G = constructed(m, n, s, &smp, &P);
    EXPECT_LT((ortho_exact(G) - P).norm(), kTight) << m << "x" << n;
  }
}

TEST(OrthogonalizeTest, ExactPolarRankDeficientAndZero) {
  InstanceSampler smp(4);
  Eigen::VectorXd s(3);
  s << 2.0, 1.0, 0.0;  // rank 2: compact SVD drops the zero direction
  Eigen::MatrixXd P;
  const Eigen::MatrixXd G = constructed(5, 4, s, &smp, &P);
  EXPECT_LT((ortho_exact(G) - P).norm(), kTight);
  EXPECT_TRUE(ortho_exact(Eigen::MatrixXd::Zero(3, 2)).isZero(0.0));
  // Rank one u v': u v'/(|u||v|).
  Eigen::VectorXd u(2), v(3);
  u << 3.0, 4.0;
  v << 0.0, 2.0, 0.0;
  Eigen::MatrixXd expect = Eigen::MatrixXd::Zero(2, 3);
  expect(0, 1) = 0.6;
  expect(1, 1) = 0.8;
  EXPECT_LT((ortho_exact(u * v.transpose()) - expect).norm(), kTight);
}

// NS5 hand case: 1x1 matrix [2]: x0 = 2/(2 + 1e-7), one step x -> a x + b x^3 + c x^5.
TEST(OrthogonalizeTest, Ns5OneStepByHand) {
  Eigen::MatrixXd G(1, 1);
  G << 2.0;
  const double x = 2.0 / (2.0 + 1e-7);
  const double want = 3.4445 * x - 4.7750 * x * x * x + 2.0315 * std::pow(x, 5);
  EXPECT_NEAR(newton_schulz5(G, 1)(0, 0), want, 1e-15);
}

// NS5 on a tall matrix equals NS5 of the transpose, transposed; singular vectors preserved and
// singular values land in NS5's known band (about [0.68, 1.13]) for a well-conditioned input.
TEST(OrthogonalizeTest, Ns5TallAndBand) {
  InstanceSampler smp(5);
  Eigen::VectorXd s(3);
  s << 1.0, 0.6, 0.3;
  Eigen::MatrixXd P;
  const Eigen::MatrixXd G = constructed(7, 3, s, &smp, &P);
  const Eigen::MatrixXd A = newton_schulz5(G);
  const Eigen::MatrixXd B = newton_schulz5(G.transpose()).transpose();
  EXPECT_LT((A - B).norm(), 1e-13);
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(A);
  EXPECT_GT(svd.singularValues().minCoeff(), 0.6);
  EXPECT_LT(svd.singularValues().maxCoeff(), 1.25);
  // Same singular vectors as the exact polar factor: A = P * (symmetric positive part).
  const Eigen::MatrixXd H = P.transpose() * A;  // (3, 3) should be symmetric positive definite
  EXPECT_LT((H - H.transpose()).norm(), 1e-12);
}

TEST(OrthogonalizeTest, PolarExpressCloseToExact) {
  InstanceSampler smp(6);
  Eigen::VectorXd s(4);
  s << 1.0, 0.5, 0.1, 0.02;
  Eigen::MatrixXd P;
  const Eigen::MatrixXd G = constructed(6, 4, s, &smp, &P);
  PolarExpressOptions o;
  const auto c = polar_express_coefficients(o);
  const double err5 = (polar_express_orthogonalize(G, c, 5) - P).norm();
  const double err8 = (polar_express_orthogonalize(G, c, 8) - P).norm();
  std::printf("PE 5 steps %.3e, 8 steps %.3e, NS5 %.3e\n", err5, err8,
              (newton_schulz5(G) - P).norm());
  EXPECT_LT(err8, err5);
  EXPECT_LT(err8, 5e-2);  // safety factor 1e-2 keeps singular values ~1% below 1 until the end
  EXPECT_THROW(polar_express_orthogonalize(G, c, 11), std::invalid_argument);
}

}  // namespace
}  // namespace muft::theory
