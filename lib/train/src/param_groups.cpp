// The paper's hybrid parameter groups (param_groups.h).
#include "muft/train/param_groups.h"

#include <cmath>
#include <regex>
#include <stdexcept>

#include "muft/train/lora.h"

namespace muft::train {

namespace {
/// The one table of optimizer names: the first name of each choice is its canonical spelling.
const std::pair<OptimizerChoice, const char*> kOptimizerNames[] = {
    {OptimizerChoice::kAdamW, "adam"},
    {OptimizerChoice::kAdamW, "adamw"},
    {OptimizerChoice::kMuon, "muon"},
    {OptimizerChoice::kMuonPE, "muon-pe"},
};
}  // namespace

OptimizerChoice parse_optimizer_choice(const std::string& s) {
  for (const auto& [c, n] : kOptimizerNames)
    if (s == n) return c;
  throw std::invalid_argument("unknown optimizer '" + s + "': expected adam, muon or muon-pe");
}

std::string to_string(OptimizerChoice c) {
  for (const auto& [choice, n] : kOptimizerNames)
    if (choice == c) return n;
  return "?";
}

std::vector<std::string> optimizer_choice_names() {
  std::vector<std::string> out;
  for (const auto& kv : kOptimizerNames) out.emplace_back(kv.second);
  return out;
}

void ParamGroupOptions::set_single_lr(double lr) {
  matrix_lr = embedding_lr = unembedding_lr = scalar_lr = lr;
}

bool ParamGroupOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& msg) {
    if (error) *error = msg;
    return false;
  };
  for (double lr : {matrix_lr, embedding_lr, unembedding_lr, scalar_lr})
    if (!(lr >= 0.0) || !std::isfinite(lr)) return fail("learning rates must be finite and >= 0");
  for (const auto* re : {&embedding_regex, &head_regex}) {
    try {
      std::regex r(*re);
    } catch (const std::regex_error&) {
      return fail("'" + *re + "' is not a valid regular expression");
    }
  }
  std::string why;
  if (!adamw_matrix.IsValid(&why)) return fail("matrix AdamW: " + why);
  if (!adamw_aux.IsValid(&why)) return fail("embedding/head AdamW: " + why);
  if (!muon.IsValid(&why)) return fail("Muon: " + why);
  return true;
}

double width_lr_factor(int64_t model_dim) {
  return model_dim > 0 ? std::pow(static_cast<double>(model_dim) / 768.0, -0.5) : 1.0;
}

std::vector<ParamGroup> build_param_groups(const torch::nn::Module& model,
                                           const ParamGroupOptions& opts) {
  std::string error;
  if (!opts.IsValid(&error)) throw std::invalid_argument("parameter groups: " + error);
  const std::regex emb_re(opts.embedding_regex), head_re(opts.head_regex);
  const double factor = width_lr_factor(opts.model_dim);

  auto adamw = [&](double lr, const AdamWOptions& base) {
    AdamWOptions o = base;
    o.lr = lr;
    return o;
  };
  MuonOptions muon = opts.muon;
  muon.lr = opts.matrix_lr;
  muon.ns.coefficients = opts.optimizer == OptimizerChoice::kMuonPE ? NSCoefficients::kPolarExpress
                                                                    : NSCoefficients::kNS5;
  const bool use_muon = opts.optimizer != OptimizerChoice::kAdamW;

  ParamGroup matrix, lora, embedding, head, scalar;
  matrix.name = "matrix";
  lora.name = "lora";
  for (auto* g : {&matrix, &lora}) {
    if (use_muon) {
      g->options = muon;
    } else {
      g->options = adamw(opts.matrix_lr, opts.adamw_matrix);
    }
  }
  embedding.name = "embedding";
  embedding.options = adamw(opts.embedding_lr * factor, opts.adamw_aux);
  head.name = "head";
  head.options = adamw(opts.unembedding_lr * factor, opts.adamw_aux);
  scalar.name = "scalar";
  scalar.options = adamw(opts.scalar_lr, opts.adamw_aux);

  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    const auto& name = item.key();
    const auto& p = item.value();
    if (!p.requires_grad()) continue;
    ParamGroup* g = nullptr;
    if (is_lora_parameter_name(name)) {
      g = &lora;
    } else if (std::regex_search(name, emb_re)) {
      g = &embedding;
    } else if (std::regex_search(name, head_re)) {
      g = &head;
    } else if (p.dim() < 2) {
      g = &scalar;
    } else {
      g = &matrix;
    }
    if (g->rule() == UpdateRule::kMuon && p.dim() < 2) g = &scalar;  // e.g. a 1-D adapter
    g->names.push_back(name);
    g->params.push_back(p);
  }
  std::vector<ParamGroup> groups;
  for (auto* g : {&matrix, &lora, &embedding, &head, &scalar})
    if (!g->params.empty()) groups.push_back(std::move(*g));
  if (groups.empty()) throw std::invalid_argument("the model has no trainable parameters");
  return groups;
}

}  // namespace muft::train
