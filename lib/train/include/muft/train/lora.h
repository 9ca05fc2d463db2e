#pragma once
/// \file lora.h
/// Bias-free Linear layer that can carry a LoRA adapter (Hu et al. 2022;
/// rsLoRA; PiSSA, Meng et al. 2024), and helpers that put adapters on the
/// Linear layers of a model chosen by name.
///
/// With an adapter the layer computes y = x W0ᵀ + s · (x Aᵀ) Bᵀ, i.e.
/// W = W0 + s·B·A, where W0 (out, in) is frozen, A (r, in), B (out, r), and
/// s = α/r (LoRA) or α/√r (rsLoRA). Dropout is 0 (not implemented).
/// Parameter names: "<module>.weight" (W0), "<module>.lora_A", "<module>.lora_B",
/// e.g. "transformer.h.0.attn.c_q.lora_A" — the names the analyzer recognizes.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace muft::train {

/// How the adapter product is scaled.
enum class LoRAScaling {
  kAlphaOverR,      ///< s = α / r (original LoRA)
  kAlphaOverSqrtR,  ///< s = α / √r (rsLoRA)
};
/// How the adapter is initialized.
enum class LoRAInit {
  kKaiming,  ///< A ~ Kaiming-uniform (a = √5, as torch.nn.Linear), B = 0: ΔW = 0 at init
  kPiSSA,    ///< A, B from the top-r SVD of W0 (below); W0 ← W0 − s·B·A, outputs unchanged
};

/// Parses "alpha_over_r" | "alpha_over_sqrt_r"; throws std::invalid_argument otherwise.
LoRAScaling parse_lora_scaling(const std::string& s);
/// Parses "kaiming" | "pissa"; throws std::invalid_argument otherwise.
LoRAInit parse_lora_init(const std::string& s);
std::string to_string(LoRAScaling s);
std::string to_string(LoRAInit i);

/// Adapter options. Defaults are the paper's (r = 8, α = 16, all attention and MLP projections).
struct LoRAOptions {
  int64_t rank = 8;     ///< r ≥ 1, ≤ min(out, in) of every adapted layer
  double alpha = 16.0;  ///< α > 0
  LoRAScaling scaling = LoRAScaling::kAlphaOverR;  ///< s = α/r or α/√r
  LoRAInit init = LoRAInit::kKaiming;              ///< Kaiming (B = 0) or PiSSA
  /// ECMAScript regexes searched (std::regex_search) in each Linear's full module
  /// name, e.g. "transformer.h.3.attn.c_q"; a layer is adapted when any matches.
  /// Default: Q, K, V, O and MLP up/down of every block (never wte / lm_head).
  std::vector<std::string> targets = {R"(\.attn\.c_q$)",    R"(\.attn\.c_k$)", R"(\.attn\.c_v$)",
                                      R"(\.attn\.c_proj$)", R"(\.mlp\.c_fc$)", R"(\.mlp\.c_proj$)"};
  /// The scale s for these options.
  double scale() const;
  /// Validates rank ≥ 1, α > 0, non-empty valid regexes; writes a one-line reason.
  bool IsValid(std::string* error) const;
};

/// y = x Wᵀ (+ s·(x Aᵀ) Bᵀ when an adapter is attached and not merged).
class LoRALinearImpl : public torch::nn::Module {
 public:
  /// W (out, in) is created uninitialized-then-zeroed; the owner initializes it.
  LoRALinearImpl(int64_t in_features, int64_t out_features);

  /// x: (..., in) → (..., out).
  torch::Tensor forward(const torch::Tensor& x);

  /// The adapter's contribution s·(x Aᵀ)Bᵀ (…, out), or an undefined tensor when the
  /// layer has no adapter or it is merged. forward(x) = linear(x, W) + adapter_delta(x).
  torch::Tensor adapter_delta(const torch::Tensor& x);

  /// Attaches an adapter of rank r with scale s, freezes W (requires_grad = false).
  /// Kaiming: A ~ U(−b, b), b = √(6 / ((1 + 5)·in)) = 1/√in, B = 0 (uses torch's global generator).
  /// PiSSA: W0 = U Σ Vᵀ; A = √(Σ_r / s) V_rᵀ, B = U_r √(Σ_r / s); W0 ← W0 − s·B·A, so
  /// the layer's function is unchanged up to float32 rounding of the subtraction.
  /// Throws std::invalid_argument if r > min(in, out) or an adapter is already attached.
  void attach_adapter(int64_t rank, double scale, LoRAInit init);
  /// W ← W + s·B·A and the forward stops adding the adapter. No-op if already merged.
  void merge();
  /// W ← W − s·B·A (exact inverse of merge() up to float32 rounding). No-op if not merged.
  void unmerge();

  bool has_adapter() const { return lora_A.defined(); }
  bool merged() const { return merged_; }
  double scale() const { return scale_; }
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }

  torch::Tensor weight;  ///< W0 (out, in)
  torch::Tensor lora_A;  ///< (r, in), undefined without adapter
  torch::Tensor lora_B;  ///< (out, r), undefined without adapter

 private:
  int64_t in_, out_;
  double scale_ = 0.0;
  bool merged_ = false;
};
TORCH_MODULE(LoRALinear);

/// Attaches adapters to every LoRALinear of `model` whose full name matches
/// opts.targets, then freezes every other parameter of the model (only
/// lora_A / lora_B remain trainable). Returns the adapted module names in
/// registration order. Throws std::invalid_argument on invalid options or when
/// no layer matches.
std::vector<std::string> apply_lora(torch::nn::Module& model, const LoRAOptions& opts);
/// merge() on every adapted layer (e.g. before exporting a plain model).
void merge_lora(torch::nn::Module& model);
/// unmerge() on every adapted layer.
void unmerge_lora(torch::nn::Module& model);
/// True if the parameter name is an adapter matrix ("….lora_A" or "….lora_B").
bool is_lora_parameter_name(const std::string& name);

}  // namespace muft::train
