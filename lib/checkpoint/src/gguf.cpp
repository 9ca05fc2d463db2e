// GGUF header validation (gguf.h). The layout follows the GGUF specification
// in ggml's docs/gguf.md; type block sizes are those of ggml's type traits.

#include "gguf.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <stdexcept>

#include "text_util.h"

namespace muft::checkpoint::detail {
namespace {

struct TypeTraits {
  uint32_t id;
  const char* name;
  uint64_t block;  // elements per block
  uint64_t bytes;  // bytes per block
};
// Ids 4, 5, 31-33 and 36-38 belong to removed types; files never hold them.
const TypeTraits kTypes[] = {
    {0, "F32", 1, 4},         {1, "F16", 1, 2},         {2, "Q4_0", 32, 18},
    {3, "Q4_1", 32, 20},      {6, "Q5_0", 32, 22},      {7, "Q5_1", 32, 24},
    {8, "Q8_0", 32, 34},      {9, "Q8_1", 32, 36},      {10, "Q2_K", 256, 84},
    {11, "Q3_K", 256, 110},   {12, "Q4_K", 256, 144},   {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210},   {15, "Q8_K", 256, 292},   {16, "IQ2_XXS", 256, 66},
    {17, "IQ2_XS", 256, 74},  {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50},
    {20, "IQ4_NL", 32, 18},   {21, "IQ3_S", 256, 110},  {22, "IQ2_S", 256, 82},
    {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1},         {25, "I16", 1, 2},
    {26, "I32", 1, 4},        {27, "I64", 1, 8},        {28, "F64", 1, 8},
    {29, "IQ1_M", 256, 56},   {30, "BF16", 1, 2},       {34, "TQ1_0", 256, 54},
    {35, "TQ2_0", 256, 66},   {39, "MXFP4", 32, 17},
};

const TypeTraits* traits(uint32_t id) {
  for (const auto& t : kTypes) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

// Metadata value types of the GGUF specification.
enum ValueType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};
const char* const kValueTypeNames[] = {"UINT8",  "INT8",    "UINT16", "INT16",  "UINT32",
                                       "INT32",  "FLOAT32", "BOOL",   "STRING", "ARRAY",
                                       "UINT64", "INT64",   "FLOAT64"};
constexpr int kMaxArrayNesting = 8;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS

uint64_t scalar_size(uint32_t t) {
  switch (t) {
    case kU8:
    case kI8:
    case kBool:
      return 1;
    case kU16:
    case kI16:
      return 2;
    case kU32:
    case kI32:
    case kF32:
      return 4;
    case kU64:
    case kI64:
    case kF64:
      return 8;
    default:
      return 0;
  }
}

bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return false;
  *out = a * b;
  return true;
}

class Reader {
 public:
  Reader(const unsigned char* data, std::size_t size, const std::string& file)
      : p_(data), size_(size), file_(file) {}

  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error(one_line(fmt::format("{}: {}", file_, why)));
  }
  std::size_t pos() const { return pos_; }
  std::size_t left() const { return size_ - pos_; }

  const unsigned char* take(uint64_t n, const char* what) {
    if (n > left()) {
      fail(
          fmt::format("{} needs {} bytes at offset {}, the file has {} left (truncated file or "
                      "lying length)",
                      what, n, pos_, left()));
    }
    const unsigned char* at = p_ + pos_;
    pos_ += static_cast<std::size_t>(n);
    return at;
  }
  uint64_t u(int n, const char* what) {
    const unsigned char* b = take(static_cast<uint64_t>(n), what);
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | b[i];
    return v;
  }
  std::string str(const char* what) {
    const uint64_t n = u(8, what);
    const unsigned char* b = take(n, what);
    return std::string(reinterpret_cast<const char*>(b), static_cast<std::size_t>(n));
  }

