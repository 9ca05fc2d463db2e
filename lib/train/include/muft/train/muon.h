#pragma once
/// \file muon.h
/// Muon (Jordan et al. 2024; Moonlight, Liu et al. 2025) as a per-parameter
/// update rule on a matrix parameter W ∈ R^{m×n} (rank > 2: m = dim0, n = rest).
/// arXiv 2605.10468 App. B describes the two variants implemented here.

#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "muft/train/newton_schulz.h"

namespace muft::train {

/// Momentum rule and shape scaling of the update.
enum class MuonVariant {
  /// Moonlight (the paper's choice): M ← βM + G; U = G + βM (Nesterov) or M;
  /// W ← W − η·0.2·√max(m, n)·NS(U).
  kMoonlight,
  /// Original (Jordan et al.; NanoChat): M ← βM + (1 − β)G; U = (1 − β)G + βM
  /// (Nesterov) or M; W ← W − η·√max(1, m/n)·NS(U).
  kOriginal,
};
/// Parses "moonlight" | "original"; throws std::invalid_argument otherwise.
MuonVariant parse_muon_variant(const std::string& s);
std::string to_string(MuonVariant v);

/// Hyper-parameters of one Muon group.
struct MuonOptions {
  double lr = 0.02;        ///< base learning rate η (times the schedule multiplier)
  double momentum = 0.95;  ///< β ∈ [0, 1)
  bool nesterov = true;    ///< Nesterov-style update (paper: on)
  MuonVariant variant = MuonVariant::kMoonlight;  ///< momentum rule and shape scale
  /// Weight decay λ ≥ 0, applied once per step before the update as W ← W(1 − η·λ)
  /// with the unscaled η (no 0.2·√max(m, n) factor).
  double weight_decay = 0.0;
  NewtonSchulzOptions ns;  ///< orthogonalization (NS5 by default, bfloat16)
  /// Validates the ranges above and ns; writes a one-line reason.
  bool IsValid(std::string* error) const;
};

/// Shape scale of the orthogonalized update for a (m, n) matrix under `variant`:
/// 0.2·√max(m, n) (moonlight) or √max(1, m/n) (original).
double muon_shape_scale(MuonVariant variant, int64_t m, int64_t n);

/// One Muon step on p (dim ≥ 2) in place; momentum has p's shape; lr already scheduled.
/// Order: momentum update, U, O = NS(U), then W ← W(1 − η λ), then W ← W − η·scale·O.
void muon_update(torch::Tensor& p, const torch::Tensor& grad, torch::Tensor& momentum, double lr,
                 const MuonOptions& opts);

}  // namespace muft::train
