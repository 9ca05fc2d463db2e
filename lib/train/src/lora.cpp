// LoRA-capable Linear layer and the helpers that attach adapters by name.
#include "muft/train/lora.h"

#include <cmath>
#include <regex>
#include <stdexcept>

namespace muft::train {

LoRAScaling parse_lora_scaling(const std::string& s) {
  if (s == "alpha_over_r") return LoRAScaling::kAlphaOverR;
  if (s == "alpha_over_sqrt_r") return LoRAScaling::kAlphaOverSqrtR;
  throw std::invalid_argument("unknown LoRA scaling '" + s +
                              "': expected alpha_over_r or alpha_over_sqrt_r");
}

LoRAInit parse_lora_init(const std::string& s) {
  if (s == "kaiming") return LoRAInit::kKaiming;
  if (s == "pissa") return LoRAInit::kPiSSA;
  throw std::invalid_argument("unknown LoRA init '" + s + "': expected kaiming or pissa");
}

std::string to_string(LoRAScaling s) {
  return s == LoRAScaling::kAlphaOverR ? "alpha_over_r" : "alpha_over_sqrt_r";
}

std::string to_string(LoRAInit i) {
  return i == LoRAInit::kKaiming ? "kaiming" : "pissa";
}

double LoRAOptions::scale() const {
  const double r = static_cast<double>(rank);
  return scaling == LoRAScaling::kAlphaOverR ? alpha / r : alpha / std::sqrt(r);
}

bool LoRAOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& msg) {
    if (error) *error = msg;
    return false;
  };
  if (rank < 1) return fail("LoRA rank must be >= 1, got " + std::to_string(rank));
  if (!(alpha > 0.0) || !std::isfinite(alpha))
    return fail("LoRA alpha must be a finite number > 0, got " + std::to_string(alpha));
  if (targets.empty()) return fail("LoRA targets must name at least one layer pattern");
  for (const auto& t : targets) {
    if (t.empty()) return fail("LoRA target patterns must be non-empty");
    try {
      std::regex re(t);
    } catch (const std::regex_error&) {
      return fail("LoRA target pattern '" + t + "' is not a valid regular expression");
    }
  }
  return true;
}

LoRALinearImpl::LoRALinearImpl(int64_t in_features, int64_t out_features)
    : in_(in_features), out_(out_features) {
  if (in_features < 1 || out_features < 1) throw std::invalid_argument("Linear sizes must be >= 1");
  weight = register_parameter("weight", torch::zeros({out_features, in_features}));
}

torch::Tensor LoRALinearImpl::adapter_delta(const torch::Tensor& x) {
  if (!lora_A.defined() || merged_) return {};
  // (…, in) → (…, r) → (…, out): never materializes the (out, in) product.
  return torch::linear(torch::linear(x, lora_A), lora_B).mul(scale_);
}

torch::Tensor LoRALinearImpl::forward(const torch::Tensor& x) {
  auto y = torch::linear(x, weight);
  if (auto d = adapter_delta(x); d.defined()) y = y + d;
  return y;
}

void LoRALinearImpl::attach_adapter(int64_t rank, double scale, LoRAInit init) {
  if (lora_A.defined()) throw std::invalid_argument("layer already has a LoRA adapter");
  if (rank < 1 || rank > std::min(in_, out_))
    throw std::invalid_argument("LoRA rank must be in [1, min(out, in)] = [1, " +
                                std::to_string(std::min(in_, out_)) + "], got " +
                                std::to_string(rank));
  if (!(scale > 0.0)) throw std::invalid_argument("LoRA scale must be > 0");
  torch::NoGradGuard no_grad;
  const auto opts = weight.options();
  torch::Tensor A, B;
  if (init == LoRAInit::kKaiming) {
    // torch.nn.init.kaiming_uniform_(a=√5) on a (r, in) tensor: bound = 1/√in.
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_));
    A = torch::empty({rank, in_}, opts).uniform_(-bound, bound);
    B = torch::zeros({out_, rank}, opts);
  } else {
    // PiSSA in float64 so that W0 − s·B·A loses as little as possible.
    auto w64 = weight.to(torch::kFloat64);
    auto [U, S, Vh] = torch::linalg_svd(w64, /*full_matrices=*/false);
    auto root = (S.slice(0, 0, rank) / scale).sqrt();     // √(Σ_r / s)
    auto A64 = root.unsqueeze(1) * Vh.slice(0, 0, rank);  // (r, in)
    auto B64 = U.slice(1, 0, rank) * root.unsqueeze(0);   // (out, r)
    A = A64.to(opts.dtype());
    B = B64.to(opts.dtype());
    // Subtract the float32 adapter actually used, so W0 + s·B·A reproduces W.
    weight.copy_((w64 - scale * B.to(torch::kFloat64).mm(A.to(torch::kFloat64))).to(opts.dtype()));
  }
  weight.set_requires_grad(false);
  lora_A = register_parameter("lora_A", A);
  lora_B = register_parameter("lora_B", B);
  scale_ = scale;
  merged_ = false;
}

void LoRALinearImpl::merge() {
  if (!lora_A.defined() || merged_) return;
  torch::NoGradGuard no_grad;
  weight.add_(lora_B.mm(lora_A), scale_);
  merged_ = true;
}

void LoRALinearImpl::unmerge() {
  if (!lora_A.defined() || !merged_) return;
  torch::NoGradGuard no_grad;
  weight.sub_(lora_B.mm(lora_A), scale_);
  merged_ = false;
}

bool is_lora_parameter_name(const std::string& name) {
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".lora_A") || ends_with(".lora_B") || name == "lora_A" || name == "lora_B";
}

std::vector<std::string> apply_lora(torch::nn::Module& model, const LoRAOptions& opts) {
  std::string error;
  if (!opts.IsValid(&error)) throw std::invalid_argument(error);
  std::vector<std::regex> patterns;
  for (const auto& t : opts.targets) patterns.emplace_back(t);
  std::vector<std::string> adapted;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    auto* lin = item.value()->as<LoRALinearImpl>();
    if (!lin) continue;
    bool match = false;
    for (const auto& re : patterns) match = match || std::regex_search(item.key(), re);
    if (!match) continue;
    lin->attach_adapter(opts.rank, opts.scale(), opts.init);
    adapted.push_back(item.key());
  }
  if (adapted.empty())
    throw std::invalid_argument("LoRA targets matched no Linear layer of the model");
  for (auto& p : model.named_parameters(/*recurse=*/true)) {
    if (!is_lora_parameter_name(p.key())) p.value().set_requires_grad(false);
  }
  return adapted;
}

namespace {
template <typename F>
void for_each_adapter(torch::nn::Module& model, F f) {
  for (const auto& m : model.modules(/*include_self=*/true)) {
    auto* lin = m->as<LoRALinearImpl>();
    if (lin && lin->has_adapter()) f(*lin);
  }
}
}  // namespace

void merge_lora(torch::nn::Module& model) {
  for_each_adapter(model, [](LoRALinearImpl& l) { l.merge(); });
}

void unmerge_lora(torch::nn::Module& model) {
  for_each_adapter(model, [](LoRALinearImpl& l) { l.unmerge(); });
}

}  // namespace muft::train