  // Reads one value of type t (skipping its bytes) and renders it briefly.
  std::string value(uint32_t t, int nesting, const std::string& key) {
    switch (t) {
      case kString: {
        std::string s = str("metadata string");
        return s.size() > 200 ? s.substr(0, 200) + "..." : s;
      }
      case kArray: {
        if (nesting >= kMaxArrayNesting) {
          fail(fmt::format("metadata '{}': arrays nested deeper than {} levels", key,
                           kMaxArrayNesting));
        }
        const uint64_t et = u(4, "array element type");
        const uint64_t n = u(8, "array length");
        if (et > kF64) fail(fmt::format("metadata '{}': unknown array element type {}", key, et));
        if (const uint64_t es = scalar_size(static_cast<uint32_t>(et))) {
          uint64_t bytes = 0;
          if (!checked_mul(n, es, &bytes)) {
            fail(fmt::format("metadata '{}': array of {} elements overflows", key, n));
          }
          take(bytes, "metadata array");
        } else {
          // Strings and arrays: each element consumes at least 8 bytes, so a
          // lying count runs out of file after at most size/8 iterations.
          for (uint64_t i = 0; i < n; ++i) value(static_cast<uint32_t>(et), nesting + 1, key);
        }
        return fmt::format("[{} x {}]", n, kValueTypeNames[et]);
      }
      case kBool: {
        const uint64_t b = u(1, "metadata bool");
        if (b > 1) fail(fmt::format("metadata '{}': bool value {} is neither 0 nor 1", key, b));
        return b ? "true" : "false";
      }
      case kF32: {
        const uint32_t bits = static_cast<uint32_t>(u(4, "metadata value"));
        float f;
        std::memcpy(&f, &bits, 4);
        return fmt::format("{}", f);
      }
      case kF64: {
        const uint64_t bits = u(8, "metadata value");
        double f;
        std::memcpy(&f, &bits, 8);
        return fmt::format("{}", f);
      }
      case kI8:
        return std::to_string(static_cast<int8_t>(u(1, "metadata value")));
      case kI16:
        return std::to_string(static_cast<int16_t>(u(2, "metadata value")));
      case kI32:
        return std::to_string(static_cast<int32_t>(u(4, "metadata value")));
      case kI64:
        return std::to_string(static_cast<int64_t>(u(8, "metadata value")));
      default:
        if (const uint64_t es = scalar_size(t))
          return std::to_string(u(static_cast<int>(es), "metadata value"));
        fail(fmt::format("metadata '{}': unknown value type {}", key, t));
    }
  }

 private:
  const unsigned char* p_;
  std::size_t size_;
  std::string file_;
  std::size_t pos_ = 0;
};

}  // namespace

const char* ggml_type_name(uint32_t type) {
  const TypeTraits* t = traits(type);
  return t ? t->name : nullptr;
}

bool has_gguf_signature(const unsigned char* data, std::size_t size) {
  return size >= 4 && data[0] == 'G' && data[1] == 'G' && data[2] == 'U' && data[3] == 'F';
}

