#include "muft/theory/closed_forms.h"

#include <algorithm>
#include <cmath>

#include "muft/theory/update_rules.h"

namespace muft::theory {

double max_norm(const Eigen::MatrixXd& W) {
  return W.size() == 0 ? 0.0 : W.cwiseAbs().maxCoeff();
}

double spectral_norm(const Eigen::MatrixXd& W) {
  if (W.size() == 0) return 0.0;
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(W);
  return svd.singularValues()(0);
}

double l0_norm(const Eigen::VectorXd& v) {
  return static_cast<double>((v.array() != 0.0).count());
}

Eigen::MatrixXd w_star_max(const Eigen::VectorXd& x, const Eigen::VectorXd& y) {
  return y * sign_matrix(x).transpose() / x.lpNorm<1>();
}

Eigen::MatrixXd w_star_2(const Eigen::VectorXd& x, const Eigen::VectorXd& y) {
  return y * x.transpose() / x.squaredNorm();
}

double min_max_norm_closed(const Eigen::VectorXd& x, const Eigen::VectorXd& y) {
  return y.lpNorm<Eigen::Infinity>() / x.lpNorm<1>();
}

double min_spectral_norm_closed(const Eigen::VectorXd& x, const Eigen::VectorXd& y) {
  return y.norm() / x.norm();
}

Eigen::MatrixXd continuation_sign(const Eigen::MatrixXd& W0, const Eigen::VectorXd& z,
                                  const Eigen::VectorXd& b) {
  return W0 + w_star_max(z, b - W0 * z);
}

Eigen::MatrixXd continuation_muon(const Eigen::MatrixXd& W0, const Eigen::VectorXd& z,
                                  const Eigen::VectorXd& b) {
  return W0 + w_star_2(z, b - W0 * z);
}

double budget_loss_max(const Eigen::VectorXd& r0, const Eigen::VectorXd& z, double rho) {
  const double reach = rho * z.lpNorm<1>();
  double s = 0.0;
  for (Eigen::Index i = 0; i < r0.size(); ++i) {
    const double gap = std::max(0.0, std::abs(r0(i)) - reach);
    s += gap * gap;
  }
  return 0.5 * s;
}

double budget_loss_spectral(const Eigen::VectorXd& r0, const Eigen::VectorXd& z, double rho) {
  const double gap = std::max(0.0, r0.norm() - rho * z.norm());
  return 0.5 * gap * gap;
}

Thresholds thresholds(const Eigen::VectorXd& r0, const Eigen::VectorXd& z) {
  Thresholds t{};
  const double r_inf = r0.lpNorm<Eigen::Infinity>();
  t.rho_adam = r_inf / z.lpNorm<1>();
  t.rho_muon = r0.norm() / z.norm();
  t.rho_muon_in_max = r_inf * z.lpNorm<Eigen::Infinity>() / z.squaredNorm();
  t.rho_sign_in_2 = std::sqrt(l0_norm(z)) * r0.norm() / z.lpNorm<1>();
  return t;
}

double old_task_loss(const Eigen::MatrixXd& Delta, const Eigen::VectorXd& x) {
  return 0.5 * (Delta * x).squaredNorm();
}

double damage_bound_max(const Eigen::MatrixXd& Delta, const Eigen::VectorXd& x) {
  const double mx = max_norm(Delta) * x.lpNorm<1>();
  return 0.5 * static_cast<double>(Delta.rows()) * mx * mx;
}

double damage_bound_spectral(const Eigen::MatrixXd& Delta, const Eigen::VectorXd& x) {
  const double s = spectral_norm(Delta) * x.norm();
  return 0.5 * s * s;
}

double lora_inflation_max(const Eigen::VectorXd& u) {
  return u.lpNorm<1>() * u.lpNorm<Eigen::Infinity>() / u.squaredNorm();
}

double lora_inflation_spectral(const Eigen::VectorXd& u) {
  return std::sqrt(l0_norm(u)) * u.norm() / u.lpNorm<1>();
}

double lora_old_loss_sign(const Eigen::VectorXd& r0, const Eigen::VectorXd& u,
                          const Eigen::VectorXd& Ax) {
  const double ip = sign_matrix(u).col(0).dot(Ax);
  const double l1 = u.lpNorm<1>();
  return 0.5 * r0.squaredNorm() * ip * ip / (l1 * l1);
}

double lora_old_loss_muon(const Eigen::VectorXd& r0, const Eigen::VectorXd& u,
                          const Eigen::VectorXd& Ax) {
  const double ip = u.dot(Ax);
  const double u2 = u.squaredNorm();
  return 0.5 * r0.squaredNorm() * ip * ip / (u2 * u2);
}

}  // namespace muft::theory
