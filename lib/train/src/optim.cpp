// AdamW and Muon update rules and the hybrid group optimizer (optim.h).
#include "muft/train/optim.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "muft/train/adamw.h"
#include "muft/train/muon.h"

namespace muft::train {

// ---------------------------------------------------------------- AdamW

bool AdamWOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& msg) {
    if (error) *error = msg;
    return false;
  };
  if (!(lr >= 0.0) || !std::isfinite(lr)) return fail("AdamW lr must be a finite number >= 0");
  if (!(beta1 >= 0.0 && beta1 < 1.0)) return fail("AdamW beta1 must be in [0, 1)");
  if (!(beta2 >= 0.0 && beta2 < 1.0)) return fail("AdamW beta2 must be in [0, 1)");
  if (!(eps > 0.0) || !std::isfinite(eps)) return fail("AdamW eps must be > 0");
  if (!(weight_decay >= 0.0) || !std::isfinite(weight_decay))
    return fail("AdamW weight_decay must be >= 0");
  return true;
}

void adamw_update(torch::Tensor& p, const torch::Tensor& grad, torch::Tensor& exp_avg,
                  torch::Tensor& exp_avg_sq, int64_t step, double lr, const AdamWOptions& o) {
  // Same sequence of operations as torch.optim.AdamW (1.13, single-tensor path).
  if (o.weight_decay != 0.0) p.mul_(1.0 - lr * o.weight_decay);
  exp_avg.mul_(o.beta1).add_(grad, 1.0 - o.beta1);
  exp_avg_sq.mul_(o.beta2).addcmul_(grad, grad, 1.0 - o.beta2);
  const double t = static_cast<double>(step);
  const double bias_correction1 = 1.0 - std::pow(o.beta1, t);
  const double bias_correction2 = 1.0 - std::pow(o.beta2, t);
  const double step_size = lr / bias_correction1;
  auto denom = (exp_avg_sq.sqrt() / std::sqrt(bias_correction2)).add_(o.eps);
  p.addcdiv_(exp_avg, denom, -step_size);
}

// ---------------------------------------------------------------- Muon

MuonVariant parse_muon_variant(const std::string& s) {
  if (s == "moonlight") return MuonVariant::kMoonlight;
  if (s == "original") return MuonVariant::kOriginal;
  throw std::invalid_argument("unknown Muon variant '" + s + "': expected moonlight or original");
}

std::string to_string(MuonVariant v) {
  return v == MuonVariant::kMoonlight ? "moonlight" : "original";
}

bool MuonOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& msg) {
    if (error) *error = msg;
    return false;
  };
  if (!(lr >= 0.0) || !std::isfinite(lr)) return fail("Muon lr must be a finite number >= 0");
  if (!(momentum >= 0.0 && momentum < 1.0)) return fail("Muon momentum must be in [0, 1)");
  if (!(weight_decay >= 0.0) || !std::isfinite(weight_decay))
    return fail("Muon weight_decay must be >= 0");
  return ns.IsValid(error);
}

double muon_shape_scale(MuonVariant variant, int64_t m, int64_t n) {
  const double dm = static_cast<double>(m), dn = static_cast<double>(n);
  if (variant == MuonVariant::kMoonlight) return 0.2 * std::sqrt(std::max(dm, dn));
  return std::sqrt(std::max(1.0, dm / dn));
}

void muon_update(torch::Tensor& p, const torch::Tensor& grad, torch::Tensor& momentum, double lr,
                 const MuonOptions& o) {
  const double beta = o.momentum;
  torch::Tensor u;
  if (o.variant == MuonVariant::kMoonlight) {
    momentum.mul_(beta).add_(grad);                        // M ← βM + G
    u = o.nesterov ? grad.add(momentum, beta) : momentum;  // G + βM
  } else {
    momentum.lerp_(grad, 1.0 - beta);                       // M ← βM + (1 − β)G
    u = o.nesterov ? grad.lerp(momentum, beta) : momentum;  // (1 − β)G + βM
  }
  auto update = newton_schulz(u, o.ns);
  const int64_t m = p.size(0);
  const int64_t n = p.numel() / m;
  if (o.weight_decay != 0.0) p.mul_(1.0 - lr * o.weight_decay);
  p.add_(update, -lr * muon_shape_scale(o.variant, m, n));
}

