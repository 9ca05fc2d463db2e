// Tests of safetensors.cpp and safetensors_source.cpp: the reference-style
// validation on crafted bad files, exact dtype conversion from a fixture written
// by an independent Python writer, sharded models, the writer, and threads.

#include "muft/checkpoint/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <thread>

#include "muft/checkpoint/dtype.h"
#include "test_util.h"

namespace muft::checkpoint {
namespace {

using testing::ScratchDir;
using testing::write_file;

const std::string kFixtures = "tests/checkpoint/fixtures";

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return s;
}

// A safetensors image: length field, header text as given, then data.
std::string image(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

// Expects open_source(path) to throw std::runtime_error whose one-line message
// names the file and contains `needle`.
void expect_rejected(const std::string& path, const std::string& needle) {
  try {
    open_source(path);
    ADD_FAILURE() << path << ": accepted, expected an error containing '" << needle << "'";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

class SafetensorsBadFileTest : public ::testing::Test {
 protected:
  void check(const std::string& bytes, const std::string& needle) {
    const std::string path = dir_.file("bad" + std::to_string(counter_++) + ".safetensors");
    write_file(path, bytes);
    expect_rejected(path, needle);
  }
  ScratchDir dir_;
  int counter_ = 0;
};

const std::string kEightBytes(8, '\x01');
const std::string kOneF32 = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";

TEST_F(SafetensorsBadFileTest, ValidBaselineIsAccepted) {
  // The crafted cases below differ from this accepted file in one detail each.
  const std::string path = dir_.file("good.safetensors");
  write_file(path, image(kOneF32, kEightBytes));
  EXPECT_EQ(open_source(path)->tensors().size(), 1u);
}

TEST_F(SafetensorsBadFileTest, TruncatedAndLengthErrors) {
  check("", "too short");
  check("\x10\x00\x00", "too short");
  check(le64(1000) + kOneF32, "exceeds the");                    // header length > file
  check(le64(100'000'001) + kOneF32, "exceeds the limit");       // over the limit
  check(le64(UINT64_MAX) + kOneF32, "exceeds the limit");        // no overflow in 8 + n
  check(image(kOneF32, kEightBytes.substr(0, 5)), "truncated");  // data cut short
  check(image(kOneF32, kEightBytes + "xx"), "trailing bytes");   // extra bytes
}

TEST_F(SafetensorsBadFileTest, HeaderSyntaxErrors) {
  check(image("{\"w\": {", ""), "not valid JSON");
  check(image("not json at all", ""), "not valid JSON");
  check(image("[1, 2]", ""), "not an object");
  check(image(std::string("{} \0\0", 5), ""),
        "not valid JSON");  // NUL padding is not JSON whitespace
  check(image(std::string(100000, '[') + std::string(100000, ']'), ""), "nested deeper");
  check(image("{\"\xff\xfe\": 1}", ""), "UTF-8");
  check(image(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
              R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
              kEightBytes),
        "appears twice");
  check(image(R"({"__metadata__":{"k":1}})", ""), "__metadata__");
  check(image(R"({"__metadata__":[]})", ""), "__metadata__");
}

TEST_F(SafetensorsBadFileTest, EntryErrors) {
  check(image(R"({"w":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", kEightBytes),
        "unknown dtype 'F33'");
  check(image(R"({"w":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}})", kEightBytes),
        "not supported");
  check(image(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", kEightBytes), "'dtype'");
  check(image(R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", kEightBytes), "'shape'");
  check(image(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", kEightBytes),
        "non-negative");
  check(image(R"({"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", kEightBytes),
        "non-negative");
  check(image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8,9]}})", kEightBytes),
        "data_offsets");
  check(image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,-8]}})", kEightBytes),
        "data_offsets");
  check(image(R"({"w":[1,2]})", kEightBytes), "not a JSON object");
}

TEST_F(SafetensorsBadFileTest, OffsetErrors) {
  // size != shape x dtype
  check(image(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", kEightBytes),
        "needs 12");
  check(image(R"({"w":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}})", kEightBytes), "needs 4");
  // overlapping
  check(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
              R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
              kEightBytes),
        "overlap");
  // gapped (and not starting at 0)
  check(image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
              R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
              kEightBytes + "1234"),
        "gap");
  check(image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", kEightBytes), "gap");
  // out of range: offsets beyond the end of the file
  check(image(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", kEightBytes),
        "truncated");
  check(image(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", kEightBytes),
        "end before");
  // shape overflow: 2^32 * 2^32 * 2^32 elements
  check(image(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],)"
              R"("data_offsets":[0,8]}})",
              kEightBytes),
        "overflows");
  check(image(R"({"w":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}})",
              kEightBytes),
        "overflows");
  check(image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}})",
              kEightBytes),
        "needs 8");
}

