#pragma once
/// \file layer_groups.h
/// Layer groups (Q, K, V, O, MLP-up, MLP-down, embedding, head) by tensor-name pattern, for the
/// per-group series of arXiv 2605.10468 Figures 2 (right), 10 and 11.

#include <regex>
#include <string>
#include <vector>

namespace muft::analysis {

/// Ordered (name, ECMAScript regex) rules; the first rule whose regex is found in a tensor name
/// gives its group.
class LayerGroups {
 public:
  /// Defaults matching NanoChat/muft names (blocks.N.attn.c_q.weight, c_k, c_v, c_proj,
  /// mlp.c_fc, mlp.c_proj, wte / tok_embeddings / embed, lm_head) and Hugging Face names
  /// (q_proj, k_proj, v_proj, o_proj, up_proj/gate_proj, down_proj).
  static LayerGroups defaults();
  /// Appends a rule; throws std::invalid_argument on an invalid regex or empty name.
  void add(const std::string& name, const std::string& pattern);
  /// Parses "NAME=REGEX" and appends it.
  void add_rule(const std::string& rule);
  /// The group of a tensor name; "other" when no rule matches. LoRA factors get the suffix
  /// ".lora_A" / ".lora_B" (e.g. "Q.lora_A").
  std::string classify(const std::string& tensor) const;
  /// The rules as (name, pattern) pairs, in order.
  std::vector<std::pair<std::string, std::string>> rules() const;
  bool empty() const { return rules_.empty(); }

 private:
  struct Rule {
    std::string name, pattern;
    std::regex re;
  };
  std::vector<Rule> rules_;
};

}  // namespace muft::analysis
