#pragma once
/// \file min_norm.h
/// Independent numerical solvers for the optimality claims of arXiv 2605.10468 (Thm 3.1, 3.2,
/// Prop. D.4, D.5): minimum max-norm and minimum spectral-norm interpolants of WX = Y, and the
/// budgeted fine-tuning problems. None of them uses the closed forms.

#include <Eigen/Dense>

namespace muft::theory {

enum class SolverStatus { kConverged, kIterationLimit, kNumericalIssue };

/// Result of a numerical minimum-norm solve.
struct MinNormResult {
  SolverStatus status = SolverStatus::kConverged;
  double value = 0.0;        ///< norm of the returned feasible W (an upper bound on the minimum)
  double lower_bound = 0.0;  ///< certified lower bound on the minimum (value - lower_bound >= 0)
  double residual = 0.0;     ///< \f$\|WX - Y\|_F\f$ of the returned W
  Eigen::MatrixXd W;         ///< (m, n) best feasible point
  long iterations = 0;
};

/// \f$\min \|W\|_{\max}\f$ s.t. \f$WX = Y\f$, one LP per row
/// (\f$\min t\f$, \f$X^\top(w^+ - w^-) = y_i\f$, \f$w^+_j + w^-_j \le t\f$) solved by the simplex.
/// lower_bound = value (LP optimum). X (n, k), Y (m, k).
MinNormResult min_max_norm_lp(const Eigen::MatrixXd& X, const Eigen::MatrixXd& Y);

/// \f$\min\|W\|_2\f$ s.t. \f$WX = Y\f$ by projected subgradient from a random feasible start
/// (seeded), steps \f$\alpha_t = R/\sqrt{t+1}\f$. lower_bound: the best value minus the
/// classical guarantee \f$(R_*^2 + \sum\alpha_t^2)/(2\sum\alpha_t)\f$ with
/// \f$R_* \le \|W_0\|_F + \sqrt{\min(m,n)}\,f_{best}\f$ (subgradients \f$u_1v_1^\top\f$ have unit
/// Frobenius norm), raised to the generalized-eigenvalue certificate
/// \f$\max_v \|Yv\|/\|Xv\|\f$ when that is larger.
MinNormResult min_spectral_norm_subgradient(const Eigen::MatrixXd& X, const Eigen::MatrixXd& Y,
                                            long iterations, unsigned long long seed);

/// Certificate \f$\max_{v\ne0}\|Yv\|_2/\|Xv\|_2 \le \|W\|_2\f$ for every W with WX = Y
/// (generalized symmetric eigenproblem). Needs X of full column rank.
double spectral_interpolation_lower_bound(const Eigen::MatrixXd& X, const Eigen::MatrixXd& Y);

/// Which norm ball constrains the budgeted problem.
enum class BudgetNorm { kMax, kSpectral };

/// Result of projected gradient on a budgeted problem.
struct BudgetResult {
  double value = 0.0;      ///< objective at the last iterate (feasible)
  double guarantee = 0.0;  ///< \f$L R^2/(2T)\f$, L = \f$\|z\|^2\f$, R = radius bound of the ball
  Eigen::MatrixXd Delta;   ///< (m, n) last iterate
};

/// \f$\min_{\|\Delta\| \le \rho}\tfrac12\|\Delta z - r_0\|^2\f$ by projected gradient from 0
/// with step 1/L: projection = entry clipping (max norm) or singular-value clipping (spectral).
/// value - min <= guarantee (Beck & Teboulle bound for projected gradient).
BudgetResult budget_projected_gradient(const Eigen::VectorXd& r0, const Eigen::VectorXd& z,
                                       double rho, BudgetNorm norm, long iterations);

/// Euclidean projection of D onto \f$\{\|D\|_2 \le \rho\}\f$ (clip singular values).
Eigen::MatrixXd project_spectral_ball(const Eigen::MatrixXd& D, double rho);

}  // namespace muft::theory