GgufHeader parse_gguf(const unsigned char* data, std::size_t size, const std::string& file) {
  Reader r(data, size, file);
  if (!has_gguf_signature(data, size)) r.fail("not a GGUF file (the magic 'GGUF' is missing)");
  r.take(4, "magic");
  GgufHeader h;
  const uint64_t version = r.u(4, "version");
  if (version == 1) {
    r.fail(
        "GGUF version 1 (32-bit counts, 2023) is not supported; re-convert the model with a "
        "current llama.cpp (versions 2 and 3 are read)");
  }
  if (version != 2 && version != 3) {
    if ((version & 0xFFFF) == 0 && version != 0) {
      r.fail(
          fmt::format("GGUF version field 0x{:08x} looks byte-swapped: big-endian GGUF files "
                      "are not supported",
                      version));
    }
    r.fail(fmt::format("GGUF version {} is not supported (versions 2 and 3 are read)", version));
  }
  h.version = static_cast<uint32_t>(version);
  const uint64_t n_tensors = r.u(8, "tensor count");
  const uint64_t n_kv = r.u(8, "metadata count");

  std::set<std::string> keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    GgufMetadata m;
    m.key = r.str("metadata key");
    if (!valid_utf8(m.key.data(), m.key.size())) {
      r.fail(fmt::format("metadata key {} is not valid UTF-8", i));
    }
    if (!keys.insert(m.key).second) r.fail("metadata key '" + m.key + "' appears twice");
    const uint64_t t = r.u(4, "metadata value type");
    if (t > kF64) r.fail(fmt::format("metadata '{}': unknown value type {}", m.key, t));
    m.type = kValueTypeNames[t];
    const std::size_t at = r.pos();
    m.value = r.value(static_cast<uint32_t>(t), 0, m.key);
    if (m.key == "general.alignment") {
      if (t != kU32) r.fail("general.alignment must be a UINT32, got " + m.type);
      uint64_t a = 0;
      for (int k = 3; k >= 0; --k) a = (a << 8) | data[at + static_cast<std::size_t>(k)];
      if (a == 0 || (a & (a - 1)) != 0) {
        r.fail(fmt::format("general.alignment {} is not a power of two", a));
      }
      h.alignment = a;
    }
    h.metadata.push_back(std::move(m));
  }

  std::set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    t.info.name = r.str("tensor name");
    const std::string where = "tensor '" + t.info.name + "'";
    if (!valid_utf8(t.info.name.data(), t.info.name.size())) {
      r.fail(fmt::format("tensor {}: name is not valid UTF-8", i));
    }
    if (!names.insert(t.info.name).second) r.fail(where + " appears twice");
    const uint64_t n_dims = r.u(4, "tensor rank");
    if (n_dims > kMaxDims) {
      r.fail(fmt::format("{}: {} dimensions (at most {})", where, n_dims, kMaxDims));
    }
    std::vector<uint64_t> ne(static_cast<std::size_t>(n_dims));
    uint64_t numel = 1, nonzero = 1;  // nonzero: a 0 dimension must not hide an overflow
    for (auto& d : ne) {
      d = r.u(8, "tensor dimension");
      if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          !checked_mul(nonzero, std::max<uint64_t>(d, 1), &nonzero) ||
          nonzero > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        r.fail(where + ": element count overflows 64 bits");
      }
      numel *= d;
    }
    for (auto it = ne.rbegin(); it != ne.rend(); ++it)
      t.info.shape.push_back(static_cast<int64_t>(*it));
    t.type = static_cast<uint32_t>(r.u(4, "tensor type"));
    t.offset = r.u(8, "tensor offset");
    const TypeTraits* tr = traits(t.type);
    if (!tr) {
      t.info.dtype = DType::U8;
      t.info.skip_reason = fmt::format("GGUF type id {} is unknown to muft", t.type);
    } else {
      const uint64_t inner = ne.empty() ? 1 : ne[0];
      if (inner % tr->block != 0) {
        r.fail(fmt::format("{}: row length {} is not a multiple of the {} block size {}", where,
                           inner, tr->name, tr->block));
      }
      if (!checked_mul(numel / tr->block, tr->bytes, &t.nbytes)) {
        r.fail(where + ": byte size overflows 64 bits");
      }
      switch (t.type) {
        case kGgmlF32:
        case kGgmlQ8_0:
          t.info.dtype = DType::F32;
          break;
        case kGgmlF16:
          t.info.dtype = DType::F16;
          break;
        case kGgmlBF16:
          t.info.dtype = DType::BF16;
          break;
        case kGgmlF64:
          t.info.dtype = DType::F64;
          break;
        case kGgmlI8:
        case kGgmlI16:
        case kGgmlI32:
        case kGgmlI64: {
          const DType ints[] = {DType::I8, DType::I16, DType::I32, DType::I64};
          t.info.dtype = ints[t.type - kGgmlI8];
          t.info.skip_reason = fmt::format("GGUF integer type {} is not analyzed", tr->name);
          break;
        }
        default:
          t.info.dtype = DType::U8;
          t.info.skip_reason = fmt::format(
              "GGUF type {} is not supported (F32, F16, BF16, F64 and Q8_0 are read)", tr->name);
      }
    }
    h.tensors.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment.
  const uint64_t end_of_infos = r.pos();
  const uint64_t pad = (h.alignment - end_of_infos % h.alignment) % h.alignment;
  h.data_start = end_of_infos + pad;
  const uint64_t data_size = h.data_start <= size ? size - h.data_start : 0;
  std::vector<const GgufTensor*> order;
  for (auto& t : h.tensors) {
    const std::string where = "tensor '" + t.info.name + "'";
    if (t.offset % h.alignment != 0) {
      r.fail(fmt::format("{}: offset {} is not a multiple of the alignment {}", where, t.offset,
                         h.alignment));
    }
    if (t.nbytes == 0) continue;
    if (h.data_start > size || t.offset > data_size || t.nbytes > data_size - t.offset) {
      r.fail(
          fmt::format("{}: {} bytes at data offset {} run past the end of the file ({} data "
                      "bytes; truncated file?)",
                      where, t.nbytes, t.offset, data_size));
    }
    t.offset += h.data_start;
    order.push_back(&t);
  }
  std::sort(order.begin(), order.end(),
            [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
  for (std::size_t i = 1; i < order.size(); ++i) {
    if (order[i]->offset < order[i - 1]->offset + order[i - 1]->nbytes) {
      r.fail(fmt::format("tensors '{}' and '{}' overlap in the data section",
                         order[i - 1]->info.name, order[i]->info.name));
    }
  }
  for (auto& t : h.tensors) {
    if (t.nbytes == 0) t.offset = h.data_start <= size ? h.data_start : size;
  }
  std::sort(h.tensors.begin(), h.tensors.end(),
            [](const GgufTensor& a, const GgufTensor& b) { return a.info.name < b.info.name; });
  return h;
}

}  // namespace muft::checkpoint::detail
