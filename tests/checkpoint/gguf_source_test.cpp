/// \file gguf_source_test.cpp
/// GGUF through open_source() and parse_gguf(): files from a small writer
/// below (written from the GGUF specification), F32/F16/BF16/F64 values,
/// Q8_0 dequantization, listed-and-skipped types, metadata, and truncated or
/// lying headers.

#include "gguf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "muft/checkpoint/tensor_source.h"
#include "test_util.h"

namespace muft::checkpoint {
namespace {

using testing::ScratchDir;
using testing::write_file;

void put(std::string& s, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void put_str(std::string& s, const std::string& v) {
  put(s, v.size(), 8);
  s += v;
}

// Writes GGUF v2/v3 images; every count and offset can be overridden to lie.
class GgufWriter {
 public:
  uint32_t version = 3;
  uint64_t alignment = 32;
  int64_t tensor_count = -1;    // -1: the real count; others are written as uint64
  int64_t metadata_count = -1;  // -1: the real count

  void kv_raw(const std::string& key, uint32_t type, const std::string& value) {
    put_str(kv_, key);
    put(kv_, type, 4);
    kv_ += value;
    ++n_kv_;
  }
  void kv_string(const std::string& key, const std::string& v) {
    std::string b;
    put_str(b, v);
    kv_raw(key, 8, b);
  }
  void kv_u32(const std::string& key, uint32_t v) {
    std::string b;
    put(b, v, 4);
    kv_raw(key, 4, b);
  }
  // ne innermost first, as GGUF stores it; offset -1 places the data after the previous tensor.
  void tensor(const std::string& name, const std::vector<uint64_t>& ne, uint32_t type,
              const std::string& data, int64_t offset = -1) {
    tensors_.push_back({name, ne, type, data, offset});
  }
  std::string bytes() const {
    std::string out = "GGUF";
    put(out, version, 4);
    put(out, tensor_count != -1 ? static_cast<uint64_t>(tensor_count) : tensors_.size(), 8);
    put(out, metadata_count != -1 ? static_cast<uint64_t>(metadata_count) : n_kv_, 8);
    out += kv_;
    std::string data;
    for (const auto& t : tensors_) {
      put_str(out, t.name);
      put(out, t.ne.size(), 4);
      for (uint64_t d : t.ne) put(out, d, 8);
      put(out, t.type, 4);
      data.append((alignment - data.size() % alignment) % alignment, '\0');
      put(out, t.offset >= 0 ? static_cast<uint64_t>(t.offset) : data.size(), 8);
      data += t.data;
    }
    out.append((alignment - out.size() % alignment) % alignment, '\0');
    return out + data;
  }

 private:
  struct T {
    std::string name;
    std::vector<uint64_t> ne;
    uint32_t type;
    std::string data;
    int64_t offset;
  };
  std::string kv_;
  uint64_t n_kv_ = 0;
  std::vector<T> tensors_;
};

std::string f32(const std::vector<float>& v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

// One Q8_0 block: f16 scale bits, then 32 int8 quants.
std::string q8_block(uint16_t d, const std::vector<int8_t>& q) {
  std::string s;
  put(s, d, 2);
  for (int8_t x : q) s += static_cast<char>(x);
  return s;
}

class GgufTest : public ::testing::Test {
 protected:
  std::string write(const GgufWriter& w, const std::string& name = "m.gguf") {
    const std::string path = dir_.file(name);
    write_file(path, w.bytes());
    return path;
  }
  std::string parse_error(const std::string& bytes) {
    try {
      detail::parse_gguf(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), "f");
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  }
  // A small valid model: metadata of every kind and three tensors.
  GgufWriter model() const {
    GgufWriter w;
    w.kv_string("general.architecture", "llama");
    w.kv_u32("llama.block_count", 1);
    std::string arr;  // ARRAY of 2 STRINGs
    put(arr, 8, 4);
    put(arr, 2, 8);
    put_str(arr, "a");
    put_str(arr, "bc");
    w.kv_raw("tokenizer.ggml.tokens", 9, arr);
    std::string nested;  // ARRAY of 1 ARRAY of 3 INT16
    put(nested, 9, 4);
    put(nested, 1, 8);
    put(nested, 3, 4);
    put(nested, 3, 8);
    put(nested, 1, 2);
    put(nested, 0xFFFF, 2);
    put(nested, 7, 2);
    w.kv_raw("x.nested", 9, nested);
    w.tensor("blk.0.attn_q.weight", {3, 2}, detail::kGgmlF32, f32({1, 2, 3, 4, 5, 6}));
    w.tensor("blk.0.attn_norm.weight", {3}, detail::kGgmlF32, f32({1, 1, 1}));
    w.tensor("token_embd.weight", {4, 2}, detail::kGgmlF16,
             std::string("\x00\x3c\x00\xc0\x00\x38\xff\x7b\x00\x00\x00\x80\x01\x00\x00\x7c", 16));
    return w;
  }
  ScratchDir dir_;
};

TEST_F(GgufTest, FloatTensorsShapesAndMetadata) {
  for (uint32_t version : {2u, 3u}) {
    GgufWriter w = model();
    w.version = version;
    const auto src = open_source(write(w));
    EXPECT_STREQ(src->format(), "gguf");
    ASSERT_EQ(src->tensors().size(), 3u);
    const TensorInfo& q = src->tensors()[1];  // sorted: attn_norm < attn_q
    EXPECT_EQ(q.name, "blk.0.attn_q.weight");
    EXPECT_EQ(q.shape, (std::vector<int64_t>{2, 3}));  // ne = [3, 2] reversed: 2 rows of 3
    std::vector<double> v;
    src->read("blk.0.attn_q.weight", v);
    EXPECT_EQ(v, (std::vector<double>{1, 2, 3, 4, 5, 6}));
    src->read("token_embd.weight", v);
    // f16: 1, -2, 0.5, 65504, 0, -0, 2^-24 (smallest subnormal), +inf
    ASSERT_EQ(v.size(), 8u);
    EXPECT_EQ(v[3], 65504.0);
    EXPECT_TRUE(std::signbit(v[5]));
    EXPECT_EQ(v[6], std::ldexp(1.0, -24));
    EXPECT_TRUE(std::isinf(v[7]));
  }
  const std::string bytes = model().bytes();
  const auto h =
      detail::parse_gguf(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), "f");
  ASSERT_EQ(h.metadata.size(), 4u);
  EXPECT_EQ(h.metadata[0].value, "llama");
  EXPECT_EQ(h.metadata[1].type, "UINT32");
  EXPECT_EQ(h.metadata[2].value, "[2 x STRING]");
  EXPECT_EQ(h.metadata[3].value, "[1 x ARRAY]");
  EXPECT_EQ(h.data_start % 32, 0u);
}

TEST_F(GgufTest, Q8_0IsDequantizedExactly) {
  // Two blocks: d = 0.5 (f16 0x3800) with q = -16..15, d = -2^-10 (0x9400) with q = ±127, ...
  std::vector<int8_t> q1(32), q2(32);
  for (int i = 0; i < 32; ++i) {
    q1[static_cast<std::size_t>(i)] = static_cast<int8_t>(i - 16);
    q2[static_cast<std::size_t>(i)] = static_cast<int8_t>(i % 2 ? 127 : -128);
  }
  GgufWriter w;
  w.tensor("blk.3.ffn_down.weight", {32, 2}, detail::kGgmlQ8_0,
           q8_block(0x3800, q1) + q8_block(0x9400, q2));
  const auto src = open_source(write(w));
  const TensorInfo& t = src->tensors()[0];
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 32}));
  EXPECT_EQ(t.dtype, DType::F32);
  EXPECT_TRUE(t.skip_reason.empty());
  std::vector<double> v;
  src->read(t.name, v);
  ASSERT_EQ(v.size(), 64u);
  for (int i = 0; i < 32; ++i) {
    EXPECT_EQ(v[static_cast<std::size_t>(i)], 0.5 * (i - 16));
    EXPECT_EQ(v[32 + static_cast<std::size_t>(i)], -std::ldexp(1.0, -10) * (i % 2 ? 127 : -128));
  }
  std::vector<float> f;
  src->read(t.name, f);
  EXPECT_EQ(f[0], -8.0f);
}

