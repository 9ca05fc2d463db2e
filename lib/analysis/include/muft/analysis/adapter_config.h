#pragma once
/// \file adapter_config.h
/// A PEFT adapter's `adapter_config.json`: the keys that decide how its factors merge into ΔW
/// (rank and alpha with their per-module patterns, rsLoRA, DoRA, AdaLoRA, fan_in_fan_out), the
/// modules it targets, and the initializations that change the base weights. Matching follows
/// PEFT's own rules (docs/analyzer.md, "PEFT adapters").

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "muft/analysis/lora.h"

namespace muft::analysis {

/// PEFT's `target_modules` / `exclude_modules`: a regex that must match the whole module key,
/// or a list of names each matching the key itself or its last dotted components.
struct ModuleSelector {
  bool present = false;  ///< the key was in the file (and not null)
  bool is_regex = false;
  std::string regex;               ///< when is_regex
  std::vector<std::string> names;  ///< otherwise
  /// PEFT's check_target_module_exists: re.fullmatch(regex, key), or key == name or key ends
  /// with "." + name for some name. "all-linear" (PEFT's shorthand) matches every key.
  bool matches(const std::string& key) const;
};

/// The keys of adapter_config.json muft reads (PEFT LoraConfig / AdaLoraConfig).
struct AdapterConfig {
  std::string path;         ///< where it was read from
  std::string peft_type;    ///< "LORA", "ADALORA", ...; "" when the key is absent (LoRA assumed)
  double r = NAN;           ///< default rank
  double lora_alpha = NAN;  ///< default alpha
  bool use_rslora = false;  ///< s = α/√r instead of α/r
  bool use_dora = false;    ///< DoRA: the adapter also holds lora_magnitude_vector
  bool fan_in_fan_out = false;  ///< the base weight is stored [in, out] (GPT-2's Conv1D)
  double init_r = NAN;          ///< AdaLoRA: the initial rank, at which its ranknum stays fixed
  /// Per-module overrides of r and lora_alpha (LoRA only; AdaLoRA's rank_pattern holds masks),
  /// in file order: PEFT takes the first key that matches.
  std::vector<std::pair<std::string, double>> rank_pattern, alpha_pattern;
  ModuleSelector target_modules, exclude_modules;
  /// init_lora_weights as text: "true", "false", "gaussian", "pissa", "pissa_niter_4", "olora",
  /// "corda", "loftq", "eva", ...
  std::string init_lora_weights = "true";

  bool is_adalora() const { return peft_type == "ADALORA"; }
  /// "" for LoRA and AdaLoRA adapters; otherwise a sentence saying muft does not merge this
  /// peft_type (IA3, BOFT, LoHa, ...), whose tensors are then plain matrices.
  std::string unsupported_type_note() const;
  /// "" unless init_lora_weights is an initialization that changes the base weights (PiSSA,
  /// OLoRA, CorDA: the adapter then belongs to W0 − s·B₀A₀ unless PEFT converted it, which
  /// rewrites init_lora_weights to true; LoftQ: to a quantized W0): then the warning for the
  /// reason column.
  std::string base_change_warning() const;
  /// Whether target_modules / exclude_modules select the module (true when neither is given).
  bool targets(const std::string& module_key) const;
  /// The scale of one module: LoRA α/r or α/√r with rank_pattern / alpha_pattern applied;
  /// AdaLoRA α/(ranknum + 1e-5) with ranknum = init_r (α = init_r when lora_alpha <= 0, as
  /// PEFT does).
  LoraScale scale_for(const std::string& module_key) const;
};

/// Reads adapter_config.json. std::nullopt when the file does not exist; throws
/// std::runtime_error naming the file and the key when it is not valid JSON, a key has the
/// wrong type, or a pattern or target_modules regex does not compile.
std::optional<AdapterConfig> read_adapter_config(const std::string& path);

/// The name PEFT matches patterns and target_modules against: the module path inside the base
/// model, i.e. the tensor-name prefix without PEFT's "base_model.model.".
std::string peft_module_key(const std::string& module);

/// PEFT's get_pattern_key: the first entry of `patterns` (in order) whose key K makes the regex
/// `(.*\.)?(K)$` match the whole module key, or nullptr. (ECMAScript regex; PEFT uses Python's
/// `re`, the same for the dotted names and wildcards these keys hold.)
const std::pair<std::string, double>* match_pattern(
    const std::vector<std::pair<std::string, double>>& patterns, const std::string& module_key);

}  // namespace muft::analysis