TEST(SafetensorsTest, FixtureValuesAreExact) {
  const auto src = open_source(kFixtures + "/mixed.safetensors");
  EXPECT_STREQ(src->format(), "safetensors");
  std::vector<std::string> names;
  for (const auto& t : src->tensors()) names.push_back(t.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"bf16.vector", "empty.matrix", "f16.vector", "f32.matrix",
                                      "f64.matrix", "i64.vector", "scalar", "u8.bytes"}));
  std::vector<double> d;
  std::vector<float> f;
  src->read("f32.matrix", d);
  EXPECT_EQ(d, (std::vector<double>{-1.0, -0.5, 0.0, 0.5, 1.0, 1.5}));
  src->read("f64.matrix", d);
  EXPECT_EQ(d, (std::vector<double>{M_PI, -M_E, 1e-310, 1e300}));
  src->read("f64.matrix", f);  // rounded to float: 1e300 overflows to inf, 1e-310 underflows
  EXPECT_EQ(f[0], static_cast<float>(M_PI));
  EXPECT_EQ(f[2], 0.0f);
  EXPECT_TRUE(std::isinf(f[3]));
  src->read("f16.vector", f);
  ASSERT_EQ(f.size(), 6u);
  EXPECT_EQ(f[0], 1.0f);
  EXPECT_EQ(f[1], -2.0f);
  EXPECT_EQ(f[2], 65504.0f);
  EXPECT_EQ(f[3], std::ldexp(1.0f, -24));
  EXPECT_EQ(f[4], std::numeric_limits<float>::infinity());
  EXPECT_TRUE(f[5] == 0.0f && std::signbit(f[5]));
  src->read("bf16.vector", d);
  EXPECT_EQ(d, (std::vector<double>{1.0, 3.140625, -123.5, std::ldexp(1.0, -133)}));
  src->read("scalar", d);
  EXPECT_EQ(d, std::vector<double>{2.5});
  src->read("empty.matrix", d);
  EXPECT_TRUE(d.empty());
  const auto& info = src->tensors()[1];
  EXPECT_EQ(info.shape, (std::vector<int64_t>{0, 4}));
  try {
    src->read("i64.vector", d);
    FAIL() << "integer tensor read as floats";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("'i64.vector'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("I64"), std::string::npos) << e.what();
  }
  EXPECT_THROW(src->read("no.such.tensor", d), std::out_of_range);
}

TEST(SafetensorsTest, MetadataAndLeadingWhitespace) {
  const std::string bytes = testing::read_file(kFixtures + "/mixed.safetensors");
  const auto header = parse_safetensors(reinterpret_cast<const unsigned char*>(bytes.data()),
                                        bytes.size(), "mixed");
  EXPECT_EQ(header.metadata.at("format"), "pt");
  EXPECT_EQ(bytes[8], ' ');  // the fixture's header starts with whitespace
  ScratchDir dir;
  const std::string path = dir.file("ws.safetensors");
  write_file(path, image("\n\t  " + kOneF32 + "  \n", kEightBytes));
  EXPECT_EQ(open_source(path)->tensors().size(), 1u);
}