TEST_F(GgufTest, OtherTypesAreListedWithTheirName) {
  GgufWriter w;
  w.tensor("blk.0.attn_k.weight", {256, 1}, 12, std::string(144, '\0'));  // Q4_K: 1 block
  w.tensor("blk.0.attn_v.weight", {32, 2}, 2, std::string(36, '\0'));     // Q4_0: 2 blocks
  w.tensor("ids", {4}, detail::kGgmlI32, std::string(16, '\0'));
  w.tensor("future", {8}, 77, "");  // an id muft does not know
  const auto src = open_source(write(w));
  ASSERT_EQ(src->tensors().size(), 4u);
  EXPECT_EQ(src->tensors()[0].name, "blk.0.attn_k.weight");
  EXPECT_NE(src->tensors()[0].skip_reason.find("GGUF type Q4_K is not supported"),
            std::string::npos);
  EXPECT_NE(src->tensors()[1].skip_reason.find("Q4_0"), std::string::npos);
  EXPECT_NE(src->tensors()[2].skip_reason.find("type id 77"), std::string::npos);
  EXPECT_EQ(src->tensors()[3].dtype, DType::I32);
  EXPECT_NE(src->tensors()[3].skip_reason.find("I32"), std::string::npos);
  std::vector<double> v;
  EXPECT_THROW(src->read("blk.0.attn_k.weight", v), std::runtime_error);
  EXPECT_THROW(src->read("ids", v), std::runtime_error);
  EXPECT_STREQ(detail::ggml_type_name(14), "Q6_K");
  EXPECT_EQ(detail::ggml_type_name(4), nullptr);  // removed Q4_2
}

