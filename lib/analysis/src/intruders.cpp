/// \file intruders.cpp
/// Intruder dimensions: W0's left singular vectors by a thin SVD, W's leading ones by Lanczos or
/// the same SVD, and the largest |cosine| of each of W's against all of W0's.

#include "muft/analysis/intruders.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include <Spectra/SymEigsSolver.h>
#include <Eigen/SVD>

#ifdef MUFT_ANALYSIS_HAVE_OPENBLAS
extern "C" {
// LAPACK (Fortran, 32-bit integers as in Debian's OpenBLAS; trailing hidden string length).
void dgesdd_(const char* jobz, const int* m, const int* n, double* a, const int* lda, double* s,
             double* u, const int* ldu, double* vt, const int* ldvt, double* work, const int* lwork,
             int* iwork, int* info, std::size_t);
}
#endif

namespace muft::analysis {
namespace {

using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void check_shape(int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) {
    throw std::invalid_argument("singular vectors need a non-empty matrix, got " +
                                std::to_string(rows) + "x" + std::to_string(cols));
  }
  if (rows > INT32_MAX || cols > INT32_MAX) {
    throw std::invalid_argument("matrix dimension over 2^31-1 is not supported by LAPACK");
  }
}

/// y = W (Wᵀ x) on R^rows, for the row-major W: its eigenvectors are W's left singular vectors.
class OuterGramOp {
 public:
  using Scalar = double;
  OuterGramOp(const double* w, int64_t rows, int64_t cols) : X_(w, cols, rows), tmp_(cols) {}
  Eigen::Index rows() const { return X_.cols(); }
  Eigen::Index cols() const { return X_.cols(); }
  void perform_op(const double* x_in, double* y_out) const {
    // X = Wᵀ (cols × rows, col-major view of the row-major buffer).
    Eigen::Map<const Eigen::VectorXd> x(x_in, X_.cols());
    Eigen::Map<Eigen::VectorXd> y(y_out, X_.cols());
    tmp_.noalias() = X_ * x;
    y.noalias() = X_.transpose() * tmp_;
  }

 private:
  Eigen::Map<const Eigen::MatrixXd> X_;
  mutable Eigen::VectorXd tmp_;
};

template <class T>
bool all_finite(const T* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(static_cast<double>(p[i]))) return false;
  }
  return true;
}

}  // namespace

bool IntruderOptions::IsValid(std::string* error) const {
  std::string why;
  if (top_k < 1) {
    why = "--top-k must be >= 1, got " + std::to_string(top_k);
  } else if (!(epsilon > 0) || !(epsilon <= 1)) {
    why = "--epsilon must be in (0, 1] (a cosine threshold), got " + std::to_string(epsilon);
  }
  if (!why.empty() && error) *error = why;
  return why.empty();
}

Eigen::MatrixXd left_singular_vectors(const double* data, int64_t rows, int64_t cols) {
  check_shape(rows, cols);
#ifdef MUFT_ANALYSIS_HAVE_OPENBLAS
  // The buffer is X = Wᵀ, (cols, rows) col-major; X = U_X S V_Xᵀ gives W = V_X S U_Xᵀ, so W's
  // left singular vectors are the rows of X's Vᵀ.
  Eigen::MatrixXd X(cols, rows);
  std::copy(data, data + rows * cols, X.data());
  const int m = static_cast<int>(cols), n = static_cast<int>(rows);
  const int k = std::min(m, n);
  Eigen::VectorXd s(k);
  Eigen::MatrixXd U(m, k), VT(k, n);
  int info = 0, lwork = -1;
  double work_query = 0;
  std::vector<int> iwork(static_cast<std::size_t>(8 * k));
  dgesdd_("S", &m, &n, X.data(), &m, s.data(), U.data(), &m, VT.data(), &k, &work_query, &lwork,
          iwork.data(), &info, 1);
  lwork = std::max(1, static_cast<int>(work_query));
  std::vector<double> work(static_cast<std::size_t>(lwork));
  dgesdd_("S", &m, &n, X.data(), &m, s.data(), U.data(), &m, VT.data(), &k, work.data(), &lwork,
          iwork.data(), &info, 1);
  if (info != 0) {
    throw std::runtime_error("LAPACK dgesdd failed (info=" + std::to_string(info) + ")");
  }
  return VT.transpose();
#else
  const Eigen::MatrixXd W = Eigen::Map<const RowMajor>(data, rows, cols);
  Eigen::BDCSVD<Eigen::MatrixXd> svd(W, Eigen::ComputeThinU);
  if (svd.info() != Eigen::Success) throw std::runtime_error("Eigen BDCSVD failed");
  return svd.matrixU();
#endif
}

