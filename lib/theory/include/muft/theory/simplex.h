#pragma once
/// \file simplex.h
/// A small dense two-phase simplex (Bland's rule) used as an independent numerical solver for
/// the minimum max-norm problems; exact up to rounding on the small LPs of the checks.

#include <Eigen/Dense>

namespace muft::theory {

enum class LpStatus { kOptimal, kInfeasible, kUnbounded, kIterationLimit };

struct LpResult {
  LpStatus status = LpStatus::kIterationLimit;
  double objective = 0.0;  ///< \f$c^\top x\f$ at the returned point
  Eigen::VectorXd x;       ///< (n) optimal vertex when kOptimal
  long pivots = 0;
};

/// \f$\min c^\top x\f$ s.t. \f$Ax = b\f$, \f$x \ge 0\f$. A (rows, n), b (rows), c (n).
/// Throws std::invalid_argument on mismatched sizes.
LpResult solve_standard_lp(const Eigen::VectorXd& c, const Eigen::MatrixXd& A,
                           const Eigen::VectorXd& b, long max_pivots = 100000);

}  // namespace muft::theory