TEST_F(GgufTest, StoredBytesOfPlainTypesOnly) {
  GgufWriter w = model();
  std::vector<int8_t> q(32, 1);
  w.tensor("blk.3.ffn_down.weight", {32, 1}, detail::kGgmlQ8_0, q8_block(0x3800, q));
  w.tensor("ids", {2}, detail::kGgmlI32, std::string("\x05\0\0\0\x06\0\0\0", 8));
  w.tensor("blk.0.attn_k.weight", {256, 1}, 12, std::string(144, '\0'));  // Q4_K
  const auto src = open_source(write(w));
  const auto q_bytes = src->stored_bytes("blk.0.attn_q.weight");
  ASSERT_TRUE(q_bytes.has_value());
  ASSERT_EQ(q_bytes->size, 24u);
  std::vector<float> f(6);
  std::memcpy(f.data(), q_bytes->data, 24);
  EXPECT_EQ(f, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  const auto h = src->stored_bytes("token_embd.weight");  // f16 bits as stored
  ASSERT_TRUE(h.has_value());
  ASSERT_EQ(h->size, 16u);
  EXPECT_EQ(h->data[1], 0x3c);
  const auto ids = src->stored_bytes("ids");
  ASSERT_TRUE(ids.has_value());
  int32_t second = 0;
  std::memcpy(&second, ids->data + 4, 4);
  EXPECT_EQ(second, 6);
  EXPECT_FALSE(src->stored_bytes("blk.3.ffn_down.weight").has_value());  // Q8_0 blocks
  EXPECT_FALSE(src->stored_bytes("blk.0.attn_k.weight").has_value());    // Q4_K
  EXPECT_THROW(src->stored_bytes("missing"), std::out_of_range);
}

TEST_F(GgufTest, CustomAlignment) {
  GgufWriter w = model();
  w.alignment = 64;
  w.kv_u32("general.alignment", 64);
  const auto src = open_source(write(w));
  std::vector<double> v;
  src->read("blk.0.attn_q.weight", v);
  EXPECT_EQ(v, (std::vector<double>{1, 2, 3, 4, 5, 6}));
  GgufWriter bad = model();
  bad.kv_u32("general.alignment", 48);
  EXPECT_NE(parse_error(bad.bytes()).find("not a power of two"), std::string::npos);
  GgufWriter wrong_type = model();
  wrong_type.kv_string("general.alignment", "32");
  EXPECT_NE(parse_error(wrong_type.bytes()).find("must be a UINT32"), std::string::npos);
}

TEST_F(GgufTest, TruncatedAtEveryLength) {
  const std::string good = model().bytes();
  ASSERT_EQ(parse_error(good), "");
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_NE(parse_error(good.substr(0, n)), "") << "prefix of " << n << " bytes accepted";
  }
}

