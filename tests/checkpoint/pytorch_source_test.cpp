/// \file pytorch_source_test.cpp
/// torch.save archives through open_source(): views (offsets, strides,
/// shared storages, slices), dtypes, nesting, skipped tensors, directories
/// and shards, and the bad files (truncated zips, compressed members, short
/// storages, views past their storage, the legacy format). Fixtures are
/// hand-built (torch_writer.h) so that every byte is known; the end-to-end
/// test (pytorch_cli_test.py) covers files written by python3-torch.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "muft/checkpoint/dtype.h"
#include "muft/checkpoint/tensor_source.h"
#include "test_util.h"
#include "torch_writer.h"

namespace muft::checkpoint {
namespace {

using testing::f32_bytes;
using testing::f64_bytes;
using testing::make_torch_archive;
using testing::make_zip;
using testing::PickleBuilder;
using testing::ScratchDir;
using testing::u16_bytes;
using testing::write_file;

std::vector<float> iota(int n, float start = 0) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = start + static_cast<float>(i);
  return v;
}

// A state dict {name: tensor, ...} as torch.save pickles it.
struct Entry {
  std::string name, storage_type, key;
  int64_t numel, offset;
  std::vector<int64_t> sizes, strides;
};
std::string state_dict_pickle(const std::vector<Entry>& entries) {
  PickleBuilder b;
  b.proto().global("collections", "OrderedDict").empty_tuple().reduce().mark();
  for (const auto& e : entries) {
    b.str(e.name).tensor(e.storage_type, e.key, e.numel, e.offset, e.sizes, e.strides);
  }
  return b.setitems().stop().bytes();
}

class PytorchSourceTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_.file(name);
    write_file(path, bytes);
    return path;
  }
  // The error opening path gives (empty when it opens).
  static std::string open_error(const std::string& path) {
    try {
      open_source(path);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  }
  ScratchDir dir_;
};