// ---------------------------------------------------------------- Optimizer

std::string to_string(UpdateRule r) {
  return r == UpdateRule::kAdamW ? "adamw" : "muon";
}

Optimizer::Optimizer(std::vector<ParamGroup> groups) : groups_(std::move(groups)) {
  std::set<std::string> seen_names;
  std::set<const void*> seen_tensors;
  for (const auto& g : groups_) {
    std::string error;
    const bool ok = std::visit([&](const auto& o) { return o.IsValid(&error); }, g.options);
    if (!ok) throw std::invalid_argument("parameter group '" + g.name + "': " + error);
    if (g.names.size() != g.params.size())
      throw std::invalid_argument("parameter group '" + g.name +
                                  "': names and params differ in length");
    for (std::size_t i = 0; i < g.params.size(); ++i) {
      const auto& p = g.params[i];
      const auto& name = g.names[i];
      if (!p.defined() || !p.is_floating_point() || !p.is_leaf())
        throw std::invalid_argument("parameter '" + name +
                                    "' must be a defined floating-point leaf tensor");
      if (g.rule() == UpdateRule::kMuon && p.dim() < 2)
        throw std::invalid_argument("parameter '" + name + "' has dim " + std::to_string(p.dim()) +
                                    "; Muon needs dim >= 2");
      if (!seen_names.insert(name).second)
        throw std::invalid_argument("parameter '" + name + "' appears in two groups");
      if (!seen_tensors.insert(p.unsafeGetTensorImpl()).second)
        throw std::invalid_argument("parameter '" + name + "' is the same tensor as another one");
    }
  }
  state_.resize(groups_.size());
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) state_[gi].resize(groups_[gi].params.size());
}

void Optimizer::step() {
  torch::NoGradGuard no_grad;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    auto& g = groups_[gi];
    const double lr = g.lr() * lr_multiplier_;
    for (std::size_t i = 0; i < g.params.size(); ++i) {
      auto& p = g.params[i];
      const auto& grad = p.grad();
      if (!grad.defined()) continue;
      auto& st = state_[gi][i];
      if (const auto* adam = std::get_if<AdamWOptions>(&g.options)) {
        if (!st.exp_avg.defined()) {
          st.exp_avg = torch::zeros_like(p, torch::MemoryFormat::Preserve);
          st.exp_avg_sq = torch::zeros_like(p, torch::MemoryFormat::Preserve);
        }
        ++st.step;
        adamw_update(p, grad, st.exp_avg, st.exp_avg_sq, st.step, lr, *adam);
      } else {
        if (!st.momentum.defined())
          st.momentum = torch::zeros_like(p, torch::MemoryFormat::Preserve);
        ++st.step;
        muon_update(p, grad, st.momentum, lr, std::get<MuonOptions>(g.options));
      }
    }
  }
  ++steps_taken_;
}

void Optimizer::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params)
      if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
}

namespace {
torch::Tensor int64_scalar(int64_t v) {
  return torch::full({1}, v, torch::kInt64);
}
}  // namespace

