// TensorSource over one memory-mapped safetensors file.

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <unordered_map>

#include "mapped_file.h"
#include "muft/checkpoint/safetensors.h"
#include "sources.h"

namespace muft::checkpoint::detail {

void throw_not_floating(const std::string& path, const TensorInfo& info) {
  throw std::runtime_error(fmt::format(
      "{}: tensor '{}': dtype {} is not a floating type (only F64, F32, F16, BF16 are read as "
      "floats)",
      path, info.name, dtype_name(info.dtype)));
}

namespace {

class SafetensorsSource final : public TensorSource {
  static constexpr std::size_t kChunkBytes = std::size_t{16} << 20;

 public:
  explicit SafetensorsSource(const std::string& path)
      : path_(path), map_(path), header_(parse_safetensors(map_.data(), map_.size(), path)) {
    for (const auto& e : header_.tensors) {
      index_.emplace(e.info.name, infos_.size());
      infos_.push_back(e.info);
    }
  }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  void read(const std::string& name, std::vector<double>& out) const override {
    read_any(name, out);
  }
  void read(const std::string& name, std::vector<float>& out) const override {
    read_any(name, out);
  }
  std::optional<StoredBytes> stored_bytes(const std::string& name) const override {
    const SafetensorsEntry& e = entry(name);
    return StoredBytes{map_.data() + header_.data_start + e.begin,
                       static_cast<std::size_t>(e.end - e.begin)};
  }
  const std::string& path() const override { return path_; }
  const char* format() const override { return "safetensors"; }

 private:
  const SafetensorsEntry& entry(const std::string& name) const {
    const auto it = index_.find(name);
    if (it == index_.end()) throw std::out_of_range(path_ + ": no tensor named '" + name + "'");
    return header_.tensors[it->second];
  }

  template <typename Out>
  void read_any(const std::string& name, std::vector<Out>& out) const {
    const SafetensorsEntry& e = entry(name);
    if (!is_floating(e.info.dtype)) throw_not_floating(path_, e.info);
    const std::size_t n = static_cast<std::size_t>(e.info.numel());
    out.resize(n);
    const std::size_t begin = static_cast<std::size_t>(header_.data_start + e.begin);
    const std::size_t end = static_cast<std::size_t>(header_.data_start + e.end);
    // Convert in chunks and drop each chunk's pages right after: resident
    // memory stays near the output buffer, not output plus mapped input.
    const std::size_t es = dtype_size(e.info.dtype);
    const std::size_t chunk = kChunkBytes / es;
    for (std::size_t i = 0; i < n; i += chunk) {
      const std::size_t m = std::min(chunk, n - i);
      convert_elements(map_.data() + begin + i * es, e.info.dtype, m, out.data() + i);
      map_.release(begin + i * es, begin + (i + m) * es);
    }
    map_.release(begin, end);  // pages that straddled two chunks
  }

  std::string path_;
  MappedFile map_;
  SafetensorsHeader header_;
  std::vector<TensorInfo> infos_;  // sorted by name (parse_safetensors sorts)
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace

std::unique_ptr<TensorSource> open_safetensors_file(const std::string& path) {
  return std::make_unique<SafetensorsSource>(path);
}

}  // namespace muft::checkpoint::detail
