/// \file adapter_config.cpp
/// Reading adapter_config.json and PEFT's matching rules for patterns and target modules.

#include "muft/analysis/adapter_config.h"

#include <cctype>
#include <cmath>
#include <fstream>
#include <regex>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace muft::analysis {
namespace {

// ordered_json keeps the keys in file order: PEFT takes the first pattern that matches.
using Json = nlohmann::ordered_json;

std::regex compile(const std::string& pattern, const std::string& path, const std::string& what) {
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw std::runtime_error(path + ": " + what + " '" + pattern +
                             "' is not a valid regular expression (" + e.what() + ")");
  }
}

[[noreturn]] void wrong_type(const std::string& path, const std::string& key, const char* want) {
  throw std::runtime_error(path + ": '" + key + "' must be " + want);
}

double number(const Json& j, const std::string& key, const std::string& path) {
  const Json& v = j.at(key);
  if (v.is_null()) return NAN;
  if (!v.is_number()) wrong_type(path, key, "a number");
  return v.get<double>();
}

bool boolean(const Json& j, const std::string& key, const std::string& path) {
  const Json& v = j.at(key);
  if (v.is_null()) return false;
  if (!v.is_boolean()) wrong_type(path, key, "true or false");
  return v.get<bool>();
}

std::vector<std::pair<std::string, double>> patterns(const Json& j, const std::string& key,
                                                     const std::string& path) {
  std::vector<std::pair<std::string, double>> out;
  const Json& v = j.at(key);
  if (v.is_null()) return out;
  if (!v.is_object()) wrong_type(path, key, "an object {module pattern: number}");
  for (const auto& [k, x] : v.items()) {
    if (!x.is_number()) {
      throw std::runtime_error(path + ": " + key + " entry '" + k + "' must be a number");
    }
    compile("(.*\\.)?(" + k + ")", path, key + " key");
    out.emplace_back(k, x.get<double>());
  }
  return out;
}

ModuleSelector selector(const Json& j, const std::string& key, const std::string& path) {
  ModuleSelector s;
  const Json& v = j.at(key);
  if (v.is_null()) return s;
  s.present = true;
  if (v.is_string()) {
    s.is_regex = true;
    s.regex = v.get<std::string>();
    if (s.regex != "all-linear") compile(s.regex, path, key);
    return s;
  }
  if (!v.is_array()) wrong_type(path, key, "a regex string or a list of module names");
  for (const Json& x : v) {
    if (!x.is_string()) wrong_type(path, key, "a regex string or a list of module names");
    s.names.push_back(x.get<std::string>());
  }
  return s;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

bool ModuleSelector::matches(const std::string& key) const {
  if (!present) return false;
  if (is_regex) {
    if (regex == "all-linear") return true;
    return std::regex_match(key, std::regex(regex, std::regex::ECMAScript));
  }
  for (const std::string& n : names) {
    if (key == n) return true;
    if (key.size() > n.size() && key.compare(key.size() - n.size(), n.size(), n) == 0 &&
        key[key.size() - n.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

std::string AdapterConfig::unsupported_type_note() const {
  if (peft_type.empty() || peft_type == "LORA" || peft_type == "ADALORA") return "";
  return "adapter_config.json: peft_type " + peft_type +
         " is not merged by muft (it merges LORA and ADALORA adapters); tensors other than LoRA "
         "factors are analyzed as plain matrices";
}

std::string AdapterConfig::base_change_warning() const {
  const std::string init = lower(init_lora_weights);
  for (const char* kind : {"pissa", "olora", "corda"}) {
    if (init.compare(0, std::string(kind).size(), kind) == 0) {
      return "warning: init_lora_weights=" + init_lora_weights +
             " changes the base weights, so this adapter belongs to W0 - s*B0*A0, not to the "
             "original W0 (PEFT converts it to a plain LoRA with save_pretrained(..., "
             "path_initial_model_for_weight_conversion=...))";
    }
  }
  if (init.compare(0, 5, "loftq") == 0) {
    return "warning: init_lora_weights=" + init_lora_weights +
           " belongs to a quantized W0 (LoftQ), not to the original base weights";
  }
  return "";
}

bool AdapterConfig::targets(const std::string& module_key) const {
  if (exclude_modules.present && exclude_modules.matches(module_key)) return false;
  return !target_modules.present || target_modules.matches(module_key);
}

LoraScale AdapterConfig::scale_for(const std::string& module_key) const {
  LoraScale s;
  if (is_adalora()) {
    // PEFT's SVDLinear: scaling = lora_alpha if > 0 else r, ranknum = init_r (kept when the
    // rank allocator prunes).
    s.adalora = true;
    s.rank = init_r;
    s.alpha = std::isfinite(lora_alpha) && lora_alpha > 0 ? lora_alpha : init_r;
    return s;
  }
  s.rslora = use_rslora;
  const auto* rp = match_pattern(rank_pattern, module_key);
  const auto* ap = match_pattern(alpha_pattern, module_key);
  s.rank = rp ? rp->second : r;
  s.alpha = ap ? ap->second : lora_alpha;
  return s;
}

std::string peft_module_key(const std::string& module) {
  const std::string peft = "base_model.model.";
  return module.compare(0, peft.size(), peft) == 0 ? module.substr(peft.size()) : module;
}

const std::pair<std::string, double>* match_pattern(
    const std::vector<std::pair<std::string, double>>& patterns, const std::string& module_key) {
  for (const auto& p : patterns) {
    // re.match(rf"(.*\.)?({key})$", name): anchored at the start by match, at the end by $.
    if (std::regex_match(module_key, std::regex("(.*\\.)?(" + p.first + ")"))) return &p;
  }
  return nullptr;
}

std::optional<AdapterConfig> read_adapter_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  Json j;
  try {
    in >> j;
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw std::runtime_error(path + ": not a JSON object");
  AdapterConfig c;
  c.path = path;
  if (j.contains("peft_type")) {
    if (!j["peft_type"].is_string()) wrong_type(path, "peft_type", "a string");
    c.peft_type = j["peft_type"].get<std::string>();
  }
  if (j.contains("r")) c.r = number(j, "r", path);
  if (j.contains("lora_alpha")) c.lora_alpha = number(j, "lora_alpha", path);
  if (j.contains("use_rslora")) c.use_rslora = boolean(j, "use_rslora", path);
  if (j.contains("use_dora")) c.use_dora = boolean(j, "use_dora", path);
  if (j.contains("fan_in_fan_out")) c.fan_in_fan_out = boolean(j, "fan_in_fan_out", path);
  if (j.contains("init_r")) c.init_r = number(j, "init_r", path);
  // AdaLoRA's rank_pattern maps lora_E names to keep-masks, already applied to the saved
  // tensors; only LoRA's maps module patterns to ranks.
  if (j.contains("rank_pattern") && !c.is_adalora())
    c.rank_pattern = patterns(j, "rank_pattern", path);
  if (j.contains("alpha_pattern")) c.alpha_pattern = patterns(j, "alpha_pattern", path);
  if (j.contains("target_modules")) c.target_modules = selector(j, "target_modules", path);
  if (j.contains("exclude_modules")) c.exclude_modules = selector(j, "exclude_modules", path);
  if (j.contains("init_lora_weights")) {
    const Json& v = j["init_lora_weights"];
    if (v.is_boolean()) {
      c.init_lora_weights = v.get<bool>() ? "true" : "false";
    } else if (v.is_string()) {
      c.init_lora_weights = v.get<std::string>();
    } else if (!v.is_null()) {
      wrong_type(path, "init_lora_weights", "true, false or a string");
    }
  }
  return c;
}

}  // namespace muft::analysis
