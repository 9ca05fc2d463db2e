#pragma once
// Private: a read-only memory mapping of a whole file, shared by the
// safetensors, PyTorch and GGUF sources.

#include <cstddef>
#include <string>

namespace muft::checkpoint::detail {

/// A read-only private mapping of a whole file. Readers validate every offset
/// and size against size() before touching a byte.
class MappedFile {
 public:
  /// Maps path; throws std::runtime_error("<path>: <reason>") when it cannot.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  /// The first byte (an empty file maps nothing: a valid pointer to one zero byte).
  const unsigned char* data() const;
  std::size_t size() const { return size_; }
  /// Drops the pages of [begin, end) from this process's resident set: clean
  /// file pages, so a later read simply faults them in again. Keeps peak memory
  /// near one tensor when a big file is read tensor by tensor.
  void release(std::size_t begin, std::size_t end) const;

 private:
  const unsigned char* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace muft::checkpoint::detail
