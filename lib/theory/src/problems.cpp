#include "muft/theory/problems.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace muft::theory {

double Regression::loss(const Eigen::MatrixXd& W) const {
  return 0.5 * (W * X - Y).squaredNorm();
}

Eigen::MatrixXd Regression::gradient(const Eigen::MatrixXd& W) const {
  return (W * X - Y) * X.transpose();
}

void Regression::validate() const {
  if (X.rows() < 1 || X.cols() < 1 || Y.rows() < 1) {
    throw std::invalid_argument(
        "regression needs n >= 1, m >= 1 and k >= 1 samples, got n=" + std::to_string(X.rows()) +
        " m=" + std::to_string(Y.rows()) + " k=" + std::to_string(X.cols()));
  }
  if (X.cols() != Y.cols()) {
    throw std::invalid_argument("X has " + std::to_string(X.cols()) + " samples but Y has " +
                                std::to_string(Y.cols()));
  }
  if (!X.allFinite() || !Y.allFinite()) {
    throw std::invalid_argument("regression data must be finite");
  }
  if (X.isZero(0.0)) throw std::invalid_argument("input x must be nonzero");
}

Regression Regression::single(const Eigen::VectorXd& x, const Eigen::VectorXd& y) {
  Regression r;
  r.X = x;
  r.Y = y;
  return r;
}

void FineTune::validate() const {
  if (W0.rows() != y.size() || W0.cols() != x.size() || W0.cols() != z.size() ||
      W0.rows() != b.size() || W0.size() == 0) {
    throw std::invalid_argument(
        "fine-tuning instance: W0 must be (m, n) with x, z in R^n and "
        "y, b in R^m");
  }
  if (z.isZero(0.0)) throw std::invalid_argument("fine-tuning input z must be nonzero");
}

void LoraSurrogate::validate() const {
  ft.validate();
  if (A.cols() != ft.z.size() || A.rows() < 1) {
    throw std::invalid_argument("LoRA factor A must be (r, n) with r >= 1");
  }
  if (u().isZero(0.0)) throw std::invalid_argument("LoRA surrogate needs u = A z != 0");
}

const std::vector<std::pair<int, int>>& InstanceSampler::shapes() {
  static const std::vector<std::pair<int, int>> kShapes{{4, 7}, {7, 4}, {1, 6},  {6, 1},
                                                        {1, 1}, {5, 5}, {12, 9}, {9, 12}};
  return kShapes;
}

std::pair<int, int> InstanceSampler::shape(int instance) const {
  return shapes()[static_cast<std::size_t>(instance) % shapes().size()];
}

Eigen::VectorXd InstanceSampler::gaussian(Eigen::Index n, bool zeros) {
  std::normal_distribution<double> nd(0.0, 1.0);
  Eigen::VectorXd v(n);
  for (Eigen::Index i = 0; i < n; ++i) v(i) = nd(rng_);
  if (zeros && n > 1) {
    std::bernoulli_distribution coin(0.3);
    for (Eigen::Index i = 0; i < n; ++i) {
      if (coin(rng_)) v(i) = 0.0;
    }
    if (v.isZero(0.0)) v(0) = nd(rng_) + 1.0;
  }
  return v;
}

Eigen::MatrixXd InstanceSampler::gaussian_matrix(Eigen::Index rows, Eigen::Index cols) {
  std::normal_distribution<double> nd(0.0, 1.0);
  Eigen::MatrixXd M(rows, cols);
  for (Eigen::Index j = 0; j < cols; ++j) {
    for (Eigen::Index i = 0; i < rows; ++i) M(i, j) = nd(rng_);
  }
  return M;
}

double InstanceSampler::uniform(double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(rng_);
}

int InstanceSampler::uniform_int(int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng_);
}

FineTune InstanceSampler::fine_tune(int m, int n, bool zeros) {
  FineTune f;
  f.W0 = gaussian_matrix(m, n) / std::sqrt(static_cast<double>(n));
  f.x = gaussian(n);
  f.y = f.W0 * f.x;
  f.z = gaussian(n, zeros);
  f.b = gaussian(m);
  return f;
}

Eigen::MatrixXd InstanceSampler::lora_factor(LoraInit init, int r, int n,
                                             const Eigen::VectorXd& z) {
  switch (init) {
    case LoraInit::kIdentity:
      if (r != n) throw std::invalid_argument("LoRA factor A = I needs r = n");
      return Eigen::MatrixXd::Identity(n, n);
    case LoraInit::kGaussian: {
      Eigen::MatrixXd A = gaussian_matrix(r, n) / std::sqrt(static_cast<double>(n));
      if ((A * z).isZero(0.0)) A(0, 0) += 1.0;
      return A;
    }
    case LoraInit::kSparse: {
      std::bernoulli_distribution coin(0.3);
      Eigen::MatrixXd A = Eigen::MatrixXd::Zero(r, n);
      for (int i = 0; i < r; ++i) {
        for (int j = 0; j < n; ++j) A(i, j) = coin(rng_) ? 1.0 : 0.0;
      }
      // Guarantee u = A z != 0 with a hit on a nonzero entry of z.
      Eigen::Index j = 0;
      z.cwiseAbs().maxCoeff(&j);
      if ((A * z).isZero(0.0)) A(0, j) = 1.0;
      return A;
    }
  }
  throw std::invalid_argument("unknown LoRA init");
}

}  // namespace muft::theory