Eigen::MatrixXd top_left_singular_vectors(const double* data, int64_t rows, int64_t cols, int k,
                                          bool* lanczos) {
  check_shape(rows, cols);
  if (k < 1) throw std::invalid_argument("top_left_singular_vectors: k must be >= 1");
  const int64_t r = std::min(rows, cols);
  k = static_cast<int>(std::min<int64_t>(k, r));
  if (lanczos) *lanczos = false;
  if (4 * static_cast<int64_t>(k) + 20 < r) {
    OuterGramOp op(data, rows, cols);
    const Eigen::Index ncv = std::min<Eigen::Index>(rows, 2 * k + 20);
    Spectra::SymEigsSolver<OuterGramOp> eigs(op, k, ncv);
    eigs.init();
    eigs.compute(Spectra::SortRule::LargestAlge, 1000, 1e-10);
    if (eigs.info() == Spectra::CompInfo::Successful && eigs.eigenvectors().cols() == k) {
      if (lanczos) *lanczos = true;
      return eigs.eigenvectors();  // sorted by descending eigenvalue σ², unit columns
    }
    // Not converged (clustered leading σ): the exact SVD below always gives an answer.
  }
  return left_singular_vectors(data, rows, cols).leftCols(k);
}

template <class T>
IntruderResult intruder_dimensions(const T* w, const T* w0, int64_t rows, int64_t cols,
                                   const IntruderOptions& opts) {
  std::string why;
  if (!opts.IsValid(&why)) throw std::invalid_argument(why);
  check_shape(rows, cols);
  IntruderResult res;
  res.examined = std::min<int64_t>(opts.top_k, std::min(rows, cols));
  const int64_t n = rows * cols;
  if (!all_finite(w, n) || !all_finite(w0, n)) return res;
  std::vector<double> wd, w0d;
  const double* pw = nullptr;
  const double* pw0 = nullptr;
  if constexpr (std::is_same_v<T, double>) {
    pw = w;
    pw0 = w0;
  } else {
    wd.assign(w, w + n);
    w0d.assign(w0, w0 + n);
    pw = wd.data();
    pw0 = w0d.data();
  }
  const Eigen::MatrixXd U = top_left_singular_vectors(pw, rows, cols, opts.top_k, &res.lanczos);
  const Eigen::MatrixXd U0 = left_singular_vectors(pw0, rows, cols);
  // (k × min(m, n)) cosines between unit vectors; the largest |·| of each row.
  const Eigen::VectorXd best = (U.transpose() * U0).cwiseAbs().rowwise().maxCoeff();
  res.max_cosine.assign(best.data(), best.data() + best.size());
  res.count = 0;
  for (double c : res.max_cosine) {
    if (c < opts.epsilon) res.count += 1;
  }
  return res;
}

template IntruderResult intruder_dimensions<float>(const float*, const float*, int64_t, int64_t,
                                                   const IntruderOptions&);
template IntruderResult intruder_dimensions<double>(const double*, const double*, int64_t, int64_t,
                                                    const IntruderOptions&);

}  // namespace muft::analysis
