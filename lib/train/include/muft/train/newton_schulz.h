#pragma once
/// \file newton_schulz.h
/// Approximate orthogonalization (polar factor U Vᵀ of G = U Σ Vᵀ) by odd
/// quintic Newton–Schulz iterations, as used by Muon (Jordan et al. 2024) and
/// Muon-PE (Amsel et al., Polar Express; arXiv 2605.10468 App. B, E.1).
/// The same coefficients and normalizations as muft::theory, so the two can be
/// compared on one matrix.

#include <array>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace muft::train {

/// Coefficient family of the quintic iterations.
enum class NSCoefficients {
  kNS5,  ///< fixed (a, b, c) = (3.4445, −4.7750, 2.0315) every step; X₀ = G / (‖G‖_F + 1e-7)
  kPolarExpress,  ///< first `steps` triples of muft::theory::polar_express_coefficients(ℓ = 1e-3,
                  ///< K = 10, safety = 1e-2, cushion = 0.02); X₀ = G / (1.1·‖G‖_F + 1e-7)
};

/// Parses "ns5" | "pe" | "polar_express"; throws std::invalid_argument otherwise.
NSCoefficients parse_ns_coefficients(const std::string& s);
std::string to_string(NSCoefficients c);

/// Options of one orthogonalization.
struct NewtonSchulzOptions {
  NSCoefficients coefficients = NSCoefficients::kNS5;  ///< family (also picks the normalization)
  int steps = 5;                                       ///< number of quintic steps (PE: ≤ 10)
  bool bf16 = true;  ///< NS5: iterate in bfloat16 (the reference setting); false: float32
  /// Polar Express: iterate in bfloat16 too. Off by default: PE's early polynomials map [ℓ, 1]
  /// onto about [0, 2] and are steep just past that range, so bfloat16 rounding (≈ 1 % after
  /// the cancellations in a·X + (b·A + c·A²)·X) can push a singular value out and the next
  /// steps blow it up. Seen on rank-8 LoRA factors: σ_max 8.3 after step 4 and 1.5e4 after
  /// step 5 in bfloat16 where float32/float64 give 1.13 (docs/training.md, "Muon-PE precision").
  bool pe_bf16 = false;
  /// When non-empty, these triples are used instead of the family's (one per
  /// step; `steps` is ignored); the normalization still follows `coefficients`.
  std::vector<std::array<double, 3>> custom;
  /// Validates steps ≥ 1 (≤ 10 for PE) and finite custom triples; writes a one-line reason.
  bool IsValid(std::string* error) const;
};

/// The (a, b, c) triples the options select, in order.
std::vector<std::array<double, 3>> ns_coefficients(const NewtonSchulzOptions& opts);

/// NS5 coefficients (3.4445, −4.7750, 2.0315).
constexpr std::array<double, 3> kNS5Coefficients = {3.4445, -4.7750, 2.0315};

/// Orthogonalizes g: viewed as a matrix [dim0, numel/dim0] (rank > 2 flattened), transposed
/// when rows > cols so the Gram matrix is the small one, normalized, then
/// X ← a X + (b A + c A²) X with A = X Xᵀ for each triple; transposed back and
/// returned in g's shape and dtype (float32). g must have dim ≥ 2.
/// Throws std::invalid_argument on dim < 2 or invalid options.
torch::Tensor newton_schulz(const torch::Tensor& g, const NewtonSchulzOptions& opts);

}  // namespace muft::train
