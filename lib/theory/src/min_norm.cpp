#include "muft/theory/min_norm.h"

#include <cmath>
#include <random>
#include <stdexcept>

#include "muft/theory/closed_forms.h"
#include "muft/theory/simplex.h"

namespace muft::theory {

MinNormResult min_max_norm_lp(const Eigen::MatrixXd& X, const Eigen::MatrixXd& Y) {
  const Eigen::Index n = X.rows(), k = X.cols(), m = Y.rows();
  if (Y.cols() != k || n < 1 || k < 1 || m < 1) {
    throw std::invalid_argument("min_max_norm_lp: X must be (n, k) and Y (m, k)");
  }
  MinNormResult out;
  out.W = Eigen::MatrixXd::Zero(m, n);
  // Columns: w+ (n), w- (n), t (1), slacks s (n). Rows: k equalities, n box rows.
  const Eigen::Index nv = 3 * n + 1;
  Eigen::MatrixXd A = Eigen::MatrixXd::Zero(k + n, nv);
  A.block(0, 0, k, n) = X.transpose();
  A.block(0, n, k, n) = -X.transpose();
  for (Eigen::Index j = 0; j < n; ++j) {
    A(k + j, j) = 1.0;
    A(k + j, n + j) = 1.0;
    A(k + j, 2 * n) = -1.0;
    A(k + j, 2 * n + 1 + j) = 1.0;
  }
  Eigen::VectorXd c = Eigen::VectorXd::Zero(nv);
  c(2 * n) = 1.0;
  double worst = 0.0;
  for (Eigen::Index i = 0; i < m; ++i) {
    Eigen::VectorXd b = Eigen::VectorXd::Zero(k + n);
    b.head(k) = Y.row(i).transpose();
    const LpResult lp = solve_standard_lp(c, A, b);
    out.iterations += lp.pivots;
    if (lp.status != LpStatus::kOptimal) {
      out.status = lp.status == LpStatus::kIterationLimit ? SolverStatus::kIterationLimit
                                                          : SolverStatus::kNumericalIssue;
      return out;
    }
    out.W.row(i) = (lp.x.segment(0, n) - lp.x.segment(n, n)).transpose();
    worst = std::max(worst, lp.x(2 * n));
  }
  out.value = max_norm(out.W);
  out.lower_bound = worst;  // LP optimum of the worst row
  out.residual = (out.W * X - Y).norm();
  return out;
}

double spectral_interpolation_lower_bound(const Eigen::MatrixXd& X, const Eigen::MatrixXd& Y) {
  // max_v v'Y'Yv / v'X'Xv: with X'X = LL', the top eigenvalue of L^-1 Y'Y L^-T.
  const Eigen::MatrixXd G = X.transpose() * X;
  Eigen::LLT<Eigen::MatrixXd> llt(G);
  if (llt.info() != Eigen::Success) {
    throw std::invalid_argument("spectral lower bound needs X with full column rank");
  }
  const Eigen::MatrixXd Linv = llt.matrixL().solve(Eigen::MatrixXd::Identity(G.rows(), G.cols()));
  const Eigen::MatrixXd S = Linv * (Y.transpose() * Y) * Linv.transpose();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(0.5 * (S + S.transpose()),
                                                    Eigen::EigenvaluesOnly);
  return std::sqrt(std::max(0.0, es.eigenvalues().maxCoeff()));
}

MinNormResult min_spectral_norm_subgradient(const Eigen::MatrixXd& X, const Eigen::MatrixXd& Y,
                                            long iterations, unsigned long long seed) {
  const Eigen::Index n = X.rows(), m = Y.rows();
  if (Y.cols() != X.cols() || n < 1 || m < 1 || iterations < 1) {
    throw std::invalid_argument("min_spectral_norm_subgradient: X (n, k), Y (m, k), iterations>0");
  }
  // Affine projection onto {W : WX = Y}: W - (WX - Y) X^+ with X^+ = (X'X)^-1 X'.
  const Eigen::MatrixXd Xpinv = (X.transpose() * X).ldlt().solve(X.transpose());
  auto project = [&](const Eigen::MatrixXd& W) -> Eigen::MatrixXd {
    return W - (W * X - Y) * Xpinv;
  };
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0.0, 1.0);
  Eigen::MatrixXd W0(m, n);
  for (Eigen::Index j = 0; j < n; ++j)
    for (Eigen::Index i = 0; i < m; ++i) W0(i, j) = nd(rng);
  const double scale = (Y.norm() / std::max(X.norm(), 1e-300));
  W0 = project(scale * W0 / std::sqrt(static_cast<double>(m * n)));
  const double r_step = std::max((W0 - project(Eigen::MatrixXd::Zero(m, n))).norm(), 1e-12);

