#pragma once
/// \file closed_forms.h
/// Norms and every closed-form statement of arXiv 2605.10468 Sec. 3.1 and App. D
/// (Theorems 3.1/3.2 = D.2/D.3, Propositions D.4, D.5, D.8, Corollaries D.6, D.7).

#include <Eigen/Dense>

namespace muft::theory {

/// \f$\|W\|_{\max} = \max_{ij}|W_{ij}|\f$.
double max_norm(const Eigen::MatrixXd& W);
/// \f$\|W\|_2 = \sigma_{\max}(W)\f$ (SVD).
double spectral_norm(const Eigen::MatrixXd& W);
/// Number of nonzero entries \f$\|v\|_0\f$.
double l0_norm(const Eigen::VectorXd& v);

/// Thm 3.1 / D.2: \f$W^*_{\max} = y\,\mathrm{sign}(x)^\top/\|x\|_1\f$. x (n), y (m).
Eigen::MatrixXd w_star_max(const Eigen::VectorXd& x, const Eigen::VectorXd& y);
/// Thm 3.2 / D.3: \f$W^*_2 = y x^\top/\|x\|_2^2\f$.
Eigen::MatrixXd w_star_2(const Eigen::VectorXd& x, const Eigen::VectorXd& y);
/// \f$\|y\|_\infty/\|x\|_1\f$: claimed minimum max-norm over \f$\{W : Wx = y\}\f$.
double min_max_norm_closed(const Eigen::VectorXd& x, const Eigen::VectorXd& y);
/// \f$\|y\|_2/\|x\|_2\f$: claimed minimum spectral norm over \f$\{W : Wx = y\}\f$.
double min_spectral_norm_closed(const Eigen::VectorXd& x, const Eigen::VectorXd& y);

/// Prop. D.4: SignGD limit from W0, \f$W_0 + r_0\,\mathrm{sign}(z)^\top/\|z\|_1\f$.
Eigen::MatrixXd continuation_sign(const Eigen::MatrixXd& W0, const Eigen::VectorXd& z,
                                  const Eigen::VectorXd& b);
/// Prop. D.4: Muon limit from W0, \f$W_0 + r_0 z^\top/\|z\|_2^2\f$.
Eigen::MatrixXd continuation_muon(const Eigen::MatrixXd& W0, const Eigen::VectorXd& z,
                                  const Eigen::VectorXd& b);

/// Prop. D.5: \f$\mathcal E_{\max}(\rho) = \tfrac12\sum_i(|r_{0,i}| - \rho\|z\|_1)_+^2\f$.
double budget_loss_max(const Eigen::VectorXd& r0, const Eigen::VectorXd& z, double rho);
/// Prop. D.5: \f$\mathcal E_2(\rho) = \tfrac12(\|r_0\|_2 - \rho\|z\|_2)_+^2\f$.
double budget_loss_spectral(const Eigen::VectorXd& r0, const Eigen::VectorXd& z, double rho);

/// Exact-fit budgets of Prop. D.5 / Cor. D.6.
struct Thresholds {
  double rho_adam;         ///< \f$\rho^*_A = \|r_0\|_\infty/\|z\|_1\f$
  double rho_muon;         ///< \f$\rho^*_\mu = \|r_0\|_2/\|z\|_2\f$
  double rho_muon_in_max;  ///< \f$\tilde\rho_{\mu|\max} = \|r_0\|_\infty\|z\|_\infty/\|z\|_2^2\f$
  double rho_sign_in_2;    ///< \f$\tilde\rho_{s|2} = \sqrt{\|z\|_0}\,\|r_0\|_2/\|z\|_1\f$
};
Thresholds thresholds(const Eigen::VectorXd& r0, const Eigen::VectorXd& z);

/// Cor. D.7: \f$L_{old}(W_0+\Delta) = \tfrac12\|\Delta x\|^2\f$ (when \f$W_0x = y\f$).
double old_task_loss(const Eigen::MatrixXd& Delta, const Eigen::VectorXd& x);
/// Cor. D.7: \f$\tfrac m2\|\Delta\|_{\max}^2\|x\|_1^2\f$.
double damage_bound_max(const Eigen::MatrixXd& Delta, const Eigen::VectorXd& x);
/// Cor. D.7: \f$\tfrac12\|\Delta\|_2^2\|x\|_2^2\f$.
double damage_bound_spectral(const Eigen::MatrixXd& Delta, const Eigen::VectorXd& x);

/// Prop. D.8 max-geometry inflation \f$\|u\|_1\|u\|_\infty/\|u\|_2^2\f$ (\f$\le \|u\|_0 \le r\f$).
double lora_inflation_max(const Eigen::VectorXd& u);
/// Prop. D.8 spectral inflation \f$\sqrt{\|u\|_0}\|u\|_2/\|u\|_1\f$ (\f$\le\sqrt{\|u\|_0}\le
/// \sqrt r\f$).
double lora_inflation_spectral(const Eigen::VectorXd& u);
/// Prop. D.8: \f$L_{old}(W_0 + B^*_sA) = \tfrac12\|r_0\|^2\langle\mathrm{sign}(u),
/// Ax\rangle^2/\|u\|_1^2\f$.
double lora_old_loss_sign(const Eigen::VectorXd& r0, const Eigen::VectorXd& u,
                          const Eigen::VectorXd& Ax);
/// Prop. D.8: \f$L_{old}(W_0 + B^*_\mu A) = \tfrac12\|r_0\|^2\langle u, Ax\rangle^2/\|u\|_2^4\f$.
double lora_old_loss_muon(const Eigen::VectorXd& r0, const Eigen::VectorXd& u,
                          const Eigen::VectorXd& Ax);

}  // namespace muft::theory