TEST_F(PytorchSourceTest, ViewsOffsetsStridesAndSharedStorage) {
  // One 12-float storage s = 0..11 seen as: the 3x4 matrix, its transpose,
  // rows 1..2 (offset 4), every other column (stride 2), and a 2x2 block at
  // offset 5 with row stride 4; a second storage holds a plain 2x3 matrix.
  const std::vector<Entry> entries = {
      {"full", "FloatStorage", "0", 12, 0, {3, 4}, {4, 1}},
      {"t", "FloatStorage", "0", 12, 0, {4, 3}, {1, 4}},
      {"rows", "FloatStorage", "0", 12, 4, {2, 4}, {4, 1}},
      {"cols", "FloatStorage", "0", 12, 0, {3, 2}, {4, 2}},
      {"block", "FloatStorage", "0", 12, 5, {2, 2}, {4, 1}},
      {"other", "FloatStorage", "1", 6, 0, {2, 3}, {3, 1}},
  };
  const std::string path = write(
      "views.pt", make_torch_archive(state_dict_pickle(entries),
                                     {{"0", f32_bytes(iota(12))}, {"1", f32_bytes(iota(6, 100))}}));
  const auto src = open_source(path);
  EXPECT_STREQ(src->format(), "pytorch");
  ASSERT_EQ(src->tensors().size(), 6u);
  EXPECT_EQ(src->tensors()[0].name, "block");  // sorted by name
  std::vector<double> d;
  src->read("t", d);
  EXPECT_EQ(d, (std::vector<double>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
  src->read("rows", d);
  EXPECT_EQ(d, (std::vector<double>{4, 5, 6, 7, 8, 9, 10, 11}));
  src->read("cols", d);
  EXPECT_EQ(d, (std::vector<double>{0, 2, 4, 6, 8, 10}));
  src->read("block", d);
  EXPECT_EQ(d, (std::vector<double>{5, 6, 9, 10}));
  std::vector<float> f;
  src->read("full", f);
  EXPECT_EQ(f, iota(12));
  src->read("other", f);
  EXPECT_EQ(f, iota(6, 100));
  const TensorInfo& t = src->tensors()[5];
  EXPECT_EQ(t.name, "t");
  EXPECT_EQ(t.shape, (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(t.dtype, DType::F32);
  EXPECT_TRUE(t.skip_reason.empty());
}

// The floats at the bytes stored_bytes hands out (copied out: no alignment is promised).
std::vector<float> floats_at(const StoredBytes& b) {
  std::vector<float> v(b.size / 4);
  if (!v.empty()) std::memcpy(v.data(), b.data, b.size);
  return v;
}

TEST_F(PytorchSourceTest, StoredBytesOfContiguousViewsOnly) {
  const std::vector<Entry> entries = {
      {"full", "FloatStorage", "0", 12, 0, {3, 4}, {4, 1}},
      {"t", "FloatStorage", "0", 12, 0, {4, 3}, {1, 4}},
      {"rows", "FloatStorage", "0", 12, 4, {2, 4}, {4, 1}},
      {"cols", "FloatStorage", "0", 12, 0, {3, 2}, {4, 2}},
      {"n", "LongStorage", "1", 2, 0, {2, 1}, {1, 1}},
  };
  std::string ints(16, '\0');
  ints[0] = 7;
  ints[8] = 9;
  const std::string path = write(
      "in_place.pt",
      make_torch_archive(state_dict_pickle(entries), {{"0", f32_bytes(iota(12))}, {"1", ints}}));
  const auto src = open_source(path);
  const auto full = src->stored_bytes("full");
  ASSERT_TRUE(full.has_value());
  EXPECT_EQ(floats_at(*full), iota(12));
  const auto rows = src->stored_bytes("rows");  // offset 4 into the storage
  ASSERT_TRUE(rows.has_value());
  EXPECT_EQ(floats_at(*rows), iota(8, 4));
  EXPECT_EQ(rows->data, full->data + 16);               // the same storage, in place
  EXPECT_FALSE(src->stored_bytes("t").has_value());     // transposed: would need a gather
  EXPECT_FALSE(src->stored_bytes("cols").has_value());  // column stride 2
  // Integer tensors are not analyzed but their bytes are elements of their dtype.
  const auto n = src->stored_bytes("n");
  ASSERT_TRUE(n.has_value());
  ASSERT_EQ(n->size, 16u);
  int64_t first = 0, second = 0;
  std::memcpy(&first, n->data, 8);
  std::memcpy(&second, n->data + 8, 8);
  EXPECT_EQ(first, 7);
  EXPECT_EQ(second, 9);
  EXPECT_THROW(src->stored_bytes("missing"), std::out_of_range);
}

TEST_F(PytorchSourceTest, HalfBfloatDoubleAndIntegerStorages) {
  // f16 bits of 1, -2, 0.5, 65504 (max); bf16 bits of 1, -2, 3.140625, 2^-126.
  const std::vector<uint16_t> half = {0x3C00, 0xC000, 0x3800, 0x7BFF};
  const std::vector<uint16_t> bf = {0x3F80, 0xC000, 0x4049, 0x0080};
  const std::vector<double> dbl = {1.0 / 3.0, -1e300, 5e-324, 2.0};
  std::string ints(16, '\0');
  ints[0] = 7;
  const std::vector<Entry> entries = {
      {"h", "HalfStorage", "0", 4, 0, {2, 2}, {2, 1}},
      {"b", "BFloat16Storage", "1", 4, 0, {2, 2}, {2, 1}},
      {"d", "DoubleStorage", "2", 4, 0, {2, 2}, {1, 2}},  // transposed double view
      {"n", "LongStorage", "3", 2, 0, {2, 1}, {1, 1}},
  };
  const std::string path = write(
      "dtypes.pth",
      make_torch_archive(
          state_dict_pickle(entries),
          {{"0", u16_bytes(half)}, {"1", u16_bytes(bf)}, {"2", f64_bytes(dbl)}, {"3", ints}}));
  const auto src = open_source(path);
  std::vector<double> v;
  src->read("h", v);
  EXPECT_EQ(v, (std::vector<double>{1, -2, 0.5, 65504}));
  src->read("b", v);
  EXPECT_EQ(v, (std::vector<double>{1, -2, 3.140625, std::ldexp(1.0, -126)}));
  src->read("d", v);  // exact: doubles are never rounded through float
  EXPECT_EQ(v, (std::vector<double>{dbl[0], dbl[2], dbl[1], dbl[3]}));
  const TensorInfo& n = src->tensors()[3];
  ASSERT_EQ(n.name, "n");
  EXPECT_EQ(n.dtype, DType::I64);
  EXPECT_NE(n.skip_reason.find("torch.LongStorage"), std::string::npos) << n.skip_reason;
  EXPECT_THROW(src->read("n", v), std::runtime_error);
  EXPECT_THROW(src->read("missing", v), std::out_of_range);
}

TEST_F(PytorchSourceTest, StrideZeroViewIsListedAndSkipped) {
  // x.expand(3, 4) of a 4-element storage: 12 elements over 4 stored ones.
  const std::string path = write(
      "bcast.pt",
      make_torch_archive(state_dict_pickle({{"e", "FloatStorage", "0", 4, 0, {3, 4}, {0, 1}}}),
                         {{"0", f32_bytes(iota(4))}}));
  const auto src = open_source(path);
  ASSERT_EQ(src->tensors().size(), 1u);
  EXPECT_NE(src->tensors()[0].skip_reason.find("repeats storage elements"), std::string::npos);
  std::vector<float> f;
  EXPECT_THROW(src->read("e", f), std::runtime_error);
}

TEST_F(PytorchSourceTest, Zip64UnalignedAndOtherPrefixes) {
  const std::string pkl = state_dict_pickle({{"w", "FloatStorage", "0", 6, 0, {2, 3}, {3, 1}}});
  for (const bool zip64 : {false, true}) {
    for (const bool align : {false, true}) {
      testing::ZipOptions opt;
      opt.zip64 = zip64;
      opt.align64 = align;
      const std::string path =
          write("z.bin", make_torch_archive(pkl, {{"0", f32_bytes(iota(6, 1))}}, "my_model", opt));
      const auto src = open_source(path);
      std::vector<float> f;
      src->read("w", f);
      EXPECT_EQ(f, iota(6, 1)) << "zip64 " << zip64 << " align " << align;
    }
  }
}

TEST_F(PytorchSourceTest, TruncatedArchivesAreRefusedAtEveryLength) {
  const std::string good =
      make_torch_archive(state_dict_pickle({{"w", "FloatStorage", "0", 6, 0, {2, 3}, {3, 1}}}),
                         {{"0", f32_bytes(iota(6))}});
  ASSERT_EQ(open_error(write("good.pt", good)), "");
  for (std::size_t n = 0; n < good.size(); n += 7) {
    const std::string err = open_error(write("cut.pt", good.substr(0, n)));
    EXPECT_NE(err, "") << "truncated to " << n << " of " << good.size() << " bytes: accepted";
  }
  EXPECT_NE(open_error(write("cut.pt", good.substr(0, good.size() - 1))).find("end-of-central"),
            std::string::npos);
}

TEST_F(PytorchSourceTest, BadArchives) {
  const std::string pkl = state_dict_pickle({{"w", "FloatStorage", "0", 6, 0, {2, 3}, {3, 1}}});
  const std::string data = f32_bytes(iota(6));
  // Storage record shorter than the declared storage.
  EXPECT_NE(open_error(write("a.pt", make_torch_archive(pkl, {{"0", data.substr(0, 20)}})))
                .find("holds only 20 bytes"),
            std::string::npos);
  // View reaching past its storage: a 2x3 view over a 4-element storage.
  const std::string past = state_dict_pickle({{"w", "FloatStorage", "0", 4, 0, {2, 3}, {3, 1}}});
  EXPECT_NE(open_error(write("b.pt", make_torch_archive(past, {{"0", data}})))
                .find("reaches element 5 but its storage holds 4"),
            std::string::npos);
  // Offset pushing a view past the end, and negative strides.
  const std::string off = state_dict_pickle({{"w", "FloatStorage", "0", 6, 1, {2, 3}, {3, 1}}});
  EXPECT_NE(open_error(write("c.pt", make_torch_archive(off, {{"0", data}}))).find("reaches"),
            std::string::npos);
  const std::string neg = state_dict_pickle({{"w", "FloatStorage", "0", 6, 5, {2, 3}, {-3, 1}}});
  EXPECT_NE(open_error(write("d.pt", make_torch_archive(neg, {{"0", data}}))).find("negative"),
            std::string::npos);
  // Huge declared sizes: overflowing sizes x strides, a storage of 2^61 floats.
  const std::string huge = state_dict_pickle(
      {{"w", "FloatStorage", "0", 6, 0, {int64_t{1} << 20, int64_t{1} << 20}, {1, 1}}});
  EXPECT_NE(open_error(write("e.pt", make_torch_archive(huge, {{"0", data}}))).find("reaches"),
            std::string::npos);
  const std::string over = state_dict_pickle(
      {{"w", "FloatStorage", "0", 6, 0, {int64_t{1} << 62, 8}, {1, int64_t{1} << 62}}});
  EXPECT_NE(open_error(write("f.pt", make_torch_archive(over, {{"0", data}}))).find("overflow"),
            std::string::npos);
  // An empty view whose other sizes multiply past 64 bits (its matrix shape would overflow).
  const std::string empty_over = state_dict_pickle(
      {{"w", "FloatStorage", "0", 6, 0, {0, int64_t{1} << 40, int64_t{1} << 40}, {1, 1, 1}}});
  EXPECT_NE(
      open_error(write("f2.pt", make_torch_archive(empty_over, {{"0", data}}))).find("overflow"),
      std::string::npos);
  const std::string big =
      state_dict_pickle({{"w", "FloatStorage", "0", int64_t{1} << 61, 0, {2, 3}, {3, 1}}});
  EXPECT_NE(open_error(write("g.pt", make_torch_archive(big, {{"0", data}}))).find("declares"),
            std::string::npos);
  // Missing storage record, missing data.pkl, a compressed member, big-endian archive.
  EXPECT_NE(open_error(write("h.pt", make_torch_archive(pkl, {}))).find("has no record"),
            std::string::npos);
  EXPECT_NE(open_error(write("i.pt", make_zip({{"archive/version", "3\n"}}))).find("data.pkl"),
            std::string::npos);
  EXPECT_NE(open_error(write("j.pt", make_zip({{"archive/data.pkl", pkl, 8}}))).find("compressed"),
            std::string::npos);
  EXPECT_NE(open_error(write("k.pt", make_zip({{"archive/data.pkl", pkl},
                                               {"archive/byteorder", "big"},
                                               {"archive/data/0", data}})))
                .find("only little-endian"),
            std::string::npos);
  // TorchScript archives and duplicate members.
  EXPECT_NE(open_error(write("l.pt", make_zip({{"m/data.pkl", pkl}, {"m/constants.pkl", pkl}})))
                .find("TorchScript"),
            std::string::npos);
  EXPECT_NE(open_error(write("m.pt", make_zip({{"a/data.pkl", pkl}, {"a/data.pkl", pkl}})))
                .find("appears twice"),
            std::string::npos);
}

TEST_F(PytorchSourceTest, MaliciousPickleIsRefusedWithoutRunningIt) {
  // The classic payload: os.system('touch MARKER') inside a state dict.
  const std::string marker = dir_.file("pwned");
  PickleBuilder b;
  b.proto().empty_dict().str("x").global("os", "system").str("touch " + marker).tuple1();
  b.reduce().setitem().stop();
  const std::string err = open_error(write("evil.pt", make_torch_archive(b.bytes(), {})));
  EXPECT_NE(err.find("global 'os.system' is not allowed"), std::string::npos) << err;
  EXPECT_NE(err.find("evil.pt: archive/data.pkl"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST_F(PytorchSourceTest, LegacyAndBarePicklesSayHowToConvert) {
  // The first bytes of a pre-1.6 torch.save file: PROTO 2, LONG1 magic number.
  const std::string legacy("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.\x80\x02", 16);
  const std::string err = open_error(write("old.pt", legacy));
  EXPECT_NE(err.find("legacy torch.save format"), std::string::npos) << err;
  EXPECT_NE(err.find("torch.save(torch.load('IN', map_location='cpu'), 'OUT.pt')"),
            std::string::npos)
      << err;
  EXPECT_EQ(err.find('\n'), std::string::npos);  // one line
  EXPECT_NE(open_error(write("plain.pkl", "\x80\x04K\x01.")).find("bare pickle"),
            std::string::npos);
  EXPECT_NE(open_error(write("junk.bin", "hello world")).find("zip signature"), std::string::npos);
}

TEST_F(PytorchSourceTest, DirectoriesAndShardedBinIndexes) {
  namespace fs = std::filesystem;
  const std::string pkl_a =
      state_dict_pickle({{"a.weight", "FloatStorage", "0", 4, 0, {2, 2}, {2, 1}}});
  const std::string pkl_b =
      state_dict_pickle({{"b.weight", "FloatStorage", "0", 6, 0, {3, 2}, {2, 1}}});
  fs::create_directories(dir_.file("hf"));
  write("hf/pytorch_model-00001-of-00002.bin",
        make_torch_archive(pkl_a, {{"0", f32_bytes(iota(4))}}));
  write("hf/pytorch_model-00002-of-00002.bin",
        make_torch_archive(pkl_b, {{"0", f32_bytes(iota(6, 10))}}));
  write("hf/pytorch_model.bin.index.json",
        R"({"metadata": {}, "weight_map": {"a.weight": "pytorch_model-00001-of-00002.bin",
            "b.weight": "pytorch_model-00002-of-00002.bin"}})");
  const auto src = open_source(dir_.file("hf"));
  EXPECT_STREQ(src->format(), "pytorch-sharded");
  ASSERT_EQ(src->tensors().size(), 2u);
  std::vector<float> f;
  src->read("b.weight", f);
  EXPECT_EQ(f, iota(6, 10));
  // A directory with a single pytorch_model.bin, and a PEFT adapter_model.bin.
  for (const char* name : {"pytorch_model.bin", "adapter_model.bin"}) {
    const std::string d = dir_.file(std::string("single_") + name);
    fs::create_directories(d);
    write_file(d + "/" + name, make_torch_archive(pkl_a, {{"0", f32_bytes(iota(4))}}));
    EXPECT_STREQ(open_source(d)->format(), "pytorch") << name;
  }
}

}  // namespace
}  // namespace muft::checkpoint
