// TensorSource over a GGUF file: the validated header (gguf.cpp) and the
// memory-mapped data section; Q8_0 tensors are dequantized on read.

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <unordered_map>

#include "gguf.h"
#include "mapped_file.h"
#include "sources.h"

namespace muft::checkpoint::detail {
namespace {

class GgufSource final : public TensorSource {
  static constexpr std::size_t kChunkBytes = std::size_t{16} << 20;

 public:
  explicit GgufSource(const std::string& path)
      : path_(path), map_(path), header_(parse_gguf(map_.data(), map_.size(), path)) {
    for (const auto& t : header_.tensors) {
      index_.emplace(t.info.name, infos_.size());
      infos_.push_back(t.info);
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
    const GgufTensor& t = tensor(name);
    // Only types stored as plain elements of the listed dtype: not Q8_0 blocks (listed as F32)
    // nor the types listed with a skip reason and placeholder dtype U8.
    switch (t.type) {
      case kGgmlF32:
      case kGgmlF16:
      case kGgmlBF16:
      case kGgmlF64:
      case kGgmlI8:
      case kGgmlI16:
      case kGgmlI32:
      case kGgmlI64:
        return StoredBytes{map_.data() + t.offset, static_cast<std::size_t>(t.nbytes)};
      default:
        return std::nullopt;
    }
  }
  const std::string& path() const override { return path_; }
  const char* format() const override { return "gguf"; }

 private:
  const GgufTensor& tensor(const std::string& name) const {
    const auto it = index_.find(name);
    if (it == index_.end()) throw std::out_of_range(path_ + ": no tensor named '" + name + "'");
    return header_.tensors[it->second];
  }

  template <typename Out>
  void read_any(const std::string& name, std::vector<Out>& out) const {
    const GgufTensor& t = tensor(name);
    if (!is_floating(t.info.dtype)) throw_not_floating(path_, t.info);
    if (!t.info.skip_reason.empty()) {
      throw std::runtime_error(path_ + ": tensor '" + name + "': " + t.info.skip_reason);
    }
    const std::size_t n = static_cast<std::size_t>(t.info.numel());
    out.resize(n);
    const std::size_t begin = static_cast<std::size_t>(t.offset);
    // Element (or, for Q8_0, block) runs of about 16 MiB, each released after conversion.
    const bool q8 = t.type == kGgmlQ8_0;
    const std::size_t unit = q8 ? 32 : 1;  // elements per step unit
    const std::size_t unit_bytes = q8 ? 34 : dtype_size(t.info.dtype);
    const std::size_t chunk = std::max<std::size_t>(1, kChunkBytes / unit_bytes) * unit;
    for (std::size_t i = 0; i < n; i += chunk) {
      const std::size_t m = std::min(chunk, n - i);
      const std::size_t from = begin + i / unit * unit_bytes;
      const std::size_t to = begin + (i + m) / unit * unit_bytes;
      if (q8) {
        dequantize_q8_0(map_.data() + from, m, out.data() + i);
      } else {
        convert_elements(map_.data() + from, t.info.dtype, m, out.data() + i);
      }
      map_.release(from, to);
    }
    map_.release(begin, begin + static_cast<std::size_t>(t.nbytes));
  }

  std::string path_;
  MappedFile map_;
  GgufHeader header_;
  std::vector<TensorInfo> infos_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace

std::unique_ptr<TensorSource> open_gguf_file(const std::string& path) {
  return std::make_unique<GgufSource>(path);
}

}  // namespace muft::checkpoint::detail
