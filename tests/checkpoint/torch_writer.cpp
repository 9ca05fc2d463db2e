#include "torch_writer.h"

#include <cstring>

namespace muft::checkpoint::testing {
namespace {

void put_le(std::string& s, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}

uint32_t crc32(const std::string& data) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

}  // namespace

std::string make_zip(const std::vector<ZipEntry>& entries, const ZipOptions& opt) {
  std::string out, central;
  for (const ZipEntry& e : entries) {
    const uint64_t local = out.size();
    const uint32_t crc = crc32(e.data);
    std::string extra;
    if (opt.zip64) {  // local ZIP64 field: uncompressed and compressed sizes
      put_le(extra, 1, 2);
      put_le(extra, 16, 2);
      put_le(extra, e.data.size(), 8);
      put_le(extra, e.data.size(), 8);
    }
    if (opt.align64) {
      const std::size_t header = 30 + e.name.size() + extra.size() + 4;
      const std::size_t pad = (64 - (local + header) % 64) % 64;
      put_le(extra, 0x4246, 2);  // "FB": the padding field torch's writer uses
      put_le(extra, pad, 2);
      extra.append(pad, 'Z');
    }
    const uint32_t size32 = opt.zip64 ? 0xFFFFFFFFu : static_cast<uint32_t>(e.data.size());
    put_le(out, 0x04034b50, 4);
    put_le(out, opt.zip64 ? 45 : 20, 2);  // version needed
    put_le(out, 0, 2);                    // flags
    put_le(out, e.method, 2);
    put_le(out, 0, 4);  // time, date
    put_le(out, crc, 4);
    put_le(out, size32, 4);
    put_le(out, size32, 4);
    put_le(out, e.name.size(), 2);
    put_le(out, extra.size(), 2);
    out += e.name;
    out += extra;
    out += e.data;

    std::string cextra;
    if (opt.zip64) {
      put_le(cextra, 1, 2);
      put_le(cextra, 24, 2);
      put_le(cextra, e.data.size(), 8);
      put_le(cextra, e.data.size(), 8);
      put_le(cextra, local, 8);
    }
    put_le(central, 0x02014b50, 4);
    put_le(central, opt.zip64 ? 45 : 20, 2);  // made by
    put_le(central, opt.zip64 ? 45 : 20, 2);  // needed
    put_le(central, 0, 2);
    put_le(central, e.method, 2);
    put_le(central, 0, 4);
    put_le(central, crc, 4);
    put_le(central, size32, 4);
    put_le(central, size32, 4);
    put_le(central, e.name.size(), 2);
    put_le(central, cextra.size(), 2);
    put_le(central, 0, 2);  // comment
    put_le(central, 0, 2);  // disk
    put_le(central, 0, 2);  // internal attributes
    put_le(central, 0, 4);  // external attributes
    put_le(central, opt.zip64 ? 0xFFFFFFFFu : local, 4);
    central += e.name;
    central += cextra;
  }
  const uint64_t dir_offset = out.size();
  out += central;
  if (opt.zip64) {
    const uint64_t rec = out.size();
    put_le(out, 0x06064b50, 4);
    put_le(out, 44, 8);  // size of the remaining record
    put_le(out, 45, 2);
    put_le(out, 45, 2);
    put_le(out, 0, 4);
    put_le(out, 0, 4);
    put_le(out, entries.size(), 8);
    put_le(out, entries.size(), 8);
    put_le(out, central.size(), 8);
    put_le(out, dir_offset, 8);
    put_le(out, 0x07064b50, 4);
    put_le(out, 0, 4);
    put_le(out, rec, 8);
    put_le(out, 1, 4);
  }
  put_le(out, 0x06054b50, 4);
  put_le(out, 0, 2);
  put_le(out, 0, 2);
  put_le(out, opt.zip64 ? 0xFFFF : entries.size(), 2);
  put_le(out, opt.zip64 ? 0xFFFF : entries.size(), 2);
  put_le(out, opt.zip64 ? 0xFFFFFFFFu : central.size(), 4);
  put_le(out, opt.zip64 ? 0xFFFFFFFFu : dir_offset, 4);
  put_le(out, 0, 2);
  return out;
}

PickleBuilder& PickleBuilder::str(const std::string& s) {
  op('X');
  put_le(out_, s.size(), 4);
  out_ += s;
  return *this;
}

PickleBuilder& PickleBuilder::integer(int64_t v) {
  if (v >= 0 && v < 256) {
    op('K');
    put_le(out_, static_cast<uint64_t>(v), 1);
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    op('J');
    put_le(out_, static_cast<uint32_t>(static_cast<int32_t>(v)), 4);
  } else {
    op(0x8a);
    put_le(out_, 8, 1);
    put_le(out_, static_cast<uint64_t>(v), 8);
  }
  return *this;
}

PickleBuilder& PickleBuilder::real(double v) {
  op('G');
  uint64_t u;
  std::memcpy(&u, &v, 8);
  for (int i = 7; i >= 0; --i) out_ += static_cast<char>((u >> (8 * i)) & 0xFF);
  return *this;
}

PickleBuilder& PickleBuilder::global(const std::string& module, const std::string& name) {
  op('c');
  out_ += module + "\n" + name + "\n";
  return *this;
}

PickleBuilder& PickleBuilder::put(uint32_t key) {
  if (key < 256) {
    op('q');
    put_le(out_, key, 1);
  } else {
    op('r');
    put_le(out_, key, 4);
  }
  return *this;
}

PickleBuilder& PickleBuilder::get(uint32_t key) {
  if (key < 256) {
    op('h');
    put_le(out_, key, 1);
  } else {
    op('j');
    put_le(out_, key, 4);
  }
  return *this;
}

PickleBuilder& PickleBuilder::ints(const std::vector<int64_t>& v) {
  mark();
  for (int64_t x : v) integer(x);
  return tuple();
}

PickleBuilder& PickleBuilder::tensor(const std::string& storage_type, const std::string& key,
                                     int64_t numel, int64_t offset,
                                     const std::vector<int64_t>& sizes,
                                     const std::vector<int64_t>& strides) {
  global("torch._utils", "_rebuild_tensor_v2");
  mark();
  mark().str("storage").global("torch", storage_type).str(key).str("cpu").integer(numel).tuple();
  persid();
  integer(offset);
  ints(sizes);
  ints(strides);
  boolean(false);
  global("collections", "OrderedDict").empty_tuple().reduce();
  tuple();
  return reduce();
}

std::string make_torch_archive(const std::string& pickle,
                               const std::vector<std::pair<std::string, std::string>>& storages,
                               const std::string& prefix, const ZipOptions& opt) {
  std::vector<ZipEntry> entries{{prefix + "/data.pkl", pickle}};
  for (const auto& [key, data] : storages) entries.push_back({prefix + "/data/" + key, data});
  entries.push_back({prefix + "/version", "3\n"});
  return make_zip(entries, opt);
}

std::string f32_bytes(const std::vector<float>& v) {
  std::string s(v.size() * 4, '\0');
  if (!v.empty()) std::memcpy(s.data(), v.data(), s.size());
  return s;
}
std::string f64_bytes(const std::vector<double>& v) {
  std::string s(v.size() * 8, '\0');
  if (!v.empty()) std::memcpy(s.data(), v.data(), s.size());
  return s;
}
std::string u16_bytes(const std::vector<uint16_t>& v) {
  std::string s(v.size() * 2, '\0');
  if (!v.empty()) std::memcpy(s.data(), v.data(), s.size());
  return s;
}

}  // namespace muft::checkpoint::testing
