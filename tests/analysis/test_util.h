#pragma once
/// \file test_util.h
/// Matrices with a constructed spectrum for the analysis tests.

#include <cstdint>
#include <random>

#include <Eigen/Core>
#include <Eigen/QR>

namespace muft::analysis::testing {

/// A random orthogonal-columns matrix (rows, cols), rows >= cols, from QR of a Gaussian one.
inline Eigen::MatrixXd random_orthonormal(int64_t rows, int64_t cols, std::mt19937_64& rng) {
  std::normal_distribution<double> g(0.0, 1.0);
  Eigen::MatrixXd A(rows, cols);
  for (Eigen::Index j = 0; j < A.cols(); ++j)
    for (Eigen::Index i = 0; i < A.rows(); ++i) A(i, j) = g(rng);
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(A);
  return qr.householderQ() * Eigen::MatrixXd::Identity(rows, cols);
}

/// W = U diag(s) Vᵀ with random orthonormal U (rows, r), V (cols, r), r = s.size().
inline Eigen::MatrixXd with_spectrum(int64_t rows, int64_t cols, const Eigen::VectorXd& s,
                                     uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Eigen::MatrixXd U = random_orthonormal(rows, s.size(), rng);
  const Eigen::MatrixXd V = random_orthonormal(cols, s.size(), rng);
  return U * s.asDiagonal() * V.transpose();
}

/// The row-major buffer of W.
inline Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> row_major(
    const Eigen::MatrixXd& W) {
  return W;
}

}  // namespace muft::analysis::testing
