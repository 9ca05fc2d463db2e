#pragma once
/// \file filters.h
/// Which tensors a batch looks at (--include/--exclude) and how checkpoint names map to base
/// names (--map).

#include <regex>
#include <string>
#include <utility>
#include <vector>

namespace muft::analysis {

/// Include/exclude regexes on tensor names (ECMAScript, searched anywhere in the name).
class TensorFilter {
 public:
  /// Throws std::invalid_argument on an invalid regex.
  TensorFilter(const std::vector<std::string>& include, const std::vector<std::string>& exclude);
  /// True when the name matches some include (or there are none) and no exclude.
  bool accepts(const std::string& name) const;

 private:
  std::vector<std::regex> include_, exclude_;
};

/// `regex=>replacement` rules mapping checkpoint tensor names to base names (applied in order,
/// std::regex_replace, ECMAScript, $1 back-references).
class NameMap {
 public:
  /// Throws std::invalid_argument for a rule without "=>" or with an invalid regex.
  explicit NameMap(const std::vector<std::string>& rules);
  std::string apply(const std::string& name) const;

 private:
  std::vector<std::pair<std::regex, std::string>> rules_;
};

}  // namespace muft::analysis
