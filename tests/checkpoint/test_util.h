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

/// Limits the size of the files this process writes to `bytes` (RLIMIT_FSIZE) and ignores
/// SIGXFSZ, so that a write past the limit fails with EFBIG the way a full disk fails with
/// ENOSPC. Only for forked children (death tests): the limit stays for the life of the process.
void limit_file_size(std::size_t bytes);
/// HDF5 identifiers of any kind (files, groups, datasets, ...) open in this process.
long open_hdf5_objects();
/// Names in `dir` that contain ".tmp.".
std::vector<std::string> temporary_files(const std::string& dir);

}  // namespace muft::checkpoint::testing
