// open_source(): picks the reader from the path (directory, index JSON, HDF5
// signature, otherwise safetensors).

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "hdf5_util.h"
#include "sources.h"

namespace muft::checkpoint {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The model file(s) a Hugging Face style directory holds.
std::string resolve_directory(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path d(dir);
  if (fs::is_regular_file(d / "model.safetensors.index.json")) {
    return (d / "model.safetensors.index.json").string();
  }
  std::vector<std::string> indexes, singles;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(d, ec)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    if (ends_with(name, ".safetensors.index.json")) indexes.push_back(e.path().string());
    if (ends_with(name, ".safetensors")) singles.push_back(e.path().string());
  }
  if (ec) throw std::runtime_error(dir + ": cannot list directory: " + ec.message());
  if (indexes.size() == 1) return indexes[0];
  if (indexes.empty() && fs::is_regular_file(d / "model.safetensors")) {
    return (d / "model.safetensors").string();
  }
  if (indexes.empty() && singles.size() == 1) return singles[0];
  throw std::runtime_error(fmt::format(
      "{}: directory holds {} *.safetensors.index.json and {} *.safetensors files; expected "
      "model.safetensors.index.json, one index, or one *.safetensors file",
      dir, indexes.size(), singles.size()));
}

}  // namespace

std::unique_ptr<TensorSource> open_source(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) {
    const std::string resolved = resolve_directory(path);
    return ends_with(resolved, ".json") ? detail::open_safetensors_index(resolved)
                                        : detail::open_safetensors_file(resolved);
  }
  if (!S_ISREG(st.st_mode)) throw std::runtime_error(path + ": not a regular file or directory");
  if (ends_with(path, ".json")) return detail::open_safetensors_index(path);
  // By extension first: HDF5's signature search also looks at offsets 512,
  // 1024, ... where tensor bytes of a safetensors file could mimic it.
  if (ends_with(path, ".safetensors")) return detail::open_safetensors_file(path);
  bool is_hdf5 = false;
  {
    detail::Hdf5Lock lock;
    is_hdf5 = H5Fis_hdf5(path.c_str()) > 0;
    detail::error_stack_summary();  // clear the error stack
  }
  if (is_hdf5) return detail::open_hdf5_source(path);
  try {
    return detail::open_safetensors_file(path);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string(e.what()) +
                             " (read as safetensors: the file is not HDF5)");
  }
}

}  // namespace muft::checkpoint
