/// \file spectrum.cpp
/// Singular-value kernels: Gram eigenvalues (dsyrk + dsyev_2stage), bidiagonal SVD (dgesdd or Eigen
/// BDCSVD), and σ₁ by Lanczos (Spectra). Row-major input (rows, cols) is viewed without copying
/// as its col-major transpose X = Wᵀ (cols, rows); both have the same singular values.

#include "muft/analysis/spectrum.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <Spectra/SymEigsSolver.h>
#include <Eigen/Eigenvalues>
#include <Eigen/SVD>

#ifdef MUFT_ANALYSIS_HAVE_OPENBLAS
#include <cblas.h>
extern "C" {
// LAPACK (Fortran, 32-bit integers as in Debian's OpenBLAS; trailing hidden string lengths).
// Eigenvalues only: the two-stage reduction (dense -> band by BLAS-3, band -> tridiagonal) then
// dsterf. Measured 2.4x faster than dsyevd for n = 4096 on this project's 2-core machine.
void dsyev_2stage_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda,
                   double* w, double* work, const int* lwork, int* info, std::size_t, std::size_t);
void dgesdd_(const char* jobz, const int* m, const int* n, double* a, const int* lda, double* s,
             double* u, const int* ldu, double* vt, const int* ldvt, double* work, const int* lwork,
             int* iwork, int* info, std::size_t);
}
#endif

