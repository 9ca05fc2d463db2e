#pragma once
/// \file gpt.h
/// A NanoChat-style GPT (Karpathy 2025; arXiv 2605.10468 App. C) in LibTorch:
/// rotary position embeddings, parameter-free RMSNorm (after the embedding,
/// pre-norm in every block, before the head), QK-norm, ReLU² MLP of 4× width,
/// untied embedding and head, no biases, zero-initialized output projections,
/// tanh logit soft-capping. Everything is float32.
///
/// Registered parameter names (stable; the analyzer's layer-group regexes and
/// the checkpoint format rely on them), for N = 0..n_layer-1:
///   transformer.wte.weight                 (vocab_size, n_embd)
///   transformer.h.N.attn.c_q.weight        (n_embd, n_embd)
///   transformer.h.N.attn.c_k.weight        (n_embd, n_embd)
///   transformer.h.N.attn.c_v.weight        (n_embd, n_embd)
///   transformer.h.N.attn.c_proj.weight     (n_embd, n_embd)
///   transformer.h.N.mlp.c_fc.weight        (4·n_embd, n_embd)
///   transformer.h.N.mlp.c_proj.weight      (n_embd, 4·n_embd)
///   lm_head.weight                         (vocab_size, n_embd)
/// Under LoRA (lora.h) each adapted Linear "X" additionally holds X.lora_A
/// (r, in) and X.lora_B (out, r), e.g. transformer.h.0.attn.c_q.lora_A.

#include <cstdint>
#include <string>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "muft/train/lora.h"

namespace muft::train {

/// Shape and numerics of the GPT. Defaults are the documented "tiny" model
/// (tiny_config()): byte-level, small enough to pretrain on 2 CPU cores.
struct GPTConfig {
  int64_t sequence_len = 128;   ///< context length T (max positions of the rotary tables)
  int64_t vocab_size = 260;     ///< 256 byte values + 4 specials (byte-level tokenizer)
  int64_t n_layer = 4;          ///< number of transformer blocks (depth)
  int64_t n_head = 4;           ///< attention heads; head_dim = n_embd / n_head must be even
  int64_t n_embd = 128;         ///< model width d
  double rope_base = 10000.0;   ///< rotary base θ: frequencies θ^(-2i/head_dim)
  double norm_eps = 1e-6;       ///< RMSNorm ε: x / sqrt(mean(x²) + ε)
  double logit_softcap = 15.0;  ///< logits ← c·tanh(logits / c) as in NanoChat; 0 disables

  /// head_dim = n_embd / n_head.
  int64_t head_dim() const { return n_embd / n_head; }
  /// Validates positivity, n_embd % n_head == 0 and even head_dim; writes a one-line reason.
  bool IsValid(std::string* error) const;
  /// All fields as a JSON object (keys = field names); stored in every checkpoint.
  nlohmann::json to_json() const;
  /// Inverse of to_json(); missing keys keep their defaults, unknown keys and
  /// wrong types throw std::invalid_argument. The result is validated (throws if !IsValid).
  static GPTConfig from_json(const nlohmann::json& j);
};

/// The documented default model: 4 layers, width 128, 4 heads, context 128,
/// vocab 260 (≈0.85 M parameters). Same as GPTConfig{}.
GPTConfig tiny_config();

/// Parameter-free RMSNorm over the last dimension: x / sqrt(mean(x², -1) + eps).
torch::Tensor rms_norm(const torch::Tensor& x, double eps);

/// Causal self-attention with rotary embeddings and QK-norm (module names c_q, c_k, c_v, c_proj).
class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  CausalSelfAttentionImpl(const GPTConfig& cfg, int64_t layer_idx);
  /// x: (B, T, n_embd); cos, sin: (1, T, 1, head_dim/2) → (B, T, n_embd).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

  LoRALinear c_q{nullptr}, c_k{nullptr}, c_v{nullptr}, c_proj{nullptr};

 private:
  int64_t n_head_, head_dim_;
  double eps_;
  torch::Tensor mask_;  // (T, T) additive causal mask, built on first use
};
TORCH_MODULE(CausalSelfAttention);

/// ReLU² MLP of 4× width (module names c_fc, c_proj).
class MLPImpl : public torch::nn::Module {
 public:
  explicit MLPImpl(const GPTConfig& cfg);
  /// x: (B, T, n_embd) → (B, T, n_embd); c_proj(relu(c_fc(x))²).
  torch::Tensor forward(const torch::Tensor& x);

  LoRALinear c_fc{nullptr}, c_proj{nullptr};
};
TORCH_MODULE(MLP);

/// Pre-norm block: x + attn(norm(x)), then x + mlp(norm(x)).
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(const GPTConfig& cfg, int64_t layer_idx);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

  CausalSelfAttention attn{nullptr};
  MLP mlp{nullptr};

 private:
  double eps_;
};
TORCH_MODULE(Block);

/// Holder of the embedding and the blocks, so that names read "transformer.wte", "transformer.h.N".
class TransformerImpl : public torch::nn::Module {
 public:
  explicit TransformerImpl(const GPTConfig& cfg);
  torch::nn::Embedding wte{nullptr};
  torch::nn::ModuleList h{nullptr};
};
TORCH_MODULE(Transformer);

/// The GPT. Construction initializes weights with init_weights() from torch's
/// global generator, so seed with torch::manual_seed(s) before constructing.
class GPTImpl : public torch::nn::Module {
 public:
  explicit GPTImpl(const GPTConfig& cfg = GPTConfig{});

  /// idx: (B, T) int64 token ids in [0, vocab_size), T ≤ sequence_len → logits (B, T, vocab_size)
  /// float32.
  torch::Tensor forward(const torch::Tensor& idx);

  /// Mean next-token cross-entropy (nats) of forward(idx) against targets (B, T) int64;
  /// target −1 is ignored. Returns a 0-d float32 tensor.
  torch::Tensor loss(const torch::Tensor& idx, const torch::Tensor& targets);

  /// NanoChat initialization: wte ~ N(0, 1); c_q, c_k, c_v, c_fc ~ U(−a, a) with
  /// a = √3 / √in (std 1/√in); both c_proj zero; lm_head ~ N(0, 0.001²).
  void init_weights();

  const GPTConfig& config() const { return cfg_; }
  /// Number of parameters (all, trainable or not).
  int64_t num_parameters() const;

  Transformer transformer{nullptr};
  LoRALinear lm_head{nullptr};

 private:
  GPTConfig cfg_;
  torch::Tensor cos_,
      sin_;  // (1, sequence_len, 1, head_dim/2) rotary tables (not parameters/buffers)
};
TORCH_MODULE(GPT);

/// Mean cross-entropy of logits (B, T, V) against targets (B, T) (−1 ignored), in nats.
torch::Tensor lm_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets);

}  // namespace muft::train
