// Tests of hdf5_source.cpp: generic HDF5 files (a fixture written by h5py) and
// muft checkpoints read as TensorSources, including from several threads.

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <thread>

#include "muft/checkpoint/checkpoint.h"
#include "muft/checkpoint/dtype.h"
#include "muft/checkpoint/safetensors.h"
#include "test_util.h"

namespace muft::checkpoint {
namespace {

using testing::ScratchDir;

const std::string kGeneric = "tests/checkpoint/fixtures/generic.h5";

TEST(Hdf5SourceTest, GenericFileListsRankTwoNumericDatasets) {
  const auto src = open_source(kGeneric);
  EXPECT_STREQ(src->format(), "hdf5");
  std::vector<std::string> names;
  for (const auto& t : src->tensors()) names.push_back(t.name);
  // model/bias (rank 1) and names (strings) are not candidates.
  EXPECT_EQ(names,
            (std::vector<std::string>{"counts", "model/conv", "model/dense/kernel", "model/half"}));
  EXPECT_EQ(src->tensors()[0].dtype, DType::I32);
  EXPECT_EQ(src->tensors()[1].shape, (std::vector<int64_t>{2, 3, 2, 2}));
  EXPECT_EQ(src->tensors()[1].matrix_shape(), (std::pair<int64_t, int64_t>(2, 12)));
  EXPECT_EQ(src->tensors()[2].dtype, DType::F64);
  EXPECT_EQ(src->tensors()[3].dtype, DType::F16);
  std::vector<double> d;
  src->read("model/dense/kernel", d);
  EXPECT_EQ(d, (std::vector<double>{0, 1, 2, 3, 4, 5}));
  src->read("model/conv", d);
  EXPECT_EQ(d, std::vector<double>(24, 1.0));
  std::vector<float> f;
  src->read("model/half", f);
  EXPECT_EQ(f, (std::vector<float>{1.0f, std::ldexp(1.0f, -24),
                                   std::numeric_limits<float>::infinity(), -65504.0f}));
  EXPECT_THROW(src->read("counts", d), std::runtime_error);
  EXPECT_THROW(src->read("model/bias", d), std::out_of_range);
}

TEST(Hdf5SourceTest, GenericFileIsNotACheckpoint) {
  try {
    read_checkpoint(kGeneric);
    FAIL() << "generic HDF5 accepted as a checkpoint";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a muft checkpoint"), std::string::npos) << e.what();
  }
}

Checkpoint tiny_checkpoint() {
  Checkpoint ck;
  ck.step = 7;
  ck.parameters.push_back(
      make_tensor("h.0/attn.c_q.weight", {2, 3}, DType::F32, {1, 2, 3, 4, 5, 6}));
  ck.parameters.push_back(make_tensor("lm_head.weight", {2, 2}, DType::F64, {0.1, 1e300, -2, 3}));
  ck.parameters.push_back(make_tensor("bf", {2, 2}, DType::BF16, {1, -2, 3.140625, 0.5}));
  ck.parameters.push_back(
      make_tensor("hf", {1, 3}, DType::F16, {65504, -0.25, std::ldexp(1.0, -24)}));
  ck.parameters.push_back(make_tensor("norm.scale", {3}, DType::F32, {1, 1, 1}));
  ck.parameters.push_back(make_tensor("steps", {2, 1}, DType::I64, {5, 6}));
  ck.parameters.push_back(make_tensor("empty", {0, 3}, DType::F32, {}));
  ck.optimizer_state.push_back(make_tensor("adam/exp_avg/bf", {2, 2}, DType::F32, {0, 0, 0, 0}));
  return ck;
}

TEST(Hdf5SourceTest, MuftCheckpointAsSource) {
  ScratchDir dir;
  const std::string path = dir.file("step_000007.h5");
  write_checkpoint(path, tiny_checkpoint());
  const auto src = open_source(path);
  EXPECT_STREQ(src->format(), "muft-hdf5");
  std::vector<std::string> names;
  for (const auto& t : src->tensors()) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"bf", "empty", "h.0/attn.c_q.weight", "hf",
                                             "lm_head.weight", "norm.scale", "steps"}));
  std::vector<double> d;
  std::vector<float> f;
  src->read("h.0/attn.c_q.weight", d);
  EXPECT_EQ(d, (std::vector<double>{1, 2, 3, 4, 5, 6}));
  src->read("bf", d);
  EXPECT_EQ(d, (std::vector<double>{1, -2, 3.140625, 0.5}));
  src->read("hf", f);
  EXPECT_EQ(f, (std::vector<float>{65504.0f, -0.25f, std::ldexp(1.0f, -24)}));
  src->read("lm_head.weight", d);
  EXPECT_EQ(d, (std::vector<double>{0.1, 1e300, -2, 3}));
  src->read("lm_head.weight", f);
  EXPECT_EQ(f[0], 0.1f);
  EXPECT_TRUE(std::isinf(f[1]));  // rounded by muft, not clamped by HDF5
  src->read("empty", f);
  EXPECT_TRUE(f.empty());
  EXPECT_THROW(src->read("steps", d), std::runtime_error);
  EXPECT_THROW(src->read("adam/exp_avg/bf", d), std::out_of_range);  // optimizer state not listed
}