NamedTensors Optimizer::state_tensors() const {
  NamedTensors out;
  out.emplace_back("optimizer/steps_taken", int64_scalar(steps_taken_));
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    const auto& g = groups_[gi];
    for (std::size_t i = 0; i < g.params.size(); ++i) {
      const auto& st = state_[gi][i];
      if (st.step == 0) continue;
      const auto& name = g.names[i];
      if (g.rule() == UpdateRule::kAdamW) {
        out.emplace_back("adamw/exp_avg/" + name, st.exp_avg.detach().clone());
        out.emplace_back("adamw/exp_avg_sq/" + name, st.exp_avg_sq.detach().clone());
        out.emplace_back("adamw/step/" + name, int64_scalar(st.step));
      } else {
        out.emplace_back("muon/momentum/" + name, st.momentum.detach().clone());
        out.emplace_back("muon/step/" + name, int64_scalar(st.step));
      }
    }
  }
  return out;
}

void Optimizer::load_state_tensors(const NamedTensors& state) {
  // Index parameters by name.
  std::unordered_map<std::string, std::pair<std::size_t, std::size_t>> where;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi)
    for (std::size_t i = 0; i < groups_[gi].names.size(); ++i)
      where[groups_[gi].names[i]] = {gi, i};

  std::vector<std::vector<ParamState>> fresh(groups_.size());
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) fresh[gi].resize(groups_[gi].params.size());
  int64_t steps_taken = 0;

  auto read_int = [](const std::string& key, const torch::Tensor& t) {
    if (!t.defined() || t.scalar_type() != torch::kInt64 || t.numel() != 1)
      throw std::invalid_argument("optimizer state '" + key + "' must be one int64 value");
    return t.item<int64_t>();
  };
  for (const auto& [key, t] : state) {
    if (key == "optimizer/steps_taken") {
      steps_taken = read_int(key, t);
      continue;
    }
    const auto first = key.find('/');
    const auto second = first == std::string::npos ? first : key.find('/', first + 1);
    if (second == std::string::npos)
      throw std::invalid_argument("unknown optimizer state entry '" + key + "'");
    const std::string rule = key.substr(0, first);
    const std::string field = key.substr(first + 1, second - first - 1);
    const std::string name = key.substr(second + 1);
    auto it = where.find(name);
    if (it == where.end())
      throw std::invalid_argument("optimizer state '" + key + "' names no parameter of this model");
    const auto [gi, i] = it->second;
    const auto& g = groups_[gi];
    if (rule != to_string(g.rule()))
      throw std::invalid_argument("optimizer state '" + key + "' is for " + rule + " but '" + name +
                                  "' is in " + to_string(g.rule()) + " group '" + g.name + "'");
    auto& st = fresh[gi][i];
    const auto& p = g.params[i];
    auto tensor_like_param = [&]() {
      if (!t.defined() || t.sizes() != p.sizes() || t.scalar_type() != p.scalar_type())
        throw std::invalid_argument("optimizer state '" + key +
                                    "' does not match the parameter's shape and dtype");
      return t.detach().clone().to(p.device());
    };
    if (field == "step") {
      st.step = read_int(key, t);
    } else if (rule == "adamw" && field == "exp_avg") {
      st.exp_avg = tensor_like_param();
    } else if (rule == "adamw" && field == "exp_avg_sq") {
      st.exp_avg_sq = tensor_like_param();
    } else if (rule == "muon" && field == "momentum") {
      st.momentum = tensor_like_param();
    } else {
      throw std::invalid_argument("unknown optimizer state entry '" + key + "'");
    }
  }
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    for (std::size_t i = 0; i < fresh[gi].size(); ++i) {
      const auto& st = fresh[gi][i];
      const bool adam = groups_[gi].rule() == UpdateRule::kAdamW;
      const bool complete =
          adam ? (st.exp_avg.defined() && st.exp_avg_sq.defined()) : st.momentum.defined();
      const bool any =
          st.step != 0 || st.exp_avg.defined() || st.exp_avg_sq.defined() || st.momentum.defined();
      if (any && (!complete || st.step < 1))
        throw std::invalid_argument("optimizer state of '" + groups_[gi].names[i] +
                                    "' is incomplete");
    }
  }
  state_ = std::move(fresh);
  steps_taken_ = steps_taken;
}

}  // namespace muft::train
