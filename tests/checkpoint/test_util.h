#pragma once
// Shared helpers of the checkpoint tests: a scratch directory per test
// process and small byte utilities.

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace muft::checkpoint::testing {

/// A fresh directory under $TMPDIR (removed with its contents on destruction).
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// Raw bytes of a vector of trivially copyable values (little-endian host).
template <typename T>
std::vector<unsigned char> to_bytes(const std::vector<T>& v) {
  std::vector<unsigned char> out(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(out.data(), v.data(), out.size());
  return out;
}

void write_file(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);

}  // namespace muft::checkpoint::testing
