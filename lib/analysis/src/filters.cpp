/// \file filters.cpp
/// --include/--exclude filters and --map name rules.

#include "muft/analysis/filters.h"

#include <algorithm>
#include <stdexcept>

namespace muft::analysis {

TensorFilter::TensorFilter(const std::vector<std::string>& include,
                           const std::vector<std::string>& exclude) {
  auto compile = [](const std::string& p, const char* what) {
    try {
      return std::regex(p, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw std::invalid_argument(std::string("invalid ") + what + " regex '" + p +
                                  "': " + e.what());
    }
  };
  for (const auto& p : include) include_.push_back(compile(p, "--include"));
  for (const auto& p : exclude) exclude_.push_back(compile(p, "--exclude"));
}

bool TensorFilter::accepts(const std::string& name) const {
  auto hit = [&](const std::regex& re) { return std::regex_search(name, re); };
  if (!include_.empty() && std::none_of(include_.begin(), include_.end(), hit)) return false;
  return std::none_of(exclude_.begin(), exclude_.end(), hit);
}

NameMap::NameMap(const std::vector<std::string>& rules) {
  for (const std::string& r : rules) {
    const std::size_t sep = r.find("=>");
    if (sep == std::string::npos) {
      throw std::invalid_argument("--map rule must be 'regex=>replacement', got '" + r + "'");
    }
    try {
      rules_.emplace_back(std::regex(r.substr(0, sep), std::regex::ECMAScript), r.substr(sep + 2));
    } catch (const std::regex_error& e) {
      throw std::invalid_argument("invalid --map regex in '" + r + "': " + e.what());
    }
  }
}

std::string NameMap::apply(const std::string& name) const {
  std::string out = name;
  for (const auto& [re, rep] : rules_) out = std::regex_replace(out, re, rep);
  return out;
}

}  // namespace muft::analysis
