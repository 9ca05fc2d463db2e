#pragma once
/// \file param_groups.h
/// Builds the paper's hybrid parameter groups (arXiv 2605.10468 App. B, C, E):
/// the chosen optimizer (Muon or AdamW) for hidden matrices, AdamW for the
/// embedding, the head and 1-D parameters; under LoRA every trainable adapter
/// matrix uses the chosen optimizer. NanoChat-style per-group learning rates,
/// with the (d/768)^−0.5 factor on the embedding and head rates.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "muft/train/optim.h"

namespace muft::train {

/// The optimizer named on the command line.
enum class OptimizerChoice {
  kAdamW,   ///< "adam" / "adamw": AdamW everywhere
  kMuon,    ///< "muon": Muon (NS5) on hidden matrices / adapters, AdamW elsewhere
  kMuonPE,  ///< "muon-pe": as kMuon with Polar Express coefficients
};
/// Parses "adam" | "adamw" | "muon" | "muon-pe"; throws std::invalid_argument otherwise.
OptimizerChoice parse_optimizer_choice(const std::string& s);
std::string to_string(OptimizerChoice c);
/// Every accepted spelling ("adam", "adamw", "muon", "muon-pe"), for command-line checks.
std::vector<std::string> optimizer_choice_names();

/// How to split a model's trainable parameters and which rates to give them.
/// Defaults are NanoChat's pretraining rates for Muon.
struct ParamGroupOptions {
  OptimizerChoice optimizer = OptimizerChoice::kMuon;
  double matrix_lr = 0.02;        ///< hidden matrices and LoRA adapters (Muon η or AdamW η)
  double embedding_lr = 0.2;      ///< embedding, before the width factor
  double unembedding_lr = 0.004;  ///< head, before the width factor
  double scalar_lr = 0.004;       ///< 1-D / 0-D parameters (none in the GPT; AdamW)
  /// Width d for the factor (d/768)^−0.5 on embedding_lr and unembedding_lr;
  /// ≤ 0 disables the factor.
  int64_t model_dim = 128;
  std::string embedding_regex = R"((^|\.)wte\.)";  ///< names of embedding parameters (regex_search)
  std::string head_regex = R"((^|\.)lm_head\.)";   ///< names of head parameters (regex_search)
  /// AdamW options for the matrix group when optimizer == kAdamW (lr taken from matrix_lr).
  AdamWOptions adamw_matrix{1e-3, 0.9, 0.999, 1e-8, 0.0};
  /// AdamW options for embedding / head / scalars (lr taken from the *_lr fields).
  /// NanoChat uses β = (0.8, 0.95), ε = 1e-10.
  AdamWOptions adamw_aux{1e-3, 0.8, 0.95, 1e-10, 0.0};
  /// Muon options for matrices / adapters (lr taken from matrix_lr; ns.coefficients
  /// set from optimizer: NS5 for kMuon, Polar Express for kMuonPE).
  MuonOptions muon;
  /// Sets matrix, embedding, unembedding and scalar lr to one swept value
  /// (the width factor still applies to embedding and head), as in the
  /// paper's fine-tuning sweeps.
  void set_single_lr(double lr);
  /// Validates rates ≥ 0, regexes and the nested options; writes a one-line reason.
  bool IsValid(std::string* error) const;
};

/// (d/768)^−0.5, or 1 when d ≤ 0.
double width_lr_factor(int64_t model_dim);

/// Splits model.named_parameters() with requires_grad into groups, in this
/// order, skipping empty ones:
///   "matrix"    dim ≥ 2, not embedding/head/adapter → Muon (kMuon/kMuonPE) or AdamW(adamw_matrix)
///   "lora"      names ending ".lora_A" / ".lora_B"  → same rule and lr as "matrix"
///   "embedding" embedding_regex                     → AdamW(adamw_aux), embedding_lr × factor
///   "head"      head_regex                          → AdamW(adamw_aux), unembedding_lr × factor
///   "scalar"    dim < 2                             → AdamW(adamw_aux), scalar_lr
/// Frozen parameters (requires_grad false) are in no group.
/// Throws std::invalid_argument on invalid options or a model without trainable parameters.
std::vector<ParamGroup> build_param_groups(const torch::nn::Module& model,
                                           const ParamGroupOptions& opts);

}  // namespace muft::train
