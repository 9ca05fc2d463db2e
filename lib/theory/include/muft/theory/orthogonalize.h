#pragma once
/// \file orthogonalize.h
/// Orthogonalization maps used by Muon: exact polar factor, Newton–Schulz (NS5) and Polar
/// Express (arXiv 2605.10468, App. B and D.2).

#include <Eigen/Dense>

#include <array>
#include <vector>

namespace muft::theory {

/// Newton–Schulz quintic of Jordan et al.: (a, b, c) = (3.4445, -4.7750, 2.0315).
inline constexpr std::array<double, 3> kNs5Coefficients{3.4445, -4.7750, 2.0315};

/// \f$\mathrm{ortho}(G) = U V^\top\f$ from the compact SVD \f$G = U\Sigma V^\top\f$, keeping
/// singular values \f$\sigma_i > \max(m,n)\,\epsilon\,\sigma_1\f$; \f$\mathrm{ortho}(0) = 0\f$.
/// G: (m, n).
Eigen::MatrixXd ortho_exact(const Eigen::MatrixXd& G);

/// Odd-quintic iteration \f$X \leftarrow aX + (bA + cA^2)X\f$, \f$A = XX^\top\f$, applied with
/// the given coefficient triples (one per step; the last triple repeats when steps exceed the
/// list). Input normalized as \f$X_0 = G/(\text{scale}\,\|G\|_F + 10^{-7})\f$ and transposed
/// when rows > cols, as in the reference Muon. G: (m, n).
Eigen::MatrixXd quintic_orthogonalize(const Eigen::MatrixXd& G,
                                      const std::vector<std::array<double, 3>>& coeffs, int steps,
                                      double frobenius_scale);

/// NS5: quintic_orthogonalize with kNs5Coefficients, scale 1 (\f$\|G\|_F + 10^{-7}\f$).
Eigen::MatrixXd newton_schulz5(const Eigen::MatrixXd& G, int steps = 5);

/// Polar Express: the first `steps` triples of `coeffs`, normalization
/// \f$1.1\|G\|_F + 10^{-7}\f$.
Eigen::MatrixXd polar_express_orthogonalize(const Eigen::MatrixXd& G,
                                            const std::vector<std::array<double, 3>>& coeffs,
                                            int steps = 5);

}  // namespace muft::theory