namespace muft::analysis {
namespace {

/// Elements per widened block: 2^21 doubles = 16 MiB.
constexpr int64_t kBlockElements = int64_t{1} << 21;

void check_shape(int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) {
    throw std::invalid_argument("singular values need a non-empty matrix, got " +
                                std::to_string(rows) + "x" + std::to_string(cols));
  }
  if (rows > INT32_MAX || cols > INT32_MAX) {
    throw std::invalid_argument("matrix dimension over 2^31-1 is not supported by LAPACK");
  }
}

/// G (k×k, lower triangle valid) += A Aᵀ (trans = false, A is k×b col-major) or
/// AᵀA (trans = true, A is b×k col-major).
void syrk_lower(Eigen::MatrixXd& G, const double* a, int64_t k, int64_t b, bool trans) {
#ifdef MUFT_ANALYSIS_HAVE_OPENBLAS
  cblas_dsyrk(CblasColMajor, CblasLower, trans ? CblasTrans : CblasNoTrans, static_cast<int>(k),
              static_cast<int>(b), 1.0, a, static_cast<int>(trans ? b : k), 1.0, G.data(),
              static_cast<int>(k));
#else
  if (trans) {
    Eigen::Map<const Eigen::MatrixXd> A(a, b, k);
    G.selfadjointView<Eigen::Lower>().rankUpdate(A.transpose());
  } else {
    Eigen::Map<const Eigen::MatrixXd> A(a, k, b);
    G.selfadjointView<Eigen::Lower>().rankUpdate(A);
  }
#endif
}

/// Eigenvalues of the symmetric matrix whose lower triangle G holds (G is destroyed).
Eigen::VectorXd symmetric_eigenvalues(Eigen::MatrixXd& G) {
#ifdef MUFT_ANALYSIS_HAVE_OPENBLAS
  const int n = static_cast<int>(G.rows());
  // The two-stage reduction gains nothing from OpenBLAS threads (measured at n = 4096: 3.6 s CPU
  // with one thread, 6.5 s with two, mostly spinning), so it runs on one; dsyrk, which does scale,
  // keeps the caller's thread count. openblas_set_num_threads is process-wide: this is only called
  // with more than one BLAS thread from the batch runner's one-job-at-a-time phase.
  const int blas_threads = openblas_get_num_threads();
  if (blas_threads > 1) openblas_set_num_threads(1);
  struct Restore {
    int n;
    ~Restore() {
      if (n > 1) openblas_set_num_threads(n);
    }
  } restore{blas_threads};
  Eigen::VectorXd w(n);
  int info = 0, lwork = -1;
  double work_query = 0;
  dsyev_2stage_("N", "L", &n, G.data(), &n, w.data(), &work_query, &lwork, &info, 1, 1);
  lwork = std::max(1, static_cast<int>(work_query));
  std::vector<double> work(static_cast<std::size_t>(lwork));
  dsyev_2stage_("N", "L", &n, G.data(), &n, w.data(), work.data(), &lwork, &info, 1, 1);
  if (info != 0) {
    throw std::runtime_error("LAPACK dsyev_2stage failed (info=" + std::to_string(info) + ")");
  }
  return w;
#else
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(G, Eigen::EigenvaluesOnly);
  if (es.info() != Eigen::Success) throw std::runtime_error("Eigen eigensolver did not converge");
  return es.eigenvalues();
#endif
}

Eigen::VectorXd descending_clamped(Eigen::VectorXd v) {
  std::sort(v.data(), v.data() + v.size(), [](double a, double b) { return a > b; });
  for (Eigen::Index i = 0; i < v.size(); ++i) v[i] = std::max(0.0, v[i]);
  return v;
}

/// Accumulates the lower triangle of the smaller Gram matrix of row-major W (rows, cols).
template <class T>
Eigen::MatrixXd gram_lower(const T* data, int64_t rows, int64_t cols) {
  const int64_t k = std::min(rows, cols);
  Eigen::MatrixXd G = Eigen::MatrixXd::Zero(k, k);
  if constexpr (std::is_same_v<T, double>) {
    if (rows <= cols) {
      // G = W Wᵀ = Xᵀ X, X = Wᵀ is (cols, rows) col-major = data itself.
      syrk_lower(G, data, rows, cols, /*trans=*/true);
    } else {
      // G = WᵀW = X Xᵀ.
      syrk_lower(G, data, cols, rows, /*trans=*/false);
    }
  } else {
    const int64_t other = std::max(rows, cols);
    const int64_t b = std::min(other, std::max<int64_t>(256, kBlockElements / k));
    std::vector<double> buf(static_cast<std::size_t>(b * k));
    if (rows <= cols) {
      // Column blocks W[:, j0:j0+bb]; stored as a (bb, rows) col-major block A, G += AᵀA.
      for (int64_t j0 = 0; j0 < cols; j0 += b) {
        const int64_t bb = std::min(b, cols - j0);
        for (int64_t i = 0; i < rows; ++i) {
          const T* src = data + i * cols + j0;
          double* dst = buf.data() + i * bb;
          for (int64_t j = 0; j < bb; ++j) dst[j] = static_cast<double>(src[j]);
        }
        syrk_lower(G, buf.data(), rows, bb, /*trans=*/true);
      }
    } else {
      // Row blocks W[i0:i0+bb, :] = a (cols, bb) col-major block A, G += A Aᵀ.
      for (int64_t i0 = 0; i0 < rows; i0 += b) {
        const int64_t bb = std::min(b, rows - i0);
        const T* src = data + i0 * cols;
        for (int64_t e = 0; e < bb * cols; ++e) buf[e] = static_cast<double>(src[e]);
        syrk_lower(G, buf.data(), cols, bb, /*trans=*/false);
      }
    }
  }
  return G;
}

/// The smaller Gram operator y = Xᵀ(X x) or X(Xᵀ x) for Spectra (X = Wᵀ, col-major).
class GramOp {
 public:
  using Scalar = double;
  GramOp(const double* x, int64_t rows, int64_t cols)
      : X_(x, cols, rows), wide_(rows <= cols), tmp_(wide_ ? cols : rows) {}
  Eigen::Index rows() const { return wide_ ? X_.cols() : X_.rows(); }
  Eigen::Index cols() const { return rows(); }
  void perform_op(const double* x_in, double* y_out) const {
    const Eigen::Index k = rows();
    Eigen::Map<const Eigen::VectorXd> x(x_in, k);
    Eigen::Map<Eigen::VectorXd> y(y_out, k);
    if (wide_) {
      tmp_.noalias() = X_ * x;
      y.noalias() = X_.transpose() * tmp_;
    } else {
      tmp_.noalias() = X_.transpose() * x;
      y.noalias() = X_ * tmp_;
    }
  }

 private:
  Eigen::Map<const Eigen::MatrixXd> X_;
  bool wide_;
  mutable Eigen::VectorXd tmp_;
};

}  // namespace

bool LanczosOptions::IsValid(std::string* error) const {
  std::string why;
  if (ncv < 3)
    why = "Lanczos ncv must be >= 3, got " + std::to_string(ncv);
  else if (max_iterations < 1)
    why = "Lanczos max_iterations must be >= 1";
  else if (!(tolerance > 0) || !(tolerance < 1))
    why = "Lanczos tolerance must be in (0, 1)";
  if (!why.empty() && error) *error = why;
  return why.empty();
}

template <class T>
Eigen::VectorXd gram_squared_singular_values(const T* data, int64_t rows, int64_t cols) {
  check_shape(rows, cols);
  Eigen::MatrixXd G = gram_lower(data, rows, cols);
  return descending_clamped(symmetric_eigenvalues(G));
}

