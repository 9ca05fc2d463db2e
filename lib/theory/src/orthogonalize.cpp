#include "muft/theory/orthogonalize.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace muft::theory {

Eigen::MatrixXd ortho_exact(const Eigen::MatrixXd& G) {
  Eigen::MatrixXd out = Eigen::MatrixXd::Zero(G.rows(), G.cols());
  if (G.size() == 0) return out;
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(G, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const Eigen::VectorXd& s = svd.singularValues();
  if (s.size() == 0 || s(0) == 0.0) return out;  // ortho(0) = 0
  const double tol = static_cast<double>(std::max(G.rows(), G.cols())) *
                     std::numeric_limits<double>::epsilon() * s(0);
  Eigen::Index rank = 0;
  while (rank < s.size() && s(rank) > tol) ++rank;
  out.noalias() = svd.matrixU().leftCols(rank) * svd.matrixV().leftCols(rank).transpose();
  return out;
}

Eigen::MatrixXd quintic_orthogonalize(const Eigen::MatrixXd& G,
                                      const std::vector<std::array<double, 3>>& coeffs, int steps,
                                      double frobenius_scale) {
  if (coeffs.empty() && steps > 0) {
    throw std::invalid_argument("quintic_orthogonalize needs at least one coefficient triple");
  }
  if (steps < 0) throw std::invalid_argument("quintic_orthogonalize: steps must be >= 0");
  const bool transposed = G.rows() > G.cols();
  Eigen::MatrixXd X = transposed ? Eigen::MatrixXd(G.transpose()) : G;
  X /= frobenius_scale * X.norm() + 1e-7;
  Eigen::MatrixXd A, B;
  for (int k = 0; k < steps; ++k) {
    const auto& abc = coeffs[std::min<std::size_t>(static_cast<std::size_t>(k), coeffs.size() - 1)];
    A.noalias() = X * X.transpose();
    B = abc[1] * A;
    B.noalias() += abc[2] * (A * A);
    X = abc[0] * X + B * X;
  }
  if (transposed) return X.transpose();
  return X;
}

Eigen::MatrixXd newton_schulz5(const Eigen::MatrixXd& G, int steps) {
  static const std::vector<std::array<double, 3>> kNs5{kNs5Coefficients};
  return quintic_orthogonalize(G, kNs5, steps, 1.0);
}

Eigen::MatrixXd polar_express_orthogonalize(const Eigen::MatrixXd& G,
                                            const std::vector<std::array<double, 3>>& coeffs,
                                            int steps) {
  if (steps > static_cast<int>(coeffs.size())) {
    throw std::invalid_argument("Polar Express: asked for more steps than generated triples");
  }
  return quintic_orthogonalize(G, coeffs, steps, 1.1);
}

}  // namespace muft::theory
