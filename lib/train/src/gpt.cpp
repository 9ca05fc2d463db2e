// NanoChat-style GPT: see gpt.h for the architecture and parameter names.
#include "muft/train/gpt.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace muft::train {

namespace {
constexpr const char* kConfigKeys[] = {"sequence_len", "vocab_size", "n_layer",  "n_head",
                                       "n_embd",       "rope_base",  "norm_eps", "logit_softcap"};
}  // namespace

bool GPTConfig::IsValid(std::string* error) const {
  auto fail = [&](const std::string& msg) {
    if (error) *error = msg;
    return false;
  };
  if (sequence_len < 1) return fail("sequence_len must be >= 1");
  if (vocab_size < 2) return fail("vocab_size must be >= 2");
  if (n_layer < 1) return fail("n_layer must be >= 1");
  if (n_head < 1) return fail("n_head must be >= 1");
  if (n_embd < 2) return fail("n_embd must be >= 2");
  if (n_embd % n_head != 0)
    return fail("n_embd (" + std::to_string(n_embd) + ") must be divisible by n_head (" +
                std::to_string(n_head) + ")");
  if (head_dim() % 2 != 0)
    return fail("head_dim = n_embd / n_head must be even for rotary embeddings, got " +
                std::to_string(head_dim()));
  if (!(rope_base > 1.0) || !std::isfinite(rope_base)) return fail("rope_base must be > 1");
  if (!(norm_eps > 0.0) || !std::isfinite(norm_eps)) return fail("norm_eps must be > 0");
  if (!(logit_softcap >= 0.0) || !std::isfinite(logit_softcap))
    return fail("logit_softcap must be >= 0 (0 disables it)");
  return true;
}

nlohmann::json GPTConfig::to_json() const {
  return nlohmann::json{{"sequence_len", sequence_len},
                        {"vocab_size", vocab_size},
                        {"n_layer", n_layer},
                        {"n_head", n_head},
                        {"n_embd", n_embd},
                        {"rope_base", rope_base},
                        {"norm_eps", norm_eps},
                        {"logit_softcap", logit_softcap}};
}

GPTConfig GPTConfig::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("model config must be a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (const char* k : kConfigKeys) known = known || it.key() == k;
    if (!known) throw std::invalid_argument("unknown model config key '" + it.key() + "'");
  }
  GPTConfig c;
  auto get_int = [&](const char* key, int64_t& out) {
    if (!j.contains(key)) return;
    if (!j[key].is_number_integer())
      throw std::invalid_argument(std::string("model config '") + key + "' must be an integer");
    out = j[key].get<int64_t>();
  };
  auto get_double = [&](const char* key, double& out) {
    if (!j.contains(key)) return;
    if (!j[key].is_number())
      throw std::invalid_argument(std::string("model config '") + key + "' must be a number");
    out = j[key].get<double>();
  };
  get_int("sequence_len", c.sequence_len);
  get_int("vocab_size", c.vocab_size);
  get_int("n_layer", c.n_layer);
  get_int("n_head", c.n_head);
  get_int("n_embd", c.n_embd);
  get_double("rope_base", c.rope_base);
  get_double("norm_eps", c.norm_eps);
  get_double("logit_softcap", c.logit_softcap);
  std::string error;
  if (!c.IsValid(&error)) throw std::invalid_argument("invalid model config: " + error);
  return c;
}

GPTConfig tiny_config() {
  return GPTConfig{};
}

torch::Tensor rms_norm(const torch::Tensor& x, double eps) {
  return x * torch::rsqrt(x.square().mean(-1, /*keepdim=*/true) + eps);
}

namespace {
// x: (B, T, H, D); cos, sin: (1, T, 1, D/2). Rotates the two halves of each head (NanoChat).
torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos,
                           const torch::Tensor& sin) {
  const int64_t d = x.size(3) / 2;
  auto x1 = x.slice(3, 0, d);
  auto x2 = x.slice(3, d);
  auto y1 = x1 * cos + x2 * sin;
  auto y2 = x2 * cos - x1 * sin;
  return torch::cat({y1, y2}, 3);
}
}  // namespace

CausalSelfAttentionImpl::CausalSelfAttentionImpl(const GPTConfig& cfg, int64_t /*layer_idx*/)
    : n_head_(cfg.n_head), head_dim_(cfg.head_dim()), eps_(cfg.norm_eps) {
  c_q = register_module("c_q", LoRALinear(cfg.n_embd, cfg.n_embd));
  c_k = register_module("c_k", LoRALinear(cfg.n_embd, cfg.n_embd));
  c_v = register_module("c_v", LoRALinear(cfg.n_embd, cfg.n_embd));
  c_proj = register_module("c_proj", LoRALinear(cfg.n_embd, cfg.n_embd));
}

