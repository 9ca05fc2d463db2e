#pragma once
/// \file intruders.h
/// Intruder dimensions (Shuttleworth et al. 2024, "LoRA vs Full Fine-tuning: An Illusion of
/// Equivalence", arXiv 2410.21228; cited by arXiv 2605.10468): singular vectors of a fine-tuned
/// matrix W that resemble none of the base matrix W0's. The count follows PEFT's
/// `reduce_intruder_dimension` (peft/tuners/lora/intruders.py): among the top-k left singular
/// vectors uⱼ of W, those with maxᵢ |⟨uⱼ, u0ᵢ⟩| < ε over every left singular vector u0ᵢ of W0
/// (thin SVD: min(m, n) of them), both of the matrix as stored (rows = its first dimension).

#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>

namespace muft::analysis {

/// What to count.
struct IntruderOptions {
  int top_k = 10;        ///< singular vectors of W examined, largest σ first (PEFT's top_k)
  double epsilon = 0.5;  ///< intruder when its largest |cosine| is below this (threshold_epsilon)
  /// True when top_k >= 1 and epsilon is in (0, 1]; otherwise writes why into *error.
  bool IsValid(std::string* error) const;
};

/// The count for one matrix.
struct IntruderResult {
  int64_t examined = 0;  ///< min(top_k, min(m, n)) vectors looked at
  double count = NAN;    ///< intruders among them; NaN when W or W0 has non-finite entries
  std::vector<double> max_cosine;  ///< maxᵢ |⟨uⱼ, u0ᵢ⟩| of each examined uⱼ, by descending σⱼ
  bool lanczos = false;            ///< W's top-k came from Lanczos (else from a full SVD)
};

/// Intruder dimensions of W against W0, both row-major (rows, cols). W0's left singular vectors
/// come from a full thin SVD (LAPACK dgesdd, Eigen BDCSVD without OpenBLAS); W's top-k from
/// Lanczos on x ↦ W(Wᵀx) (Spectra) when min(rows, cols) is large against k, else from the same
/// SVD. Throws std::invalid_argument on invalid options or an empty matrix.
template <class T>
IntruderResult intruder_dimensions(const T* w, const T* w0, int64_t rows, int64_t cols,
                                   const IntruderOptions& opts);

/// All min(rows, cols) left singular vectors of the row-major (rows, cols) matrix, as the
/// columns of a rows × min(rows, cols) matrix, by descending σ. Throws std::runtime_error when
/// the SVD does not converge.
Eigen::MatrixXd left_singular_vectors(const double* data, int64_t rows, int64_t cols);

/// The k leading left singular vectors (rows × k, by descending σ): Lanczos on the Gram operator
/// x ↦ W(Wᵀx) when 4k + 20 < min(rows, cols), falling back to left_singular_vectors when that
/// is smaller or Lanczos does not converge. *lanczos (may be null) says which was used.
Eigen::MatrixXd top_left_singular_vectors(const double* data, int64_t rows, int64_t cols, int k,
                                          bool* lanczos);

}  // namespace muft::analysis