TEST(SafetensorsTest, NanAndInfAreReadAsIs) {
  ScratchDir dir;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  write_safetensors(dir.file("nan.safetensors"),
                    {make_tensor("f32", {2, 2}, DType::F32, {nan, inf, -inf, 1.0}),
                     make_tensor("bf16", {3}, DType::BF16, {nan, -inf, 2.0}),
                     make_tensor("f16", {3}, DType::F16, {nan, inf, 1e6})});
  const auto src = open_source(dir.file("nan.safetensors"));
  std::vector<double> v;
  src->read("f32", v);
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], inf);
  EXPECT_EQ(v[2], -inf);
  EXPECT_EQ(v[3], 1.0);
  src->read("bf16", v);
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], -inf);
  src->read("f16", v);
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[2], inf);  // 1e6 overflows binary16
}

TEST(SafetensorsTest, ShardedFixtureByIndexAndDirectory) {
  for (const std::string& path :
       {kFixtures + "/sharded/model.safetensors.index.json", kFixtures + "/sharded"}) {
    const auto src = open_source(path);
    EXPECT_STREQ(src->format(), "safetensors-sharded");
    ASSERT_EQ(src->tensors().size(), 3u);
    EXPECT_EQ(src->tensors()[0].name, "layer.0.weight");
    EXPECT_EQ(src->tensors()[1].name, "layer.1.bias");
    EXPECT_EQ(src->tensors()[2].shape, (std::vector<int64_t>{4, 2}));
    std::vector<float> v;
    src->read("layer.0.weight", v);
    ASSERT_EQ(v.size(), 12u);
    for (int i = 0; i < 12; ++i) EXPECT_EQ(v[i], static_cast<float>(i));
    src->read("layer.1.weight", v);
    EXPECT_EQ(v[7], -7.0f);
    src->read("layer.1.bias", v);
    EXPECT_EQ(v, (std::vector<float>{0.25f, 0.5f}));
  }
}

TEST(SafetensorsTest, WriterRoundTripAndSharding) {
  ScratchDir dir;
  std::vector<NamedTensor> tensors;
  std::vector<double> big(64 * 48);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = std::sin(0.1 * i) * 3.0;
  tensors.push_back(make_tensor("a.weight", {64, 48}, DType::F32, big));
  tensors.push_back(make_tensor("b.weight", {48, 64}, DType::BF16, big));
  tensors.push_back(make_tensor("c.weight", {3, 1}, DType::F64, {1.0 / 3, 2.0, -1e-300}));
  tensors.push_back(make_tensor("d.idx", {5}, DType::I32, {1, 2, 3, 4, 5}));
  tensors.push_back(make_tensor("e.weight", {32, 96}, DType::F16, big));
  write_safetensors(dir.file("one.safetensors"), tensors, {{"k", "v"}});
  const std::string bytes = testing::read_file(dir.file("one.safetensors"));
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);  // padded header, data section 8-byte aligned

  std::filesystem::create_directory(dir.file("shards"));
  const std::string index = write_safetensors_sharded(dir.file("shards"), tensors, 10000);
  EXPECT_TRUE(std::filesystem::exists(dir.file("shards/model-00003-of-00003.safetensors")));
  for (const std::string& path : {dir.file("one.safetensors"), index}) {
    const auto src = open_source(path);
    ASSERT_EQ(src->tensors().size(), 5u);
    std::vector<double> v;
    src->read("a.weight", v);
    for (std::size_t i = 0; i < big.size(); ++i) ASSERT_EQ(v[i], static_cast<float>(big[i]));
    src->read("b.weight", v);
    for (std::size_t i = 0; i < big.size(); ++i) {
      ASSERT_EQ(v[i], bfloat16_to_float(float_to_bfloat16(static_cast<float>(big[i]))));
      ASSERT_LE(std::abs(v[i] - big[i]), std::abs(big[i]) * std::ldexp(1.0, -8) + 1e-300);
    }
    src->read("e.weight", v);
    for (std::size_t i = 0; i < big.size(); ++i) {
      ASSERT_LE(std::abs(v[i] - big[i]), std::abs(big[i]) * std::ldexp(1.0, -11) + 1e-7);
    }
    src->read("c.weight", v);
    EXPECT_EQ(v, (std::vector<double>{1.0 / 3, 2.0, -1e-300}));
    EXPECT_EQ(src->tensors()[3].dtype, DType::I32);
  }
  EXPECT_THROW(
      write_safetensors(dir.file("x.safetensors"),
                        {NamedTensor{"w", {3}, DType::F32, std::vector<unsigned char>(8)}}),
      std::invalid_argument);
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.safetensors")));
}