template <class T>
Eigen::VectorXd gram_singular_values(const T* data, int64_t rows, int64_t cols) {
  return gram_squared_singular_values(data, rows, cols).cwiseSqrt();
}

template <class T>
Eigen::VectorXd exact_singular_values(const T* data, int64_t rows, int64_t cols) {
  check_shape(rows, cols);
  // X = Wᵀ, (cols, rows) col-major: exactly the row-major buffer.
  Eigen::MatrixXd X(cols, rows);
  std::copy(data, data + rows * cols, X.data());
#ifdef MUFT_ANALYSIS_HAVE_OPENBLAS
  const int m = static_cast<int>(cols), n = static_cast<int>(rows);
  const int k = std::min(m, n);
  Eigen::VectorXd s(k);
  int info = 0, lwork = -1, one = 1;
  double work_query = 0, dummy = 0;
  std::vector<int> iwork(static_cast<std::size_t>(8 * k));
  dgesdd_("N", &m, &n, X.data(), &m, s.data(), &dummy, &one, &dummy, &one, &work_query, &lwork,
          iwork.data(), &info, 1);
  lwork = std::max(1, static_cast<int>(work_query));
  std::vector<double> work(static_cast<std::size_t>(lwork));
  dgesdd_("N", &m, &n, X.data(), &m, s.data(), &dummy, &one, &dummy, &one, work.data(), &lwork,
          iwork.data(), &info, 1);
  if (info != 0) {
    throw std::runtime_error("LAPACK dgesdd failed (info=" + std::to_string(info) + ")");
  }
  return descending_clamped(s);
#else
  Eigen::BDCSVD<Eigen::MatrixXd> svd(X);
  if (svd.info() != Eigen::Success) throw std::runtime_error("Eigen BDCSVD failed");
  return descending_clamped(svd.singularValues());
#endif
}

template <class T>
double top_singular_value(const T* data, int64_t rows, int64_t cols, const LanczosOptions& opts,
                          KernelStatus* status) {
  check_shape(rows, cols);
  std::string why;
  if (!opts.IsValid(&why)) throw std::invalid_argument(why);
  if (status) *status = KernelStatus::Successful;
  const int64_t k = std::min(rows, cols);
  if (k <= 64) {
    // Too small for a Krylov method to pay (and Spectra needs ncv < k): solve exactly.
    return std::sqrt(gram_squared_singular_values(data, rows, cols)[0]);
  }
  std::vector<double> widened;
  const double* x = nullptr;
  if constexpr (std::is_same_v<T, double>) {
    x = data;
  } else {
    widened.assign(data, data + rows * cols);
    x = widened.data();
  }
  GramOp op(x, rows, cols);
  const Eigen::Index ncv = std::min<Eigen::Index>(opts.ncv, k);
  Spectra::SymEigsSolver<GramOp> eigs(op, 1, ncv);
  eigs.init();
  eigs.compute(Spectra::SortRule::LargestAlge, opts.max_iterations, opts.tolerance);
  if (eigs.info() != Spectra::CompInfo::Successful) {
    if (status) {
      *status = eigs.info() == Spectra::CompInfo::NotConverging ? KernelStatus::NotConverging
                                                                : KernelStatus::NumericalIssue;
    }
    if (eigs.eigenvalues().size() == 0) return std::nan("");
  }
  return std::sqrt(std::max(0.0, eigs.eigenvalues()[0]));
}

const char* linalg_backend() {
#ifdef MUFT_ANALYSIS_HAVE_OPENBLAS
  return "OpenBLAS";
#else
  return "Eigen";
#endif
}

void set_blas_threads(int n) {
#ifdef MUFT_ANALYSIS_HAVE_OPENBLAS
  openblas_set_num_threads(std::max(1, n));
#else
  (void)n;
#endif
}

template Eigen::VectorXd gram_squared_singular_values<float>(const float*, int64_t, int64_t);
template Eigen::VectorXd gram_squared_singular_values<double>(const double*, int64_t, int64_t);
template Eigen::VectorXd gram_singular_values<float>(const float*, int64_t, int64_t);
template Eigen::VectorXd gram_singular_values<double>(const double*, int64_t, int64_t);
template Eigen::VectorXd exact_singular_values<float>(const float*, int64_t, int64_t);
template Eigen::VectorXd exact_singular_values<double>(const double*, int64_t, int64_t);
template double top_singular_value<float>(const float*, int64_t, int64_t, const LanczosOptions&,
                                          KernelStatus*);
template double top_singular_value<double>(const double*, int64_t, int64_t, const LanczosOptions&,
                                           KernelStatus*);

}  // namespace muft::analysis
