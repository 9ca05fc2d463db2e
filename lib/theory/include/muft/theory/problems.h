#pragma once
/// \file problems.h
/// Toy problems of arXiv 2605.10468 App. D: underdetermined regression, fine-tuning from a
/// pretrained W0, and the fixed-subspace LoRA surrogate; plus a seeded instance sampler.

#include <Eigen/Dense>

#include <random>
#include <utility>
#include <vector>

namespace muft::theory {

/// \f$L(W) = \tfrac12\|WX - Y\|_F^2\f$ with k samples as columns; k = 1 is the single-sample
/// problem \f$\tfrac12\|Wx - y\|^2\f$.
struct Regression {
  Eigen::MatrixXd X;  ///< (n, k) inputs
  Eigen::MatrixXd Y;  ///< (m, k) targets

  Eigen::Index rows() const { return Y.rows(); }  ///< m
  Eigen::Index cols() const { return X.rows(); }  ///< n
  double loss(const Eigen::MatrixXd& W) const;
  /// \f$\nabla L = (WX - Y)X^\top\f$, (m, n).
  Eigen::MatrixXd gradient(const Eigen::MatrixXd& W) const;
  /// Throws std::invalid_argument on empty sizes, mismatched k, X = 0 or non-finite data.
  void validate() const;
  static Regression single(const Eigen::VectorXd& x, const Eigen::VectorXd& y);
};

/// Fine-tuning a pretrained W0 on (z, b); the old task (x, y) has W0 x = y.
struct FineTune {
  Eigen::MatrixXd W0;  ///< (m, n) pretrained weight
  Eigen::VectorXd x;   ///< (n) old input
  Eigen::VectorXd y;   ///< (m) old target, = W0 x
  Eigen::VectorXd z;   ///< (n) new input, nonzero
  Eigen::VectorXd b;   ///< (m) new target

  /// \f$r_0 = b - W_0 z\f$.
  Eigen::VectorXd r0() const { return b - W0 * z; }
  /// Fine-tuning loss \f$\tfrac12\|Wz - b\|^2\f$ as a regression in W.
  Regression new_task() const { return Regression::single(z, b); }
  /// \f$L_{old}(W) = \tfrac12\|Wx - y\|^2\f$.
  double old_loss(const Eigen::MatrixXd& W) const { return 0.5 * (W * x - y).squaredNorm(); }
  void validate() const;
};

/// Fixed-subspace LoRA surrogate \f$W = W_0 + BA\f$, A (r, n) fixed, B (m, r) trained from 0.
struct LoraSurrogate {
  FineTune ft;
  Eigen::MatrixXd A;  ///< (r, n)

  /// \f$u = Az\f$, (r).
  Eigen::VectorXd u() const { return A * ft.z; }
  /// Adapter loss \f$\tfrac12\|Bu - r_0\|^2\f$ as a regression in B.
  Regression adapter_task() const { return Regression::single(u(), ft.r0()); }
  /// Throws when u = 0 or shapes disagree.
  void validate() const;
};

/// How the fixed LoRA factor A is drawn.
enum class LoraInit { kGaussian, kSparse, kIdentity };

/// Seeded generator of random instances over a cycle of shapes.
class InstanceSampler {
 public:
  explicit InstanceSampler(unsigned long long seed) : rng_(seed) {}
  /// Shapes (m, n) cycled by instance index: includes m > n, m < n, m = 1, n = 1.
  static const std::vector<std::pair<int, int>>& shapes();
  std::pair<int, int> shape(int instance) const;
  /// Standard Gaussian vector; with `zeros`, a random subset of entries (never all) set to 0.
  Eigen::VectorXd gaussian(Eigen::Index n, bool zeros = false);
  Eigen::MatrixXd gaussian_matrix(Eigen::Index rows, Eigen::Index cols);
  double uniform(double lo, double hi);
  int uniform_int(int lo, int hi);  ///< inclusive
  /// Pretrained W0 (Gaussian), old task y = W0 x, new example (z, b).
  FineTune fine_tune(int m, int n, bool zeros = false);
  /// A (r, n): Gaussian / 0-1 sparse (density 0.3, Az != 0 enforced) / identity (r = n).
  Eigen::MatrixXd lora_factor(LoraInit init, int r, int n, const Eigen::VectorXd& z);
  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

}  // namespace muft::theory
