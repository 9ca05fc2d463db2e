// The global-heap guard of global_heap.h: walks every collection the way HDF5 1.10 does, but
// stops at the first object that would stall or overrun the walk.

#include "global_heap.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace muft::checkpoint::detail {
namespace {

uint64_t little_endian(const unsigned char* p, std::size_t n) {
  uint64_t v = 0;
  for (std::size_t i = n; i > 0; --i) v = (v << 8) | p[i - 1];
  return v;
}

// "Size of lengths" from the superblock (at 0, 512, 1024, ... as HDF5 searches); 8 if unknown.
std::size_t length_size(const unsigned char* d, std::size_t n) {
  static const unsigned char kSignature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  for (std::size_t at = 0; at + 16 <= n; at = at ? 2 * at : 512) {
    if (std::memcmp(d + at, kSignature, 8) != 0) continue;
    const unsigned version = d[at + 8];
    const std::size_t pos = version <= 1 ? at + 14 : at + 10;
    if (pos < n && (d[pos] == 2 || d[pos] == 4 || d[pos] == 8)) return d[pos];
    return 8;
  }
  return 8;
}

}  // namespace

void check_global_heaps(const unsigned char* d, std::size_t n, const std::string& path) {
  if (!d || n < 16) return;
  const std::size_t len = length_size(d, n);
  const std::size_t header = 8 + len, object_header = 8 + len;
  const unsigned char* hit = d;
  while ((hit = static_cast<const unsigned char*>(
              memmem(hit, n - static_cast<std::size_t>(hit - d), "GCOL", 4))) != nullptr) {
    const std::size_t at = static_cast<std::size_t>(hit - d);
    ++hit;
    // Only what HDF5 would take for a collection: version 1, reserved bytes zero.
    if (at + header > n || d[at + 4] != 1 || d[at + 5] || d[at + 6] || d[at + 7]) continue;
    const uint64_t size = little_endian(d + at + 8, len);
    auto damaged = [&](const std::string& why) {
      throw std::runtime_error(fmt::format(
          "{}: damaged HDF5 global heap collection at offset {} ({}): the file is corrupt", path,
          at, why));
    };
    if (size < header || size > n - at) damaged(fmt::format("size {} does not fit", size));
    const std::size_t end = at + static_cast<std::size_t>(size);
    std::size_t p = at + header;
    while (p < end) {
      if (p + object_header > end) break;  // a tail too small for an object: free space
      const uint64_t index = little_endian(d + p, 2);
      const uint64_t bytes = little_endian(d + p + 8, len);
      // Objects are padded to 8 bytes; the free-space object (index 0) counts its header.
      const uint64_t need = index ? object_header + ((bytes + 7) & ~uint64_t{7}) : bytes;
      if (bytes > size) damaged(fmt::format("object {} of {} bytes", index, bytes));
      if (need == 0) damaged(fmt::format("object {} of size 0", index));
      if (need > end - p) damaged(fmt::format("object {} runs past the collection", index));
      p += static_cast<std::size_t>(need);
    }
  }
}

void check_global_heaps_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_size <= 0) {
    ::close(fd);
    return;
  }
  const auto n = static_cast<std::size_t>(st.st_size);
  void* map = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return;
  try {
    check_global_heaps(static_cast<const unsigned char*>(map), n, path);
  } catch (...) {
    ::munmap(map, n);
    throw;
  }
  ::munmap(map, n);
}

}  // namespace muft::checkpoint::detail