TEST(SafetensorsTest, StoredBytesAreTheWrittenBytesInPlace) {
  ScratchDir dir;
  std::vector<NamedTensor> tensors;
  tensors.push_back(
      make_tensor("a.weight", {4, 3}, DType::F32, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
  tensors.push_back(make_tensor("b.weight", {2, 2}, DType::BF16, {1, -2, 0.5, 4}));
  tensors.push_back(make_tensor("d.idx", {3}, DType::I64, {7, 8, 9}));
  tensors.push_back(make_tensor("e.empty", {0, 4}, DType::F64, {}));
  write_safetensors(dir.file("one.safetensors"), tensors);
  std::filesystem::create_directory(dir.file("shards"));
  const std::string index = write_safetensors_sharded(dir.file("shards"), tensors, 40);
  for (const std::string& path : {dir.file("one.safetensors"), index}) {
    const auto src = open_source(path);
    for (const NamedTensor& t : tensors) {
      const auto b = src->stored_bytes(t.name);
      ASSERT_TRUE(b.has_value()) << path << " " << t.name;
      ASSERT_EQ(b->size, t.bytes.size()) << t.name;
      EXPECT_TRUE(b->size == 0 || std::memcmp(b->data, t.bytes.data(), b->size) == 0) << t.name;
    }
    EXPECT_THROW(src->stored_bytes("nope"), std::out_of_range);
  }
  // The bytes live in the file's mapping: the same pointer every time.
  const auto src = open_source(dir.file("one.safetensors"));
  EXPECT_EQ(src->stored_bytes("a.weight")->data, src->stored_bytes("a.weight")->data);
}

TEST(SafetensorsTest, IndexTextParsedWithoutTheShards) {
  const SafetensorsIndex ix = parse_safetensors_index(
      R"({"metadata": {"total_size": 8}, "weight_map": {"b": "s2.safetensors", )"
      R"("a": "sub/s1.safetensors", "c": "s2.safetensors"}})",
      "m.json");
  EXPECT_EQ(ix.weight_map,
            (std::map<std::string, std::string>{
                {"a", "sub/s1.safetensors"}, {"b", "s2.safetensors"}, {"c", "s2.safetensors"}}));
  EXPECT_EQ(ix.shards, (std::vector<std::string>{"sub/s1.safetensors", "s2.safetensors"}));
  const auto rejected = [](const std::string& text, const std::string& needle) {
    try {
      parse_safetensors_index(text, "m.json");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("m.json: " + needle), std::string::npos) << e.what();
    }
  };
  rejected(R"({"weight_map": {"a": "x/../../s.safetensors"}})", "weight_map names shard");
  rejected(R"({"weight_map": {"a": ""}})", "weight_map names shard ''");
  rejected(R"({"weight_map": {"a": 3}})", "weight_map value of 'a' is not a file name");
  rejected(R"({"weight_map": ["a"]})", "index has no 'weight_map' object");
  rejected(std::string("{\"weight_map\": {\"a\": \"s\0\"}}", 27), "index is not valid JSON");
  rejected("[1, 2", "index is not valid JSON");
}

TEST(SafetensorsTest, BadShardedIndexes) {
  ScratchDir dir;
  write_safetensors(dir.file("s1.safetensors"), {make_tensor("a", {2}, DType::F32, {1, 2}),
                                                 make_tensor("b", {1}, DType::F32, {3})});
  auto index = [&](const std::string& text) {
    const std::string path = dir.file("model.safetensors.index.json");
    write_file(path, text);
    return path;
  };
  expect_rejected(index(R"({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors", )"
                        R"("c": "s1.safetensors"}})"),
                  "'c' is listed in weight_map but missing");
  expect_rejected(index(R"({"weight_map": {"a": "s1.safetensors"}})"), "'b' of shard s1");
  expect_rejected(index(R"({"weight_map": {"a": "missing.safetensors"}})"), "missing.safetensors");
  expect_rejected(index(R"({"weight_map": {"a": "../s1.safetensors"}})"), "relative");
  expect_rejected(index(R"({"weight_map": {"a": "/etc/passwd"}})"), "relative");
  expect_rejected(index(R"({"metadata": {}})"), "weight_map");
  expect_rejected(index(R"({"weight_map": )"), "not valid JSON");
  expect_rejected(index(std::string(1000, '[')), "nested deeper");
  index(R"({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors"}})");
  EXPECT_EQ(open_source(dir.path())->tensors().size(), 2u);  // the directory finds the index
  ScratchDir empty;
  expect_rejected(empty.path(), "expected model.safetensors.index.json");
  expect_rejected(empty.file("nothing.safetensors"), "cannot open");
  write_file(empty.file("notes.txt"), "just some text, long enough");
  expect_rejected(empty.file("notes.txt"), "not HDF5");
}

