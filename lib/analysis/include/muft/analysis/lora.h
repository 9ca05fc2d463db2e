#pragma once
/// \file lora.h
/// LoRA adapters: pairing A/B tensors, the merged update ΔW = s·B·A with s = α/r (α/√r for
/// rsLoRA), and its metrics and distances from W0 through the r×r core, never forming ΔW.
/// (arXiv 2605.10468, Appendix F.2 / Figures 12–14.)

#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "muft/analysis/diff.h"
#include "muft/analysis/metrics.h"

namespace muft::analysis {

/// One adapter: B (out × r) and A (r × in) of a module.
struct LoraPair {
  std::string
      module;  ///< e.g. "blocks.0.attn.c_q" or "base_model.model.model.layers.0.self_attn.q_proj"
  std::string a_name;  ///< tensor name of A
  std::string b_name;  ///< tensor name of B
  /// Name of the frozen weight in the base model: PEFT's "base_model.model." prefix is dropped
  /// and ".weight" appended (e.g. "model.layers.0.self_attn.q_proj.weight").
  std::string base_name;
};

/// Whether `name` is a LoRA factor; fills module and role ('A' or 'B'). Recognized:
/// `<module>.lora_A`, `<module>.lora_A.weight`, `<module>.lora_A.<adapter>.weight` (PEFT), same for
/// lora_B.
bool parse_lora_name(const std::string& name, std::string* module, char* role);

/// The A/B pairs among `names` (sorted by module). A factor without its partner is listed in
/// *unpaired (may be null).
std::vector<LoraPair> find_lora_pairs(const std::vector<std::string>& names,
                                      std::vector<std::string>* unpaired);

/// Scale of the merged update.
struct LoraScale {
  double alpha = NAN;   ///< lora_alpha; NaN = unknown
  double rank = NAN;    ///< r; NaN = use the factors' inner dimension
  bool rslora = false;  ///< s = α/√r instead of α/r
  /// s for factors of inner dimension r_factors: α/r (or α/√r); 1 when α is unknown.
  double scale(int64_t r_factors) const;
};

/// Reads lora_alpha, r and use_rslora from a PEFT adapter_config.json; std::nullopt when the file
/// does not exist; throws std::runtime_error when it exists but is not valid JSON.
std::optional<LoraScale> read_adapter_config(const std::string& path);

/// Metrics of ΔW = scale·B·A from the QR factors of B (m×r) and Aᵀ (n×r): the singular values of
/// ΔW are those of scale·R_B·R_Aᵀ (r×r). max_abs is taken over row blocks of B·A (never the
/// whole product at once). Shapes must agree (B.cols() == A.rows()), else std::invalid_argument.
MatrixMetrics lora_delta_metrics(const Eigen::MatrixXd& B, const Eigen::MatrixXd& A, double scale,
                                 const MetricOptions& opts);

/// Distances of W0 + ΔW from W0 (row-major W0, shape (B.rows(), A.cols())) without forming ΔW:
/// ‖ΔW‖_F from the core, ⟨ΔW, W0⟩ = scale·Σ (BᵀW0) ⊙ A. `delta` holds lora_delta_metrics.
template <class T>
DiffMetrics lora_diff(const T* w0, const Eigen::MatrixXd& B, const Eigen::MatrixXd& A, double scale,
                      const MetricOptions& opts);

}  // namespace muft::analysis
