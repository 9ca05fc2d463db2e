// open_source(): picks the reader from the path (directory, index JSON,
// .safetensors, zip / GGUF / HDF5 signature, otherwise safetensors).

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "gguf.h"
#include "hdf5_util.h"
#include "sources.h"
#include "zip_reader.h"

namespace muft::checkpoint {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The model file(s) a Hugging Face style directory holds: safetensors first
// (as transformers prefers them), then PyTorch weights, then one GGUF file.
std::string resolve_directory(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path d(dir);
  if (fs::is_regular_file(d / "model.safetensors.index.json")) {
    return (d / "model.safetensors.index.json").string();
  }
  std::vector<std::string> indexes, singles, bin_indexes, ggufs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(d, ec)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    if (ends_with(name, ".safetensors.index.json")) indexes.push_back(e.path().string());
    if (ends_with(name, ".safetensors")) singles.push_back(e.path().string());
    if (ends_with(name, ".bin.index.json")) bin_indexes.push_back(e.path().string());
    if (ends_with(name, ".gguf")) ggufs.push_back(e.path().string());
  }
  if (ec) throw std::runtime_error(dir + ": cannot list directory: " + ec.message());
  if (indexes.size() == 1) return indexes[0];
  if (indexes.empty() && fs::is_regular_file(d / "model.safetensors")) {
    return (d / "model.safetensors").string();
  }
  if (indexes.empty() && singles.size() == 1) return singles[0];
  if (indexes.empty() && singles.empty()) {
    if (fs::is_regular_file(d / "pytorch_model.bin.index.json")) {
      return (d / "pytorch_model.bin.index.json").string();
    }
    if (bin_indexes.size() == 1) return bin_indexes[0];
    for (const char* name : {"pytorch_model.bin", "adapter_model.bin"}) {
      if (bin_indexes.empty() && fs::is_regular_file(d / name)) return (d / name).string();
    }
    if (bin_indexes.empty() && ggufs.size() == 1) return ggufs[0];
  }
  throw std::runtime_error(fmt::format(
      "{}: directory holds {} *.safetensors.index.json and {} *.safetensors files; expected "
      "model.safetensors.index.json, one index, or one *.safetensors file (else "
      "pytorch_model.bin[.index.json], adapter_model.bin or one *.gguf file)",
      dir, indexes.size(), singles.size()));
}

// The first bytes of a file (fewer when it is shorter).
std::string file_head(const std::string& path, std::size_t n) {
  std::ifstream f(path, std::ios::binary);
  std::string head(n, '\0');
  f.read(head.data(), static_cast<std::streamsize>(n));
  head.resize(static_cast<std::size_t>(std::max<std::streamsize>(f.gcount(), 0)));
  return head;
}

// torch.save before 1.6 (and with _use_new_zipfile_serialization=False) writes
// a bare pickle stream that starts with PROTO 2 and the LONG1 magic number
// 0x1950a86a20f9469cfc6c.
bool is_legacy_torch(const std::string& head) {
  static const unsigned char kMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c,
                                         0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
  return head.size() >= sizeof kMagic && std::memcmp(head.data(), kMagic, sizeof kMagic) == 0;
}

bool is_pickle_extension(const std::string& path) {
  for (const char* ext : {".pt", ".pth", ".bin", ".ckpt", ".pkl"}) {
    if (ends_with(path, ext)) return true;
  }
  return false;
}

[[noreturn]] void refuse_pickle(const std::string& path, bool legacy) {
  throw std::runtime_error(
      path + ": " +
      (legacy ? std::string("legacy torch.save format (PyTorch < 1.6, or "
                            "_use_new_zipfile_serialization=False)")
              : std::string("a bare pickle stream, not a torch.save zip archive")) +
      " is not read by muft; convert it where torch is installed and the file is trusted "
      "(torch.load runs code named in the file): python3 -c "
      "\"import torch; torch.save(torch.load('IN', map_location='cpu'), 'OUT.pt')\" (torch >= 1.6 "
      "writes the zip format), or save it as safetensors");
}

}  // namespace

std::unique_ptr<TensorSource> open_source(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) {
    const std::string resolved = resolve_directory(path);
    return open_source(resolved);
  }
  if (!S_ISREG(st.st_mode)) throw std::runtime_error(path + ": not a regular file or directory");
  if (ends_with(path, ".json")) return detail::open_sharded_index(path);
  // By extension first: HDF5's signature search also looks at offsets 512,
  // 1024, ... where tensor bytes of a safetensors file could mimic it.
  if (ends_with(path, ".safetensors")) return detail::open_safetensors_file(path);
  // Then by signature: zip (torch.save), GGUF, a pickle stream.
  const std::string head = file_head(path, 16);
  const auto* h = reinterpret_cast<const unsigned char*>(head.data());
  if (detail::has_zip_signature(h, head.size())) return detail::open_pytorch_file(path);
  if (detail::has_gguf_signature(h, head.size())) return detail::open_gguf_file(path);
  if (is_legacy_torch(head)) refuse_pickle(path, true);
  bool is_hdf5 = false;
  {
    detail::Hdf5Lock lock;
    is_hdf5 = H5Fis_hdf5(path.c_str()) > 0;
    detail::error_stack_summary();  // clear the error stack
  }
  if (is_hdf5) return detail::open_hdf5_source(path);
  if (ends_with(path, ".gguf")) return detail::open_gguf_file(path);  // names what is wrong
  try {
    return detail::open_safetensors_file(path);
  } catch (const std::runtime_error& e) {
    // A pickle stream starts with PROTO 2..5; checked only now because a
    // safetensors header length of 0x280, 0x380, ... starts with the same bytes.
    if (is_pickle_extension(path) && head.size() >= 2 && h[0] == 0x80 && h[1] >= 2 && h[1] <= 5) {
      refuse_pickle(path, false);
    }
    if (is_pickle_extension(path)) {  // most likely a damaged torch.save file
      throw std::runtime_error(path +
                               ": not a torch.save checkpoint: it does not start with the zip "
                               "signature PK\\3\\4 (nor is it HDF5, GGUF or safetensors)");
    }
    throw std::runtime_error(std::string(e.what()) +
                             " (read as safetensors: the file is not HDF5, a zip archive or GGUF)");
  }
}

}  // namespace muft::checkpoint
