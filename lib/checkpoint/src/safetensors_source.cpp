// TensorSource over safetensors files: one memory-mapped file, or a sharded
// model described by a *.safetensors.index.json.

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <unordered_map>

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

// A read-only private mapping of a whole file.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      throw std::runtime_error(path + ": not a regular file");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        throw std::runtime_error(path + ": cannot memory-map: " + std::strerror(err));
      }
      data_ = static_cast<const unsigned char*>(p);
    }
    ::close(fd);  // the mapping stays valid
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<unsigned char*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  // An empty file maps nothing; parse_safetensors rejects it by size before reading.
  const unsigned char* data() const {
    static const unsigned char kEmpty[1] = {0};
    return data_ ? data_ : kEmpty;
  }
  std::size_t size() const { return size_; }

  // Drops the pages of [begin, end) from this process's resident set: clean
  // file pages, so a later read simply faults them in again. Keeps peak memory
  // near one tensor when a big file is read tensor by tensor.
  void release(std::size_t begin, std::size_t end) const {
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t first = (begin + page - 1) / page * page;
    const std::size_t last = end / page * page;
    if (data_ && last > first) {
      ::madvise(const_cast<unsigned char*>(data_) + first, last - first, MADV_DONTNEED);
    }
  }

 private:
  const unsigned char* data_ = nullptr;
  std::size_t size_ = 0;
};

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
  const std::string& path() const override { return path_; }
  const char* format() const override { return "safetensors"; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  bool has(const std::string& name) const { return index_.count(name) > 0; }

 private:
  template <typename Out>
  void read_any(const std::string& name, std::vector<Out>& out) const {
    const auto it = index_.find(name);
    if (it == index_.end()) throw std::out_of_range(path_ + ": no tensor named '" + name + "'");
    const SafetensorsEntry& e = header_.tensors[it->second];
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
    const SafetensorsIndex index = parse_safetensors_index(text, index_path);
    const fs::path dir = fs::path(index_path).parent_path();
    std::map<std::string, std::size_t> shard_of_file;
    for (const std::string& file : index.shards) {
      shard_of_file[file] = shards_.size();
      try {
        shards_.push_back(std::make_unique<SafetensorsSource>((dir / file).string()));
      } catch (const std::runtime_error& e) {
        throw std::runtime_error(index_path + ": bad shard: " + e.what());
      }
    }
    const auto& file_of_tensor = index.weight_map;
    for (const auto& [name, file] : file_of_tensor) owner_[name] = shard_of_file.at(file);
    // Every listed tensor is in its shard; every shard tensor is listed, for that shard.
    for (const auto& [name, shard] : owner_) {
      if (!shards_[shard]->has(name)) {
        throw std::runtime_error(
            fmt::format("{}: tensor '{}' is listed in weight_map but missing "
                        "from shard {}",
                        index_path, name, file_of_tensor.at(name)));
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
  const std::string& path() const override { return path_; }
  const char* format() const override { return "safetensors-sharded"; }

 private:
  const SafetensorsSource& shard(const std::string& name) const {
    const auto it = owner_.find(name);
    if (it == owner_.end()) throw std::out_of_range(path_ + ": no tensor named '" + name + "'");
    return *shards_[it->second];
  }

  std::string path_;
  std::vector<std::unique_ptr<SafetensorsSource>> shards_;
  std::unordered_map<std::string, std::size_t> owner_;
  std::vector<TensorInfo> infos_;
};

}  // namespace

std::unique_ptr<TensorSource> open_safetensors_file(const std::string& path) {
  return std::make_unique<SafetensorsSource>(path);
}

std::unique_ptr<TensorSource> open_safetensors_index(const std::string& index_path) {
  return std::make_unique<ShardedSource>(index_path);
}

}  // namespace muft::checkpoint::detail
