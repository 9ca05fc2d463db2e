#pragma once
/// \file lora.h
/// LoRA adapters: pairing A/B tensors (with the lora_E of AdaLoRA and the magnitude vector of
/// DoRA), the merged update ΔW = s·B·A with s = α/r (α/√r for rsLoRA), its metrics and
/// distances from W0 through the r×r core, never forming ΔW, and DoRA's merged weight.
/// (arXiv 2605.10468, Appendix F.2 / Figures 12–14.)

#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "muft/analysis/diff.h"
#include "muft/analysis/metrics.h"

namespace muft::analysis {

/// What a tensor of an adapter is.
enum class AdapterRole {
  A,          ///< lora_A (r × in) or lora_embedding_A (r × num_embeddings)
  B,          ///< lora_B (out × r) or lora_embedding_B (embedding_dim × r)
  E,          ///< AdaLoRA's lora_E: r singular values (r × 1)
  Magnitude,  ///< DoRA's lora_magnitude_vector: one magnitude per output feature
  Ranknum,    ///< AdaLoRA's ranknum (a scalar; PEFT does not save it, full state dicts hold it)
};

/// One adapted module: B (out × r) and A (r × in), and the tensors DoRA and AdaLoRA add.
struct LoraPair {
  std::string
      module;  ///< e.g. "blocks.0.attn.c_q" or "base_model.model.model.layers.0.self_attn.q_proj"
  std::string a_name;  ///< tensor name of A
  std::string b_name;  ///< tensor name of B
  /// Name of the frozen weight in the base model: PEFT's "base_model.model." prefix is dropped
  /// and ".weight" appended (e.g. "model.layers.0.self_attn.q_proj.weight").
  std::string base_name;
  std::string e_name;          ///< AdaLoRA lora_E, "" when absent
  std::string magnitude_name;  ///< DoRA lora_magnitude_vector, "" when absent
  std::string ranknum_name;    ///< AdaLoRA ranknum, "" when absent
  /// lora_embedding_A/B of an nn.Embedding: ΔW = (B·A)ᵀ, shaped like the [num, dim] table.
  bool embedding = false;
};

/// Whether `name` is a tensor of an adapter; fills module and role. The role is one of
/// `.lora_A`, `.lora_B`, `.lora_embedding_A`, `.lora_embedding_B`, `.lora_E`,
/// `.lora_magnitude_vector`, `.ranknum`, followed by nothing, `.weight`, `.<adapter>` or
/// `.<adapter>.weight` (PEFT's named adapters, e.g. `.default.weight`; `.bias` is not an
/// adapter name). *embedding is set for lora_embedding_A/B.
bool parse_adapter_name(const std::string& name, std::string* module, AdapterRole* role,
                        bool* embedding = nullptr);

/// Whether `name` is a LoRA factor (A or B, embedding factors included); fills module and role
/// ('A' or 'B'). Recognized: `<module>.lora_A`, `<module>.lora_A.weight`,
/// `<module>.lora_A.<adapter>.weight` (PEFT), same for lora_B (see parse_adapter_name).
bool parse_lora_name(const std::string& name, std::string* module, char* role);

/// The A/B pairs among `names` (sorted by module), each with the lora_E, magnitude and ranknum
/// tensors of its module found among `names`. A factor without its partner is listed in
/// *unpaired (may be null).
std::vector<LoraPair> find_lora_pairs(const std::vector<std::string>& names,
                                      std::vector<std::string>* unpaired);

/// Scale of the merged update.
struct LoraScale {
  double alpha = NAN;    ///< lora_alpha; NaN = unknown
  double rank = NAN;     ///< r (AdaLoRA: ranknum); NaN = use the factors' inner dimension
  bool rslora = false;   ///< s = α/√r instead of α/r
  bool adalora = false;  ///< AdaLoRA: s = α/(ranknum + 1e-5), PEFT's SVDLinear
  /// s for factors of inner dimension r_factors: α/r (α/√r, α/(r + 1e-5)); 1 when α is unknown.
  double scale(int64_t r_factors) const;
};

/// Metrics of ΔW = scale·B·A from the QR factors of B (m×r) and Aᵀ (n×r): the singular values of
/// ΔW are those of scale·R_B·R_Aᵀ (r×r). max_abs is taken over row blocks of B·A (never the
/// whole product at once). Shapes must agree (B.cols() == A.rows()), else std::invalid_argument.
MatrixMetrics lora_delta_metrics(const Eigen::MatrixXd& B, const Eigen::MatrixXd& A, double scale,
                                 const MetricOptions& opts);

/// Distances of W0 + ΔW from W0 (row-major W0, shape (B.rows(), A.cols())) without forming ΔW:
/// ‖ΔW‖_F from the core, ⟨ΔW, W0⟩ = scale·Σ (BᵀW0) ⊙ A. `delta` holds lora_delta_metrics.
/// A row-major double matrix (the layout tensors are stored in).
using RowMatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// DoRA's merged weight (Liu et al. 2024, arXiv 2402.09353, merged as PEFT does): with
/// V = W0 + scale·B·A, W' = diag(mᵢ / ‖Vᵢ‖₂) V, where i runs over the output features: the rows
/// of V when `outputs_are_rows` (a weight stored [out, in]), else its columns (stored
/// [in, out]: fan_in_fan_out, embedding tables). W0 is (B.rows(), A.cols()); `magnitude` has one
/// entry per output feature. A zero norm gives non-finite entries (as in PEFT). Throws
/// std::invalid_argument when the shapes disagree.
RowMatrixXd dora_merge(const Eigen::Ref<const RowMatrixXd>& W0, const Eigen::MatrixXd& B,
                       const Eigen::MatrixXd& A, double scale, const Eigen::VectorXd& magnitude,
                       bool outputs_are_rows);

template <class T>
DiffMetrics lora_diff(const T* w0, const Eigen::MatrixXd& B, const Eigen::MatrixXd& A, double scale,
                      const MetricOptions& opts);

}  // namespace muft::analysis
