#include "muft/theory/simplex.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

namespace muft::theory {
namespace {

constexpr double kPivotTol = 1e-11;

struct Tableau {
  Eigen::MatrixXd T;  // (rows + 1, cols + 1); last row objective, last column rhs
  std::vector<Eigen::Index> basis;
  Eigen::Index rows() const { return T.rows() - 1; }
  Eigen::Index cols() const { return T.cols() - 1; }

  void pivot(Eigen::Index r, Eigen::Index c) {
    T.row(r) /= T(r, c);
    for (Eigen::Index i = 0; i < T.rows(); ++i) {
      if (i != r && T(i, c) != 0.0) T.row(i) -= T(i, c) * T.row(r);
    }
    basis[static_cast<std::size_t>(r)] = c;
  }

  // Minimizes the objective row over columns < allowed; Bland's rule.
  LpStatus run(Eigen::Index allowed, long max_pivots, long* pivots) {
    const Eigen::Index rhs = cols();
    while (*pivots < max_pivots) {
      Eigen::Index enter = -1;
      for (Eigen::Index j = 0; j < allowed; ++j) {
        if (T(rows(), j) < -kPivotTol) {
          enter = j;
          break;
        }
      }
      if (enter < 0) return LpStatus::kOptimal;
      Eigen::Index leave = -1;
      double best = std::numeric_limits<double>::infinity();
      for (Eigen::Index i = 0; i < rows(); ++i) {
        if (T(i, enter) > kPivotTol) {
          const double ratio = T(i, rhs) / T(i, enter);
          if (ratio < best - 1e-14 ||
              (ratio <= best + 1e-14 && leave >= 0 &&
               basis[static_cast<std::size_t>(i)] < basis[static_cast<std::size_t>(leave)])) {
            best = std::min(best, ratio);
            leave = i;
          }
        }
      }
      if (leave < 0) return LpStatus::kUnbounded;
      pivot(leave, enter);
      ++*pivots;
    }
    return LpStatus::kIterationLimit;
  }
};

}  // namespace

LpResult solve_standard_lp(const Eigen::VectorXd& c, const Eigen::MatrixXd& A,
                           const Eigen::VectorXd& b, long max_pivots) {
  const Eigen::Index m = A.rows(), n = A.cols();
  if (c.size() != n || b.size() != m) {
    throw std::invalid_argument("solve_standard_lp: c must have A.cols() and b A.rows() entries");
  }
  LpResult out;
  Tableau tab;
  tab.T = Eigen::MatrixXd::Zero(m + 1, n + m + 1);
  tab.basis.resize(static_cast<std::size_t>(m));
  for (Eigen::Index i = 0; i < m; ++i) {
    const double s = b(i) < 0.0 ? -1.0 : 1.0;  // artificial basis needs b >= 0
    tab.T.block(i, 0, 1, n) = s * A.row(i);
    tab.T(i, n + i) = 1.0;
    tab.T(i, n + m) = s * b(i);
    tab.basis[static_cast<std::size_t>(i)] = n + i;
  }
  // Phase I: minimize the sum of artificials; reduced costs = -(sum of rows) on real columns.
  for (Eigen::Index i = 0; i < m; ++i) {
    tab.T.block(m, 0, 1, n) -= tab.T.block(i, 0, 1, n);
    tab.T(m, n + m) -= tab.T(i, n + m);
  }
  LpStatus st = tab.run(n, max_pivots, &out.pivots);
  if (st == LpStatus::kIterationLimit) {
    out.status = st;
    return out;
  }
  const double scale = 1.0 + b.cwiseAbs().sum();
  if (-tab.T(m, n + m) > 1e-9 * scale) {
    out.status = LpStatus::kInfeasible;
    return out;
  }
  // Drive remaining (zero-valued) artificials out of the basis where possible.
  for (Eigen::Index i = 0; i < m; ++i) {
    if (tab.basis[static_cast<std::size_t>(i)] >= n) {
      for (Eigen::Index j = 0; j < n; ++j) {
        if (std::abs(tab.T(i, j)) > 1e-9) {
          tab.pivot(i, j);
          break;
        }
      }
    }
  }
  // Phase II objective row: c_j - c_B^T B^-1 A_j.
  tab.T.row(m).setZero();
  tab.T.block(m, 0, 1, n) = c.transpose();
  for (Eigen::Index i = 0; i < m; ++i) {
    const Eigen::Index bj = tab.basis[static_cast<std::size_t>(i)];
    if (bj < n && c(bj) != 0.0) tab.T.row(m) -= c(bj) * tab.T.row(i);
  }
  st = tab.run(n, max_pivots, &out.pivots);
  out.status = st;
  if (st != LpStatus::kOptimal) return out;
  out.x = Eigen::VectorXd::Zero(n);
  for (Eigen::Index i = 0; i < m; ++i) {
    const Eigen::Index bj = tab.basis[static_cast<std::size_t>(i)];
    if (bj < n) out.x(bj) = tab.T(i, n + m);
  }
  out.objective = c.dot(out.x);
  return out;
}

}  // namespace muft::theory
