#pragma once
/// \file spectrum.h
/// Singular-value kernels on a row-major matrix held as float or double.
///
/// Three algorithms, chosen for speed at a stated accuracy (docs/analyzer.md):
///  - gram_singular_values: eigenvalues of the smaller Gram matrix (W Wᵀ or WᵀW), accumulated in
///    double with BLAS-3 (dsyrk) and solved with LAPACK dsyev_2stage (eigenvalues only). σᵢ² is
///    accurate to about k·ε·σ₁² absolutely (k = max(m, n)), i.e. σᵢ² below ~1e-8·σ₁² is rounding
///    noise; the sums Σσᵢ² and Σσᵢ² log σᵢ² that stable rank and entropy need are accurate to
///    ~1e-12.
///  - exact_singular_values: bidiagonal SVD (LAPACK dgesdd, Eigen BDCSVD without OpenBLAS),
///    accurate to ~ε·σ₁ absolutely for every σᵢ.
///  - top_singular_value: σ₁ only, by Lanczos (Spectra SymEigsSolver) on the smaller Gram
///    operator, never forming it.

#include <cstdint>
#include <string>

#include <Eigen/Core>

namespace muft::analysis {

/// Outcome of an iterative kernel (Spectra style): numerical outcomes are results, not throws.
enum class KernelStatus { Successful, NotConverging, NumericalIssue };

/// Eigenvalues of the smaller Gram matrix of the row-major (rows, cols) matrix `data`, i.e. the
/// squared singular values σᵢ², in descending order, clamped at 0, min(rows, cols) of them.
/// float input is widened to double block by block, so the extra memory is the k×k Gram
/// matrix plus a block of at most ~16 MiB.
template <class T>
Eigen::VectorXd gram_squared_singular_values(const T* data, int64_t rows, int64_t cols);

/// Singular values σᵢ (descending) through the Gram matrix: sqrt of gram_squared_singular_values.
template <class T>
Eigen::VectorXd gram_singular_values(const T* data, int64_t rows, int64_t cols);

/// Singular values σᵢ (descending) by a bidiagonal SVD of a double copy of the matrix.
/// Throws std::runtime_error if LAPACK reports a failure to converge.
template <class T>
Eigen::VectorXd exact_singular_values(const T* data, int64_t rows, int64_t cols);

/// Options of the Lanczos σ₁ solver.
struct LanczosOptions {
  int ncv = 20;               ///< Krylov subspace size (clamped to min(rows, cols))
  int max_iterations = 1000;  ///< restarts
  double tolerance = 1e-13;   ///< relative tolerance on λ₁ = σ₁²
  /// True when the options make sense; otherwise writes why into *error.
  bool IsValid(std::string* error) const;
};

/// σ₁ = ‖W‖₂ by Lanczos on the smaller Gram operator. `status` (may be null) receives
/// NotConverging when Spectra did not converge (the best estimate is still returned).
template <class T>
double top_singular_value(const T* data, int64_t rows, int64_t cols, const LanczosOptions& opts,
                          KernelStatus* status);

/// Name of the linear-algebra backend compiled in ("OpenBLAS" or "Eigen").
const char* linalg_backend();

/// Sets the number of threads OpenBLAS may use (no-op without OpenBLAS). Call it only while no
/// BLAS routine is running; the batch runner uses 1 while several tensors run in parallel.
void set_blas_threads(int n);

}  // namespace muft::analysis