// A tensor larger than the reader's 16 MiB conversion chunk, starting at an
// odd offset: every element must come out right across chunk boundaries.
TEST(SafetensorsTest, ReadsAcrossChunkBoundaries) {
  ScratchDir dir;
  const std::size_t n = (std::size_t{9} << 20) / 2 + 3;  // 4.5 Mi + 3 floats: two chunks
  NamedTensor big{"big", {static_cast<int64_t>(n)}, DType::F32, std::vector<unsigned char>(4 * n)};
  for (std::size_t i = 0; i < n; ++i) {
    const float v = static_cast<float>(i % 100003) - 7.5f;
    std::memcpy(big.bytes.data() + 4 * i, &v, 4);
  }
  write_safetensors(dir.file("big.safetensors"),
                    {make_tensor("pad", {3}, DType::U8, {1, 2, 3}), big});
  const auto src = open_source(dir.file("big.safetensors"));
  std::vector<float> v;
  src->read("big", v);
  ASSERT_EQ(v.size(), n);
  std::size_t bad = 0;
  for (std::size_t i = 0; i < n; ++i) bad += v[i] != static_cast<float>(i % 100003) - 7.5f;
  EXPECT_EQ(bad, 0u);
}

TEST(SafetensorsTest, FormatDetection) {
  ScratchDir dir;
  // Tensor bytes that spell HDF5's signature at file offset 512.
  const std::string sig = "\x89HDF\r\n\x1a\n";
  std::string header = R"({"w":{"dtype":"U8","shape":[1024],"data_offsets":[0,1024]}})";
  header.append(512 - 8 - header.size(), ' ');
  std::string data(1024, '\0');
  data.replace(0, sig.size(), sig);
  const std::string bytes = image(header, data);
  ASSERT_EQ(bytes.compare(512, sig.size(), sig), 0);
  write_file(dir.file("sig.safetensors"), bytes);
  EXPECT_STREQ(open_source(dir.file("sig.safetensors"))->format(), "safetensors");
  // Without a telling extension: safetensors by content, HDF5 by signature.
  write_file(dir.file("model.bin"), image(kOneF32, kEightBytes));
  EXPECT_STREQ(open_source(dir.file("model.bin"))->format(), "safetensors");
  write_file(dir.file("weights.dat"), testing::read_file(kFixtures + "/generic.h5"));
  EXPECT_STREQ(open_source(dir.file("weights.dat"))->format(), "hdf5");
}

// The analyzer reads tensors of one source from several threads.
TEST(SafetensorsTest, ConcurrentReadsAgree) {
  ScratchDir dir;
  std::vector<NamedTensor> tensors;
  std::vector<std::vector<double>> expected;
  for (int t = 0; t < 8; ++t) {
    std::vector<double> v(300 + 17 * t);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(t * 1000 + i * 0.5);
    tensors.push_back(
        make_tensor("t" + std::to_string(t), {static_cast<int64_t>(v.size())}, DType::F32, v));
    expected.push_back(v);
  }
  write_safetensors(dir.file("mt.safetensors"), tensors);
  const auto src = open_source(dir.file("mt.safetensors"));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      std::vector<double> v;
      for (int rep = 0; rep < 50; ++rep) {
        const int t = (w + rep) % 8;
        src->read("t" + std::to_string(t), v);
        if (v != expected[t]) ++mismatches[w];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace muft::checkpoint
