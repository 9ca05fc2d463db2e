/// \file inputs.cpp
/// Expansion of files, directories and globs into checkpoint paths.

#include "muft/analysis/inputs.h"

#include <glob.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <set>

namespace muft::analysis {
namespace fs = std::filesystem;
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Checkpoints under dir, recursively. Within one directory an index replaces its shards, and
/// safetensors weights replace the pytorch_model*.bin copy Hugging Face repos often ship too.
std::vector<std::string> scan_directory(const std::string& dir, std::vector<std::string>* errors) {
  std::map<std::string, std::vector<std::string>> by_dir;  // parent → checkpoint files
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::string name = it->path().filename().string();
    if (is_checkpoint_name(name))
      by_dir[it->path().parent_path().string()].push_back(it->path().string());
  }
  if (ec && errors) errors->push_back(dir + ": cannot list directory: " + ec.message());
  std::vector<std::string> out;
  for (auto& [parent, files] : by_dir) {
    const bool has_index = std::any_of(files.begin(), files.end(), [](const std::string& f) {
      return ends_with(f, "index.json");
    });
    const bool has_safetensors = std::any_of(files.begin(), files.end(), [](const std::string& f) {
      return ends_with(f, ".safetensors") || ends_with(f, ".safetensors.index.json");
    });
    std::sort(files.begin(), files.end());
    for (const std::string& f : files) {
      if (has_index && (ends_with(f, ".safetensors") || ends_with(f, ".bin"))) continue;
      const std::string name = fs::path(f).filename().string();
      if (has_safetensors && name.rfind("pytorch_model", 0) == 0) continue;
      out.push_back(f);
    }
  }
  return out;
}

/// Files a training run writes next to its weights that hold no model weights (Hugging Face
/// Trainer: optimizer and scheduler state, RNG state, the pickled training arguments).
bool is_training_state_file(const std::string& filename) {
  return filename == "optimizer.pt" || filename == "scheduler.pt" || filename == "scaler.pt" ||
         filename == "training_args.bin" || filename.rfind("rng_state", 0) == 0;
}

}  // namespace

bool is_checkpoint_name(const std::string& filename) {
  if (is_training_state_file(filename)) return false;
  for (const char* ext :
       {".safetensors", ".h5", ".hdf5", "index.json", ".pt", ".pth", ".bin", ".gguf"}) {
    if (ends_with(filename, ext)) return true;
  }
  return false;
}

std::vector<std::string> expand_inputs(const std::vector<std::string>& args,
                                       std::vector<std::string>* errors) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  auto add = [&](const std::string& p) {
    if (seen.insert(p).second) out.push_back(p);
  };
  auto add_path = [&](const std::string& p) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      const auto found = scan_directory(p, errors);
      if (found.empty() && errors) errors->push_back(p + ": no checkpoint files in directory");
      for (const auto& f : found) add(f);
    } else {
      add(p);  // a file (or a missing path: opening it reports the reason)
    }
  };
  for (const std::string& a : args) {
    if (a.find_first_of("*?[") != std::string::npos && !fs::exists(a)) {
      glob_t g{};
      const int rc = ::glob(a.c_str(), 0, nullptr, &g);
      if (rc == 0) {
        for (std::size_t i = 0; i < g.gl_pathc; ++i) add_path(g.gl_pathv[i]);
      } else if (errors) {
        errors->push_back(a + ": pattern matches no file");
      }
      globfree(&g);
    } else {
      add_path(a);
    }
  }
  return out;
}

std::optional<int64_t> step_from_name(const std::string& path) {
  static const std::regex digits(R"((\d+))");
  const fs::path p(path);
  for (const std::string& s : {p.stem().string(), p.parent_path().filename().string()}) {
    std::optional<int64_t> last;
    for (auto it = std::sregex_iterator(s.begin(), s.end(), digits); it != std::sregex_iterator();
         ++it) {
      try {
        last = std::stoll(it->str());
      } catch (const std::out_of_range&) {
      }
    }
    if (last) return last;
  }
  return std::nullopt;
}

std::vector<std::string> run_checkpoints(const std::string& run_dir,
                                         std::vector<std::string>* errors) {
  std::error_code ec;
  if (!fs::is_directory(run_dir, ec)) {
    if (errors) errors->push_back(run_dir + ": not a directory");
    return {};
  }
  const fs::path sub = fs::path(run_dir) / "checkpoints";
  const std::string dir = fs::is_directory(sub, ec) ? sub.string() : run_dir;
  auto files = scan_directory(dir, errors);
  if (files.empty() && errors) errors->push_back(dir + ": no checkpoint files");
  return files;
}

}  // namespace muft::analysis