  MinNormResult out;
  Eigen::MatrixXd W = W0;
  out.W = W0;
  out.value = spectral_norm(W0);
  double sum_a = 0.0, sum_a2 = 0.0;
  for (long t = 0; t < iterations; ++t) {
    Eigen::JacobiSVD<Eigen::MatrixXd> svd(W, Eigen::ComputeThinU | Eigen::ComputeThinV);
    const double f = svd.singularValues()(0);
    if (f < out.value) {
      out.value = f;
      out.W = W;
    }
    const double a = r_step / std::sqrt(static_cast<double>(t) + 1.0);
    sum_a += a;
    sum_a2 += a * a;
    W = project(W - a * svd.matrixU().col(0) * svd.matrixV().col(0).transpose());
  }
  const double f_last = spectral_norm(W);
  if (f_last < out.value) {
    out.value = f_last;
    out.W = W;
  }
  out.iterations = iterations;
  const double r_star = W0.norm() + std::sqrt(static_cast<double>(std::min(m, n))) * out.value;
  const double guarantee = (r_star * r_star + sum_a2) / (2.0 * sum_a);
  out.lower_bound = std::max(out.value - guarantee, spectral_interpolation_lower_bound(X, Y));
  out.residual = (out.W * X - Y).norm();
  out.status = std::isfinite(out.value) ? SolverStatus::kConverged : SolverStatus::kNumericalIssue;
  return out;
}

Eigen::MatrixXd project_spectral_ball(const Eigen::MatrixXd& D, double rho) {
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(D, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const Eigen::VectorXd s = svd.singularValues().cwiseMin(rho);
  return svd.matrixU() * s.asDiagonal() * svd.matrixV().transpose();
}

BudgetResult budget_projected_gradient(const Eigen::VectorXd& r0, const Eigen::VectorXd& z,
                                       double rho, BudgetNorm norm, long iterations) {
  if (!(rho >= 0.0) || iterations < 1 || z.isZero(0.0)) {
    throw std::invalid_argument("budget_projected_gradient: rho >= 0, iterations >= 1, z != 0");
  }
  const Eigen::Index m = r0.size(), n = z.size();
  const double L = z.squaredNorm();
  Eigen::MatrixXd D = Eigen::MatrixXd::Zero(m, n);
  for (long t = 0; t < iterations; ++t) {
    D -= ((D * z - r0) / L) * z.transpose();
    if (norm == BudgetNorm::kMax) {
      D = D.cwiseMax(-rho).cwiseMin(rho);
    } else {
      D = project_spectral_ball(D, rho);
    }
  }
  BudgetResult out;
  out.Delta = D;
  out.value = 0.5 * (D * z - r0).squaredNorm();
  const double radius = norm == BudgetNorm::kMax
                            ? rho * std::sqrt(static_cast<double>(m * n))
                            : rho * std::sqrt(static_cast<double>(std::min(m, n)));
  out.guarantee = L * radius * radius / (2.0 * static_cast<double>(iterations));
  return out;
}

}  // namespace muft::theory
