/// \file layer_groups.cpp
/// Tensor-name → layer-group rules.

#include "muft/analysis/layer_groups.h"

#include <stdexcept>

#include "muft/analysis/lora.h"

namespace muft::analysis {

LayerGroups LayerGroups::defaults() {
  LayerGroups g;
  // Order matters: attention output before the MLP projection (both may be called c_proj).
  // The last alternative of each group is the GGUF (llama.cpp) name: blk.N.attn_q.weight, ...
  g.add("Q", R"((attn\.c_q|q_proj|attention\.wq|self\.query|attn_q)\b)");
  g.add("K", R"((attn\.c_k|k_proj|attention\.wk|self\.key|attn_k)\b)");
  g.add("V", R"((attn\.c_v|v_proj|attention\.wv|self\.value|attn_v)\b)");
  g.add("O",
        R"((attn\.c_proj|o_proj|attention\.wo|out_proj|attention\.output\.dense|attn_output)\b)");
  g.add(
      "MLP-up",
      R"((mlp\.c_fc|up_proj|gate_proj|feed_forward\.w[13]|intermediate\.dense|fc1|ffn_(up|gate)(_exps)?)\b)");
  g.add("MLP-down",
        R"((mlp\.c_proj|down_proj|feed_forward\.w2|output\.dense|fc2|ffn_down(_exps)?)\b)");
  g.add("embedding",
        R"((wte|wpe|tok_embeddings|embed_tokens|word_embeddings|embeddings?|embed|token_embd)\b)");
  g.add("head", R"((lm_head|^output\.weight|head\.weight))");
  return g;
}

void LayerGroups::add(const std::string& name, const std::string& pattern) {
  if (name.empty()) throw std::invalid_argument("layer group name must not be empty");
  try {
    rules_.push_back({name, pattern, std::regex(pattern, std::regex::ECMAScript)});
  } catch (const std::regex_error& e) {
    throw std::invalid_argument("invalid regex for layer group '" + name + "': " + pattern + " (" +
                                e.what() + ")");
  }
}

void LayerGroups::add_rule(const std::string& rule) {
  const std::size_t eq = rule.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw std::invalid_argument("layer group rule must be NAME=REGEX, got '" + rule + "'");
  }
  add(rule.substr(0, eq), rule.substr(eq + 1));
}

std::string LayerGroups::classify(const std::string& tensor) const {
  std::string module;
  char role = 0;
  const bool lora = parse_lora_name(tensor, &module, &role);
  const std::string& key = lora ? module : tensor;
  std::string group = "other";
  for (const Rule& r : rules_) {
    if (std::regex_search(key, r.re)) {
      group = r.name;
      break;
    }
  }
  if (lora) group += std::string(".lora_") + role;
  return group;
}

std::vector<std::pair<std::string, std::string>> LayerGroups::rules() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Rule& r : rules_) out.emplace_back(r.name, r.pattern);
  return out;
}

}  // namespace muft::analysis