torch::Tensor CausalSelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                               const torch::Tensor& sin) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2);
  // One (B·T, C) × (C, 3C) product instead of three: the same math, fewer passes over x.
  auto qkv = torch::linear(x, torch::cat({c_q->weight, c_k->weight, c_v->weight}, 0));
  auto parts = qkv.split(C, -1);
  auto q = parts[0], k = parts[1], v = parts[2];
  if (auto d = c_q->adapter_delta(x); d.defined()) q = q + d;
  if (auto d = c_k->adapter_delta(x); d.defined()) k = k + d;
  if (auto d = c_v->adapter_delta(x); d.defined()) v = v + d;
  q = q.reshape({B, T, n_head_, head_dim_});
  k = k.reshape({B, T, n_head_, head_dim_});
  v = v.reshape({B, T, n_head_, head_dim_});
  // (B·H, T, D) batches for bmm.
  q = rms_norm(apply_rotary(q, cos, sin), eps_)
          .transpose(1, 2)
          .reshape({B * n_head_, T, head_dim_});
  k = rms_norm(apply_rotary(k, cos, sin), eps_)
          .transpose(1, 2)
          .reshape({B * n_head_, T, head_dim_});
  v = v.transpose(1, 2).reshape({B * n_head_, T, head_dim_});
  if (!mask_.defined() || mask_.size(0) != T || mask_.device() != x.device()) {
    // Additive causal mask: 0 on and below the diagonal, −∞ above.
    mask_ = torch::full({T, T}, -std::numeric_limits<float>::infinity(),
                        torch::TensorOptions().dtype(x.dtype()).device(x.device()))
                .triu(1);
  }
  // mask + (q kᵀ)/√D in one call, then softmax over keys.
  auto att = torch::baddbmm(mask_, q, k.transpose(1, 2), /*beta=*/1.0,
                            /*alpha=*/1.0 / std::sqrt(double(head_dim_)))
                 .softmax(-1);
  auto y = torch::bmm(att, v).view({B, n_head_, T, head_dim_}).transpose(1, 2).reshape({B, T, C});
  return c_proj(y);
}

MLPImpl::MLPImpl(const GPTConfig& cfg) {
  c_fc = register_module("c_fc", LoRALinear(cfg.n_embd, 4 * cfg.n_embd));
  c_proj = register_module("c_proj", LoRALinear(4 * cfg.n_embd, cfg.n_embd));
}

torch::Tensor MLPImpl::forward(const torch::Tensor& x) {
  return c_proj(torch::relu(c_fc(x)).square());
}

BlockImpl::BlockImpl(const GPTConfig& cfg, int64_t layer_idx) : eps_(cfg.norm_eps) {
  attn = register_module("attn", CausalSelfAttention(cfg, layer_idx));
  mlp = register_module("mlp", MLP(cfg));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                 const torch::Tensor& sin) {
  auto h = x + attn(rms_norm(x, eps_), cos, sin);
  return h + mlp(rms_norm(h, eps_));
}

TransformerImpl::TransformerImpl(const GPTConfig& cfg) {
  wte = register_module("wte", torch::nn::Embedding(cfg.vocab_size, cfg.n_embd));
  h = register_module("h", torch::nn::ModuleList());
  for (int64_t i = 0; i < cfg.n_layer; ++i) h->push_back(Block(cfg, i));
}

GPTImpl::GPTImpl(const GPTConfig& cfg) : cfg_(cfg) {
  std::string error;
  if (!cfg.IsValid(&error)) throw std::invalid_argument("invalid model config: " + error);
  transformer = register_module("transformer", Transformer(cfg));
  lm_head = register_module("lm_head", LoRALinear(cfg.n_embd, cfg.vocab_size));
  // Rotary tables in float64, stored in float32 (NanoChat computes them once).
  const int64_t half = cfg.head_dim() / 2;
  auto ch = torch::arange(0, cfg.head_dim(), 2, torch::kFloat64);
  auto inv_freq = 1.0 / torch::pow(cfg.rope_base, ch / double(cfg.head_dim()));
  auto t = torch::arange(cfg.sequence_len, torch::kFloat64);
  auto freqs = torch::outer(t, inv_freq);  // (T, half)
  cos_ = freqs.cos().to(torch::kFloat32).view({1, cfg.sequence_len, 1, half});
  sin_ = freqs.sin().to(torch::kFloat32).view({1, cfg.sequence_len, 1, half});
  init_weights();
}

void GPTImpl::init_weights() {
  torch::NoGradGuard no_grad;
  transformer->wte->weight.normal_(0.0, 1.0);
  auto init_in = [](LoRALinear& l) {
    const double bound = std::sqrt(3.0) / std::sqrt(double(l->in_features()));
    l->weight.uniform_(-bound, bound);
  };
  for (const auto& m : *transformer->h) {
    auto* block = m->as<BlockImpl>();
    init_in(block->attn->c_q);
    init_in(block->attn->c_k);
    init_in(block->attn->c_v);
    block->attn->c_proj->weight.zero_();
    init_in(block->mlp->c_fc);
    block->mlp->c_proj->weight.zero_();
  }
  lm_head->weight.normal_(0.0, 0.001);
}

torch::Tensor GPTImpl::forward(const torch::Tensor& idx) {
  if (idx.dim() != 2 || idx.scalar_type() != torch::kInt64)
    throw std::invalid_argument("GPT input must be a (B, T) int64 tensor");
  const int64_t T = idx.size(1);
  if (T < 1 || T > cfg_.sequence_len)
    throw std::invalid_argument("sequence length " + std::to_string(T) + " exceeds the context " +
                                std::to_string(cfg_.sequence_len));
  if (cos_.device() != idx.device()) {
    cos_ = cos_.to(idx.device());
    sin_ = sin_.to(idx.device());
  }
  auto cos = cos_.slice(1, 0, T);
  auto sin = sin_.slice(1, 0, T);
  auto x = rms_norm(transformer->wte(idx), cfg_.norm_eps);
  for (const auto& m : *transformer->h) x = m->as<BlockImpl>()->forward(x, cos, sin);
  auto logits = lm_head(rms_norm(x, cfg_.norm_eps));
  if (cfg_.logit_softcap > 0.0) {
    logits = torch::tanh(logits / cfg_.logit_softcap) * cfg_.logit_softcap;
  }
  return logits;
}

torch::Tensor GPTImpl::loss(const torch::Tensor& idx, const torch::Tensor& targets) {
  return lm_cross_entropy(forward(idx), targets);
}

int64_t GPTImpl::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

torch::Tensor lm_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets) {
  const int64_t V = logits.size(-1);
  return torch::nn::functional::cross_entropy(
      logits.reshape({-1, V}), targets.reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-1));
}

}  // namespace muft::train
