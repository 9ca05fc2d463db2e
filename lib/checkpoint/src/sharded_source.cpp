// TensorSource over a sharded model described by a Hugging Face index
// (model.safetensors.index.json or pytorch_model.bin.index.json): every shard
// is one safetensors file or one torch.save archive, all of the same format.

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "muft/checkpoint/safetensors.h"
#include "sources.h"
#include "text_util.h"

namespace muft::checkpoint::detail {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A shard by its extension: *.safetensors, or a torch.save archive.
std::unique_ptr<TensorSource> open_shard(const std::string& path) {
  if (ends_with(path, ".bin") || ends_with(path, ".pt") || ends_with(path, ".pth")) {
    return open_pytorch_file(path);
  }
  return open_safetensors_file(path);
}

class ShardedSource final : public TensorSource {
 public:
  explicit ShardedSource(const std::string& index_path) : path_(index_path) {
    namespace fs = std::filesystem;
    std::ifstream f(index_path, std::ios::binary);
    if (!f) throw std::runtime_error(index_path + ": cannot open: " + std::strerror(errno));
    std::string text;
    char buf[65536];
    while (f.read(buf, sizeof buf) || f.gcount() > 0) {
      text.append(buf, static_cast<std::size_t>(f.gcount()));
      if (text.size() > kSafetensorsMaxHeader) {
        throw std::runtime_error(index_path + ": index file larger than 100000000 bytes");
      }
    }
    // The index text is parsed (and fuzzed) by parse_safetensors_index; the PyTorch index has
    // the same layout.
    const SafetensorsIndex index = parse_safetensors_index(text, index_path);
    const fs::path dir = fs::path(index_path).parent_path();
    std::map<std::string, std::size_t> shard_of_file;
    for (const std::string& file : index.shards) {
      shard_of_file[file] = shards_.size();
      try {
        shards_.push_back(open_shard((dir / file).string()));
      } catch (const std::runtime_error& e) {
        throw std::runtime_error(index_path + ": bad shard: " + e.what());
      }
      shard_names_.emplace_back();
      for (const auto& info : shards_.back()->tensors()) shard_names_.back().insert(info.name);
      const std::string fmt_name = std::string(shards_.back()->format()) + "-sharded";
      if (format_.empty()) format_ = fmt_name;
      if (format_ != fmt_name) {
        throw std::runtime_error(index_path + ": shards of different formats (" + format_ + ", " +
                                 fmt_name + ")");
      }
    }
    std::unordered_map<std::string, std::string> file_of_tensor(index.weight_map.begin(),
                                                                index.weight_map.end());
    for (const auto& [name, file] : index.weight_map) owner_[name] = shard_of_file.at(file);
    // Every listed tensor is in its shard; every shard tensor is listed, for that shard.
    for (const auto& [name, shard] : owner_) {
      if (!shard_names_[shard].count(name)) {
        throw std::runtime_error(
            fmt::format("{}: tensor '{}' is listed in weight_map but missing "
                        "from shard {}",
                        index_path, name, file_of_tensor[name]));
      }
    }
    for (const auto& [file, shard] : shard_of_file) {
      for (const auto& info : shards_[shard]->tensors()) {
        const auto it = owner_.find(info.name);
        if (it == owner_.end() || it->second != shard) {
          throw std::runtime_error(
              fmt::format("{}: tensor '{}' of shard {} is not mapped to that "
                          "shard in weight_map",
                          index_path, info.name, file));
        }
        infos_.push_back(info);
      }
    }
    std::sort(infos_.begin(), infos_.end(),
              [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
  }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  void read(const std::string& name, std::vector<double>& out) const override {
    shard(name).read(name, out);
  }
  void read(const std::string& name, std::vector<float>& out) const override {
    shard(name).read(name, out);
  }
  std::optional<StoredBytes> stored_bytes(const std::string& name) const override {
    return shard(name).stored_bytes(name);
  }
  const std::string& path() const override { return path_; }
  const char* format() const override { return format_.c_str(); }

 private:
  const TensorSource& shard(const std::string& name) const {
    const auto it = owner_.find(name);
    if (it == owner_.end()) throw std::out_of_range(path_ + ": no tensor named '" + name + "'");
    return *shards_[it->second];
  }

  std::string path_;
  std::vector<std::unique_ptr<TensorSource>> shards_;
  std::vector<std::unordered_set<std::string>> shard_names_;
  std::string format_;
  std::unordered_map<std::string, std::size_t> owner_;
  std::vector<TensorInfo> infos_;
};

}  // namespace

std::unique_ptr<TensorSource> open_sharded_index(const std::string& index_path) {
  return std::make_unique<ShardedSource>(index_path);
}

}  // namespace muft::checkpoint::detail