TEST(Hdf5SourceTest, ConcurrentReadsAgree) {
  ScratchDir dir;
  Checkpoint ck;
  std::vector<std::vector<double>> expected;
  for (int t = 0; t < 6; ++t) {
    std::vector<double> v(40 * (t + 1));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = t + 0.25 * i;
    ck.parameters.push_back(make_tensor("p" + std::to_string(t),
                                        {static_cast<int64_t>(v.size()) / 4, 4},
                                        t % 2 ? DType::F64 : DType::F32, v));
    expected.push_back(v);
  }
  write_checkpoint(dir.file("ck.h5"), ck);
  const auto src = open_source(dir.file("ck.h5"));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      std::vector<double> v;
      for (int rep = 0; rep < 30; ++rep) {
        const int t = (w * 7 + rep) % 6;
        src->read("p" + std::to_string(t), v);
        if (v != expected[t]) ++mismatches[w];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

// Complex numbers (a compound of two floats, as h5py writes complex128) and other number-like
// datasets muft cannot convert are listed with the reason, not dropped; strings stay unlisted.
TEST(Hdf5SourceTest, GenericFileListsUnconvertibleDatasetsWithAReason) {
  ScratchDir dir;
  const std::string path = dir.file("mixed.h5");
  {
    const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t dims[2] = {2, 2};
    const hid_t space = H5Screate_simple(2, dims, nullptr);
    const hid_t complex = H5Tcreate(H5T_COMPOUND, 16);
    H5Tinsert(complex, "r", 0, H5T_IEEE_F64LE);
    H5Tinsert(complex, "i", 8, H5T_IEEE_F64LE);
    const hsize_t three[1] = {3};
    const hid_t array = H5Tarray_create2(H5T_IEEE_F32LE, 1, three);
    const hid_t quad = H5Tcopy(H5T_NATIVE_LDOUBLE);
    const hid_t text = H5Tcopy(H5T_C_S1);
    H5Tset_size(text, 4);
    const std::vector<unsigned char> zeros(4 * 16, 0);
    for (const auto& [name, type] : {std::pair<const char*, hid_t>{"complex", complex},
                                     {"array", array},
                                     {"quad", quad},
                                     {"text", text},
                                     {"plain", H5T_IEEE_F32LE}}) {
      const hid_t d = H5Dcreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros.data());
      H5Dclose(d);
    }
    for (hid_t t : {complex, array, quad, text}) H5Tclose(t);
    H5Sclose(space);
    H5Fclose(f);
  }
  const auto src = open_source(path);
  std::map<std::string, std::string> why;
  for (const auto& t : src->tensors()) why[t.name] = t.skip_reason;
  ASSERT_EQ(why.size(), 4u);  // "text" is not listed
  EXPECT_EQ(why.at("plain"), "");
  EXPECT_EQ(why.at("complex"), "complex numbers (compound of two floats) are not supported");
  EXPECT_NE(why.at("array").find("array datatype"), std::string::npos) << why.at("array");
  EXPECT_NE(why.at("quad").find("16-byte floating-point"), std::string::npos) << why.at("quad");
  std::vector<double> v;
  try {
    src->read("complex", v);
    ADD_FAILURE() << "a complex dataset was read as real numbers";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("complex numbers"), std::string::npos) << e.what();
  }
  src->read("plain", v);
  EXPECT_EQ(v, std::vector<double>(4, 0.0));
}