TEST_F(GgufTest, LyingHeaders) {
  GgufWriter more = model();  // more tensors declared than present
  more.tensor_count = 1000000;
  EXPECT_NE(parse_error(more.bytes()), "");
  GgufWriter huge = model();  // 2^64-1 tensors: must fail without allocating for them
  huge.tensor_count = -2;
  EXPECT_NE(parse_error(huge.bytes()), "");
  GgufWriter kv = model();
  kv.metadata_count = 99;
  EXPECT_NE(parse_error(kv.bytes()), "");

  std::string long_str;  // a string claiming 2^63 bytes
  put(long_str, uint64_t{1} << 63, 8);
  GgufWriter s;
  s.kv_raw("k", 8, long_str);
  EXPECT_NE(parse_error(s.bytes()).find("lying length"), std::string::npos);
  std::string arr;  // an array of 2^62 UINT64: bytes overflow
  put(arr, 10, 4);
  put(arr, uint64_t{1} << 62, 8);
  GgufWriter a;
  a.kv_raw("k", 9, arr);
  EXPECT_NE(parse_error(a.bytes()).find("overflows"), std::string::npos);
  std::string deep;  // arrays nested 9 deep
  for (int i = 0; i < 9; ++i) {
    put(deep, 9, 4);
    put(deep, 1, 8);
  }
  put(deep, 4, 4);
  put(deep, 0, 8);
  GgufWriter d;
  d.kv_raw("k", 9, deep);
  EXPECT_NE(parse_error(d.bytes()).find("nested deeper"), std::string::npos);
  GgufWriter t;
  t.kv_raw("k", 13, "");
  EXPECT_NE(parse_error(t.bytes()).find("unknown value type 13"), std::string::npos);
  GgufWriter dup = model();
  dup.kv_u32("llama.block_count", 2);
  EXPECT_NE(parse_error(dup.bytes()).find("appears twice"), std::string::npos);
  GgufWriter b;
  b.kv_raw("flag", 7, std::string(1, '\x02'));
  EXPECT_NE(parse_error(b.bytes()).find("neither 0 nor 1"), std::string::npos);
}

TEST_F(GgufTest, LyingTensorInfos) {
  auto one = [](const std::vector<uint64_t>& ne, uint32_t type, const std::string& data,
                int64_t offset = -1) {
    GgufWriter w;
    w.tensor("w", ne, type, data, offset);
    return w;
  };
  EXPECT_NE(parse_error(one({1, 1, 1, 1, 1}, 0, f32({1})).bytes()).find("5 dimensions"),
            std::string::npos);
  EXPECT_NE(
      parse_error(one({uint64_t{1} << 40, uint64_t{1} << 40}, 0, "").bytes()).find("overflows"),
      std::string::npos);
  EXPECT_NE(parse_error(one({uint64_t{1} << 63}, 0, "").bytes()).find("overflows"),
            std::string::npos);
  EXPECT_NE(
      parse_error(one({0, uint64_t{1} << 40, uint64_t{1} << 40}, 0, "").bytes()).find("overflows"),
      std::string::npos);  // a zero dimension must not hide the overflow
  // Declares 4 floats, holds 2 (the file ends early).
  EXPECT_NE(parse_error(one({4}, 0, f32({1, 2})).bytes()).find("run past the end"),
            std::string::npos);
  EXPECT_NE(parse_error(one({2}, 0, f32({1, 2}), 4096).bytes()).find("run past the end"),
            std::string::npos);
  EXPECT_NE(parse_error(one({2}, 0, f32({1, 2, 0, 0, 0, 0, 0, 0, 0, 0}), 8).bytes())
                .find("not a multiple of the alignment"),
            std::string::npos);
  EXPECT_NE(parse_error(one({33}, 8, std::string(68, '\0')).bytes()).find("block size 32"),
            std::string::npos);
  GgufWriter overlap;
  overlap.tensor("a", {16}, 0, f32(std::vector<float>(16, 1.0f)), 0);
  overlap.tensor("b", {8}, 0, "", 32);
  EXPECT_NE(parse_error(overlap.bytes()).find("overlap"), std::string::npos);
  GgufWriter dup;
  dup.tensor("a", {8}, 0, f32(std::vector<float>(8, 1.0f)));
  dup.tensor("a", {8}, 0, f32(std::vector<float>(8, 1.0f)));
  EXPECT_NE(parse_error(dup.bytes()).find("appears twice"), std::string::npos);
}

TEST_F(GgufTest, VersionsAndMagic) {
  GgufWriter v1 = model();
  v1.version = 1;
  EXPECT_NE(parse_error(v1.bytes()).find("version 1"), std::string::npos);
  GgufWriter be = model();
  be.version = 0x03000000;  // what a big-endian v3 file reads as
  EXPECT_NE(parse_error(be.bytes()).find("big-endian"), std::string::npos);
  GgufWriter v9 = model();
  v9.version = 9;
  EXPECT_NE(parse_error(v9.bytes()).find("version 9 is not supported"), std::string::npos);
  EXPECT_NE(parse_error("GGUX").find("magic"), std::string::npos);
  // By extension, a file without the magic still gets the GGUF reader's reason.
  const std::string path = dir_.file("broken.gguf");
  write_file(path, "not a model");
  try {
    open_source(path);
    FAIL() << "opened";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("magic 'GGUF' is missing"), std::string::npos);
  }
}

}  // namespace
}  // namespace muft::checkpoint
