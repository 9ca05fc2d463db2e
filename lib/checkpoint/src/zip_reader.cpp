// Zip central-directory reader (APPNOTE.TXT 6.3: sections 4.3.7 local header,
// 4.3.12 central directory header, 4.3.14-4.3.16 ZIP64 and end records).

#include "zip_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <stdexcept>

#include "text_util.h"

namespace muft::checkpoint::detail {
namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr std::size_t kEndSize = 22;
constexpr std::size_t kCentralSize = 46;
constexpr std::size_t kLocalSize = 30;

[[noreturn]] void fail(const std::string& file, const std::string& reason) {
  throw std::runtime_error(one_line(file + ": " + reason));
}

// Little-endian fields read byte by byte (no alignment or aliasing assumptions).
uint64_t le(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// True when [offset, offset + n) lies inside [0, size).
bool inside(uint64_t offset, uint64_t n, std::size_t size) {
  return offset <= size && n <= size - offset;
}

struct EndRecord {
  uint64_t entries = 0, dir_size = 0, dir_offset = 0;
  uint64_t end_offset = 0;  // where the (ZIP64) end record starts: the directory ends before it
};

EndRecord find_end(const unsigned char* data, std::size_t size, const std::string& file) {
  if (size < kEndSize) {
    fail(file,
         fmt::format("zip archive is {} bytes, too short for its end record (truncated?)", size));
  }
  // The end record is the last 22 bytes plus a comment of at most 65535 bytes.
  const std::size_t lowest = size - kEndSize > 65535 ? size - kEndSize - 65535 : 0;
  std::size_t pos = size - kEndSize + 1;
  bool found = false;
  while (pos-- > lowest) {
    if (le(data + pos, 4) == kEndSig && le(data + pos + 20, 2) == size - kEndSize - pos) {
      found = true;
      break;
    }
  }
  if (!found) fail(file, "zip end-of-central-directory record not found (truncated file?)");
  const unsigned char* e = data + pos;
  if (le(e + 4, 2) != 0 || le(e + 6, 2) != 0 || le(e + 8, 2) != le(e + 10, 2)) {
    fail(file, "multi-disk zip archives are not supported");
  }
  EndRecord r;
  r.entries = le(e + 10, 2);
  r.dir_size = le(e + 12, 4);
  r.dir_offset = le(e + 16, 4);
  r.end_offset = pos;
  const bool zip64 = r.entries == 0xFFFF || r.dir_size == 0xFFFFFFFF || r.dir_offset == 0xFFFFFFFF;
  if (pos >= 20 && le(data + pos - 20, 4) == kZip64LocatorSig) {
    const uint64_t rec = le(data + pos - 20 + 8, 8);
    if (!inside(rec, 56, pos - 20) || le(data + rec, 4) != kZip64EndSig) {
      fail(file, fmt::format("ZIP64 end record offset {} is not inside the file", rec));
    }
    const unsigned char* z = data + rec;
    if (le(z + 16, 4) != 0 || le(z + 20, 4) != 0 || le(z + 24, 8) != le(z + 32, 8)) {
      fail(file, "multi-disk zip archives are not supported");
    }
    r.entries = le(z + 32, 8);
    r.dir_size = le(z + 40, 8);
    r.dir_offset = le(z + 48, 8);
    r.end_offset = rec;
  } else if (zip64) {
    fail(file, "zip end record needs a ZIP64 record, but there is none (truncated file?)");
  }
  if (!inside(r.dir_offset, r.dir_size, r.end_offset)) {
    fail(file, fmt::format("zip central directory [{}, +{}) is not inside the file before its "
                           "end record at {} (truncated file?)",
                           r.dir_offset, r.dir_size, r.end_offset));
  }
  return r;
}

// Applies the ZIP64 extended-information extra field (id 1) to the fields
// that hold their 32-bit "see ZIP64" marker, in the order the format fixes.
void apply_zip64_extra(const unsigned char* extra, std::size_t n, uint64_t* size, uint64_t* stored,
                       uint64_t* local, const std::string& file, const std::string& name) {
  std::size_t i = 0;
  while (i + 4 <= n) {
    const uint64_t id = le(extra + i, 2), len = le(extra + i + 2, 2);
    if (len > n - i - 4) fail(file, "zip member '" + name + "': extra field overruns its header");
    if (id == 1) {
      const unsigned char* p = extra + i + 4;
      std::size_t left = len;
      for (uint64_t* field : {size, stored, local}) {
        if (*field != 0xFFFFFFFF) continue;
        if (left < 8) fail(file, "zip member '" + name + "': ZIP64 extra field too short");
        *field = le(p, 8);
        p += 8;
        left -= 8;
      }
      return;
    }
    i += 4 + len;
  }
  if (*size == 0xFFFFFFFF || *stored == 0xFFFFFFFF || *local == 0xFFFFFFFF) {
    fail(file, "zip member '" + name + "': 32-bit size marker without a ZIP64 extra field");
  }
}

}  // namespace

bool has_zip_signature(const unsigned char* data, std::size_t size) {
  return size >= 4 && le(data, 4) == kLocalSig;
}

std::vector<ZipMember> read_zip_directory(const unsigned char* data, std::size_t size,
                                          const std::string& file) {
  const EndRecord end = find_end(data, size, file);
  std::vector<ZipMember> out;
  std::set<std::string> names;
  uint64_t pos = end.dir_offset;
  const uint64_t dir_end = end.dir_offset + end.dir_size;
  while (pos < dir_end) {
    if (!inside(pos, kCentralSize, dir_end) || le(data + pos, 4) != kCentralSig) {
      fail(file,
           fmt::format("zip central directory entry {} at offset {} is damaged", out.size(), pos));
    }
    const unsigned char* c = data + pos;
    const uint64_t flags = le(c + 8, 2);
    ZipMember m;
    m.method = static_cast<uint16_t>(le(c + 10, 2));
    m.stored_size = le(c + 20, 4);
    m.size = le(c + 24, 4);
    const uint64_t name_len = le(c + 28, 2), extra_len = le(c + 30, 2), comment_len = le(c + 32, 2);
    uint64_t local = le(c + 42, 4);
    const uint64_t var = name_len + extra_len + comment_len;
    if (!inside(pos + kCentralSize, var, dir_end)) {
      fail(file, fmt::format("zip central directory entry {} overruns the directory", out.size()));
    }
    m.name.assign(reinterpret_cast<const char*>(c + kCentralSize), name_len);
    apply_zip64_extra(c + kCentralSize + name_len, extra_len, &m.size, &m.stored_size, &local, file,
                      m.name);
    if (flags & 1) fail(file, "zip member '" + m.name + "' is encrypted");
    if (!names.insert(m.name).second) fail(file, "zip member '" + m.name + "' appears twice");
    if (m.method == 0 && m.size != m.stored_size) {
      fail(file, fmt::format("zip member '{}' is stored with {} bytes but declares {}", m.name,
                             m.stored_size, m.size));
    }
    // The local header repeats the name; its extra field (torch pads it so
    // that data start on a 64-byte boundary) may differ from the central one.
    if (!inside(local, kLocalSize, end.dir_offset) || le(data + local, 4) != kLocalSig) {
      fail(file, fmt::format("zip member '{}': local header offset {} is not a local header "
                             "inside the file",
                             m.name, local));
    }
    const uint64_t local_var = le(data + local + 26, 2) + le(data + local + 28, 2);
    m.data_offset = local + kLocalSize + local_var;
    if (!inside(m.data_offset, m.stored_size, end.dir_offset)) {
      fail(file, fmt::format("zip member '{}': {} data bytes at offset {} run past the data "
                             "area ({} bytes; truncated file?)",
                             m.name, m.stored_size, m.data_offset, end.dir_offset));
    }
    out.push_back(std::move(m));
    pos += kCentralSize + var;
  }
  if (out.size() != end.entries) {
    fail(file, fmt::format("zip end record declares {} entries, the central directory holds {}",
                           end.entries, out.size()));
  }
  return out;
}

}  // namespace muft::checkpoint::detail
