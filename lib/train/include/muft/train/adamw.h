#pragma once
/// \file adamw.h
/// AdamW (Loshchilov & Hutter 2019) as a per-parameter update rule, identical
/// in order of operations to torch.optim.AdamW (PyTorch 1.13, single-tensor path).

#include <cstdint>
#include <string>

#include <torch/torch.h>

namespace muft::train {

/// Hyper-parameters of one AdamW group.
struct AdamWOptions {
  double lr = 1e-3;           ///< base learning rate η (times the schedule multiplier)
  double beta1 = 0.9;         ///< first-moment decay β₁ ∈ [0, 1)
  double beta2 = 0.999;       ///< second-moment decay β₂ ∈ [0, 1)
  double eps = 1e-8;          ///< ε > 0 added to √v̂
  double weight_decay = 0.0;  ///< decoupled decay λ ≥ 0: p ← p(1 − η·λ)
  /// Validates the ranges above; writes a one-line reason.
  bool IsValid(std::string* error) const;
};

/// One AdamW step on p in place (p, grad, exp_avg, exp_avg_sq same shape, float32):
///   p ← p(1 − η λ);  m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g²;
///   p ← p − η/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
/// where t = step (1 for the first step) and η = lr (already scheduled).
void adamw_update(torch::Tensor& p, const torch::Tensor& grad, torch::Tensor& exp_avg,
                  torch::Tensor& exp_avg_sq, int64_t step, double lr, const AdamWOptions& opts);

}  // namespace muft::train
