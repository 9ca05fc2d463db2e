/// \file outputs.cpp
/// Output-path collisions after normalization (., .., symlinks, hard links).

#include "muft/app/outputs.h"

#include <stdexcept>
#include <system_error>

namespace fs = std::filesystem;

namespace muft::app {

fs::path resolved_path(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  if (ec) return fs::path(path).lexically_normal();
  // weakly_canonical resolves only the components that exist; a dangling final symlink is
  // followed by hand (a bounded number of hops, as the kernel does).
  for (int hop = 0; hop < 40; ++hop) {
    const fs::path name = p.filename();
    if (name.empty() || name == "." || name == "..") break;
    fs::path parent = fs::weakly_canonical(p.parent_path(), ec);
    if (ec) parent = p.parent_path().lexically_normal();
    p = parent / name;
    if (!fs::is_symlink(fs::symlink_status(p, ec))) break;
    const fs::path target = fs::read_symlink(p, ec);
    if (ec) break;
    p = target.is_absolute() ? target : parent / target;
  }
  fs::path out = fs::weakly_canonical(p, ec);
  return ec ? p.lexically_normal() : out;
}

bool same_file(const std::string& a, const std::string& b) {
  if (resolved_path(a) == resolved_path(b)) return true;
  std::error_code ec;
  return fs::exists(a, ec) && fs::exists(b, ec) && fs::equivalent(a, b, ec) && !ec;
}

void check_outputs(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs) {
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const NamedPath& o = outputs[i];
    if (o.path.empty()) continue;
    for (std::size_t j = i + 1; j < outputs.size(); ++j) {
      const NamedPath& q = outputs[j];
      if (!q.path.empty() && same_file(o.path, q.path))
        throw std::invalid_argument(o.flag + " and " + q.flag + " name the same file '" + q.path +
                                    "' (give each output its own file)");
    }
    for (const NamedPath& in : inputs) {
      if (!in.path.empty() && same_file(o.path, in.path))
        throw std::invalid_argument(o.flag + " '" + o.path + "' is also an input (" + in.flag +
                                    "): refusing to overwrite it");
    }
  }
}

}  // namespace muft::app