// stored_bytes: muft checkpoints are written contiguously, so every parameter is handed out in
// place, after its checksum is checked.
TEST(Hdf5SourceTest, MuftCheckpointStoredBytesInPlace) {
  ScratchDir dir;
  const std::string path = dir.file("ck.h5");
  const Checkpoint ck = tiny_checkpoint();
  write_checkpoint(path, ck);
  const auto src = open_source(path);
  for (const NamedTensor& t : ck.parameters) {
    const auto b = src->stored_bytes(t.name);
    if (t.bytes.empty()) {  // nothing stored: either answer is fine, but never a wrong size
      EXPECT_TRUE(!b || b->size == 0) << t.name;
      continue;
    }
    ASSERT_TRUE(b.has_value()) << t.name;
    ASSERT_EQ(b->size, t.bytes.size()) << t.name;
    EXPECT_EQ(std::memcmp(b->data, t.bytes.data(), b->size), 0) << t.name;
  }
  EXPECT_THROW(src->stored_bytes("adam/exp_avg/bf"), std::out_of_range);
}

TEST(Hdf5SourceTest, CorruptParameterIsRefusedInPlaceToo) {
  ScratchDir dir;
  const std::string path = dir.file("ck.h5");
  Checkpoint ck;
  const std::vector<double> values = {1.0 / 3, 2.0 / 7, 3.0 / 11, 5.0 / 13};
  ck.parameters.push_back(make_tensor("w", {2, 2}, DType::F64, values));
  write_checkpoint(path, ck);
  std::string bytes = testing::read_file(path);
  const std::string needle(reinterpret_cast<const char*>(ck.parameters[0].bytes.data()), 32);
  const std::size_t at = bytes.find(needle);
  ASSERT_NE(at, std::string::npos);
  bytes[at + 9] ^= 0x01;  // one bit of the second value
  testing::write_file(path, bytes);
  const auto src = open_source(path);
  try {
    src->stored_bytes("w");
    ADD_FAILURE() << "corrupt bytes handed out";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("checksum mismatch in tensor 'w'"), std::string::npos)
        << e.what();
  }
}

TEST(Hdf5SourceTest, GenericStoredBytesOnlyForContiguousLittleEndianData) {
  const auto fixture = open_source(kGeneric);  // written by h5py: contiguous datasets
  const auto kernel = fixture->stored_bytes("model/dense/kernel");
  ASSERT_TRUE(kernel.has_value());
  ASSERT_EQ(kernel->size, 48u);
  std::vector<double> d(6);
  std::memcpy(d.data(), kernel->data, 48);
  EXPECT_EQ(d, (std::vector<double>{0, 1, 2, 3, 4, 5}));
  const auto counts = fixture->stored_bytes("counts");  // int32 0..3
  ASSERT_TRUE(counts.has_value());
  int32_t last = 0;
  std::memcpy(&last, counts->data + 12, 4);
  EXPECT_EQ(last, 3);
  EXPECT_FALSE(fixture->stored_bytes("model/half").has_value());  // an HDF5 float16 type

  ScratchDir dir;
  const std::string path = dir.file("layouts.h5");
  const std::vector<float> v = {1, 2, 3, 4, 5, 6};
  {
    const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t dims[2] = {2, 3}, chunk[2] = {1, 3};
    const hid_t space = H5Screate_simple(2, dims, nullptr);
    const hid_t chunked = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(chunked, 2, chunk);
    const hid_t d1 =
        H5Dcreate2(f, "chunked", H5T_IEEE_F32LE, space, H5P_DEFAULT, chunked, H5P_DEFAULT);
    const hid_t d2 =
        H5Dcreate2(f, "big_endian", H5T_IEEE_F32BE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const hid_t d3 =
        H5Dcreate2(f, "plain", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (hid_t d : {d1, d2, d3}) {
      H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
      H5Dclose(d);
    }
    H5Pclose(chunked);
    H5Sclose(space);
    H5Fclose(f);
  }
  const auto src = open_source(path);
  EXPECT_FALSE(src->stored_bytes("chunked").has_value());
  EXPECT_FALSE(src->stored_bytes("big_endian").has_value());
  const auto plain = src->stored_bytes("plain");
  ASSERT_TRUE(plain.has_value());
  std::vector<float> f(6);
  std::memcpy(f.data(), plain->data, 24);
  EXPECT_EQ(f, v);
  std::vector<float> r;
  src->read("big_endian", r);  // the converting path still reads what stored_bytes refuses
  EXPECT_EQ(r, v);
  src->read("chunked", r);
  EXPECT_EQ(r, v);
}

}  // namespace
}  // namespace muft::checkpoint
