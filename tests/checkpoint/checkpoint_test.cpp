// Tests of checkpoint.cpp: bit-exact round trip of the muft HDF5 checkpoint,
// atomic writes, and refusal of files that are not muft checkpoints.

#include "muft/checkpoint/checkpoint.h"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include "muft/checkpoint/crc32.h"
#include "muft/checkpoint/dtype.h"
#include "muft/checkpoint/tensor_source.h"
#include "test_util.h"

namespace muft::checkpoint {
namespace {

using testing::ScratchDir;
using testing::to_bytes;

NamedTensor f32(const std::string& name, std::vector<int64_t> shape, std::vector<float> v) {
  return {name, std::move(shape), DType::F32, to_bytes(v)};
}

Checkpoint sample_checkpoint() {
  Checkpoint ck;
  ck.step = 1234;
  ck.config = {{"model", {{"depth", 2}, {"width", 64}}}, {"optimizer", "muon"}, {"lr", 0.02}};
  ck.metrics = {{"train_loss", 2.5}, {"val_loss", 2.75}};
  uint32_t nan_bits = 0x7FA00001u;  // signaling NaN with a payload: must survive unchanged
  float odd_nan;
  std::memcpy(&odd_nan, &nan_bits, 4);
  ck.parameters.push_back(f32("transformer.h.0.attn.c_q.weight", {2, 3},
                              {1.0f, -0.0f, std::numeric_limits<float>::denorm_min(),
                               std::numeric_limits<float>::infinity(), odd_nan, 3.25f}));
  ck.parameters.push_back(f32("a/b%c", {1}, {7.0f}));  // needs escaping
  ck.parameters.push_back(f32(".", {}, {0.5f}));       // scalar; name HDF5 reserves
  ck.parameters.push_back(f32("empty.weight", {0, 4}, {}));
  ck.parameters.push_back(
      {"lm_head.weight", {2, 2}, DType::F64, to_bytes(std::vector<double>{0.1, 0.2, 0.3, 1e-310})});
  ck.parameters.push_back(
      {"bf.weight", {3}, DType::BF16, to_bytes(std::vector<uint16_t>{0x3F80, 0x7FC1, 0x0001})});
  ck.parameters.push_back(
      {"hf.weight", {2}, DType::F16, to_bytes(std::vector<uint16_t>{0x3C00, 0xFC00})});
  ck.optimizer_state.push_back(f32("adam/exp_avg/lm_head.weight", {2}, {0.25f, -0.5f}));
  ck.optimizer_state.push_back({"adam/step", {}, DType::I64, to_bytes(std::vector<int64_t>{1234})});
  ck.optimizer_state.push_back({"flags", {2}, DType::Bool, {1, 0}});
  for (int i = 0; i < 300; ++i) ck.rng_state.push_back(static_cast<unsigned char>(i * 7));
  return ck;
}

void expect_same(const std::vector<NamedTensor>& a, const std::vector<NamedTensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].shape, b[i].shape) << a[i].name;
    EXPECT_EQ(a[i].dtype, b[i].dtype) << a[i].name;
    EXPECT_EQ(a[i].bytes, b[i].bytes) << a[i].name;  // bit-exact, NaN payloads included
  }
}

TEST(CheckpointTest, RoundTripIsBitExact) {
  ScratchDir dir;
  const std::string path = dir.file("step_000010.h5");
  const Checkpoint ck = sample_checkpoint();
  write_checkpoint(path, ck);
  const Checkpoint back = read_checkpoint(path);
  EXPECT_EQ(back.step, ck.step);
  EXPECT_EQ(back.config, ck.config);
  EXPECT_EQ(back.metrics, ck.metrics);
  expect_same(ck.parameters, back.parameters);  // order of the vector is kept too
  expect_same(ck.optimizer_state, back.optimizer_state);
  EXPECT_EQ(back.rng_state, ck.rng_state);
  // No temporary file is left behind.
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1);
}

TEST(CheckpointTest, MetadataOnlyRead) {
  ScratchDir dir;
  const std::string path = dir.file("meta.h5");
  const Checkpoint ck = sample_checkpoint();
  write_checkpoint(path, ck);
  const Checkpoint meta = read_checkpoint_metadata(path);
  EXPECT_EQ(meta.step, ck.step);
  EXPECT_EQ(meta.config, ck.config);
  EXPECT_EQ(meta.metrics, ck.metrics);
  EXPECT_TRUE(meta.parameters.empty());
  EXPECT_TRUE(meta.rng_state.empty());
}

// Damaged files (a crash during a non-atomic copy, a full disk) give an error, not a crash.
TEST(CheckpointTest, TruncatedFileIsAnError) {
  ScratchDir dir;
  const std::string path = dir.file("full.h5");
  write_checkpoint(path, sample_checkpoint());
  const std::string bytes = testing::read_file(path);
  for (const std::size_t keep :
       {std::size_t{0}, std::size_t{8}, std::size_t{100}, bytes.size() / 2, bytes.size() - 1}) {
    const std::string cut = dir.file("cut" + std::to_string(keep) + ".h5");
    testing::write_file(cut, bytes.substr(0, keep));
    EXPECT_THROW(read_checkpoint(cut), std::runtime_error) << keep;
  }
}

TEST(CheckpointTest, EmptyCheckpointRoundTrips) {
  ScratchDir dir;
  const std::string path = dir.file("empty.h5");
  write_checkpoint(path, Checkpoint{});
  const Checkpoint back = read_checkpoint(path);
  EXPECT_EQ(back.step, 0);
  EXPECT_TRUE(back.parameters.empty());
  EXPECT_TRUE(back.optimizer_state.empty());
  EXPECT_TRUE(back.rng_state.empty());
  EXPECT_EQ(back.config, nlohmann::json::object());
}

// The documented layout, checked with the plain HDF5 API (what h5py users see).
TEST(CheckpointTest, LayoutMatchesDocumentation) {
  ScratchDir dir;
  const std::string path = dir.file("layout.h5");
  write_checkpoint(path, sample_checkpoint());
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  EXPECT_GT(H5Aexists(f, "muft_format"), 0);
  EXPECT_GT(H5Aexists(f, "step"), 0);
  EXPECT_GT(H5Aexists(f, "config"), 0);
  EXPECT_GT(H5Aexists(f, "metrics"), 0);
  EXPECT_GT(H5Lexists(f, "rng_state", H5P_DEFAULT), 0);
  EXPECT_GT(H5Lexists(f, "parameters/transformer.h.0.attn.c_q.weight", H5P_DEFAULT), 0);
  EXPECT_GT(H5Lexists(f, "parameters/a%2Fb%25c", H5P_DEFAULT), 0);
  EXPECT_GT(H5Lexists(f, "parameters/%2E", H5P_DEFAULT), 0);
  EXPECT_GT(H5Lexists(f, "optimizer/adam%2Fexp_avg%2Flm_head.weight", H5P_DEFAULT), 0);
  const hid_t d = H5Dopen2(f, "parameters/transformer.h.0.attn.c_q.weight", H5P_DEFAULT);
  ASSERT_GE(d, 0);
  const hid_t t = H5Dget_type(d);
  EXPECT_EQ(H5Tget_class(t), H5T_FLOAT);
  EXPECT_EQ(H5Tget_size(t), 4u);
  float values[6];
  ASSERT_GE(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values), 0);
  EXPECT_EQ(values[0], 1.0f);
  EXPECT_EQ(values[5], 3.25f);
  H5Tclose(t);
  H5Dclose(d);
  H5Fclose(f);
}

TEST(CheckpointTest, OverwriteReplacesAtomically) {
  ScratchDir dir;
  const std::string path = dir.file("ck.h5");
  Checkpoint a = sample_checkpoint();
  write_checkpoint(path, a);
  a.step = 99;
  write_checkpoint(path, a);
  EXPECT_EQ(read_checkpoint(path).step, 99);
}

TEST(CheckpointTest, BadInputIsRejectedAndLeavesNothing) {
  ScratchDir dir;
  Checkpoint ck;
  ck.parameters.push_back(f32("w", {2, 2}, {1, 2, 3}));  // 3 values for 4 elements
  try {
    write_checkpoint(dir.file("bad.h5"), ck);
    FAIL() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'w'"), std::string::npos) << e.what();
  }
  Checkpoint dup;
  dup.parameters.push_back(f32("w", {1}, {1}));
  dup.parameters.push_back(f32("w", {1}, {2}));
  EXPECT_THROW(write_checkpoint(dir.file("dup.h5"), dup), std::invalid_argument);
  EXPECT_THROW(write_checkpoint(dir.file("no/such/dir/ck.h5"), Checkpoint{}), std::runtime_error);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(CheckpointTest, RefusesFilesThatAreNotCheckpoints) {
  ScratchDir dir;
  // A valid HDF5 file without the muft_format attribute.
  const std::string plain = dir.file("plain.h5");
  {
    const hid_t f = H5Fcreate(plain.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {2, 2};
    const hid_t s = H5Screate_simple(2, dims, nullptr);
    const hid_t d =
        H5Dcreate2(f, "weights", H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    float v[4] = {1, 2, 3, 4};
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d);
    H5Sclose(s);
    H5Fclose(f);
  }
  try {
    read_checkpoint(plain);
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("not a muft checkpoint"), std::string::npos) << msg;
    EXPECT_NE(msg.find(plain), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  const std::string text = dir.file("text.h5");
  testing::write_file(text, "hello, not HDF5");
  EXPECT_THROW(read_checkpoint(text), std::runtime_error);
  EXPECT_THROW(read_checkpoint(dir.file("missing.h5")), std::runtime_error);
}

// Adds dataset `link` (float32[2]) to /parameters of a checkpoint, with an
// optional dtype attribute, as a foreign tool might.
void add_raw_parameter(const std::string& path, const char* link, const char* dtype_attr) {
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hsize_t dims[1] = {2};
  const hid_t s = H5Screate_simple(1, dims, nullptr);
  const std::string full = std::string("parameters/") + link;
  const hid_t d =
      H5Dcreate2(f, full.c_str(), H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(d, 0);
  const float v[2] = {1, 2};
  H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
  if (dtype_attr) {
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(d, "dtype", type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, type, &dtype_attr);
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
  }
  H5Dclose(d);
  H5Sclose(s);
  H5Fclose(f);
}

void expect_read_error(const std::string& path, const std::string& needle) {
  try {
    read_checkpoint(path);
    ADD_FAILURE() << "accepted, expected an error with '" << needle << "'";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(CheckpointTest, InconsistentDatasetsAreErrors) {
  ScratchDir dir;
  const std::string ok = dir.file("ok.h5");
  write_checkpoint(ok, Checkpoint{});
  add_raw_parameter(ok, "foreign.weight", nullptr);  // no dtype attribute: inferred F32
  const Checkpoint back = read_checkpoint(ok);
  ASSERT_EQ(back.parameters.size(), 1u);
  EXPECT_EQ(back.parameters[0].dtype, DType::F32);
  EXPECT_EQ(back.parameters[0].name, "foreign.weight");

  const std::string bad_escape = dir.file("escape.h5");
  write_checkpoint(bad_escape, Checkpoint{});
  add_raw_parameter(bad_escape, "bad%ZZname", nullptr);
  expect_read_error(bad_escape, "malformed escape");

  const std::string mismatch = dir.file("mismatch.h5");
  write_checkpoint(mismatch, Checkpoint{});
  add_raw_parameter(mismatch, "w", "F64");  // float32 data labelled F64
  expect_read_error(mismatch, "does not match");

  const std::string unknown = dir.file("unknown.h5");
  write_checkpoint(unknown, Checkpoint{});
  add_raw_parameter(unknown, "w", "F128");
  expect_read_error(unknown, "unknown dtype attribute");
}

TEST(CheckpointTest, RefusesNewerFormatVersion) {
  ScratchDir dir;
  const std::string path = dir.file("future.h5");
  write_checkpoint(path, Checkpoint{});
  {
    const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(H5Adelete(f, "muft_format"), 0);
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(f, "muft_format", type, space, H5P_DEFAULT, H5P_DEFAULT);
    const char* v = "muft-checkpoint/2";
    H5Awrite(a, type, &v);
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
    H5Fclose(f);
  }
  try {
    read_checkpoint(path);
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("version 2"), std::string::npos) << e.what();
  }
}

// ---- checksums (docs/formats.md: every dataset carries the CRC-32 of its bytes) ----

// File offset of a contiguous dataset's data, found with the plain HDF5 API.
haddr_t data_offset(const std::string& path, const std::string& dataset) {
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t d = H5Dopen2(f, dataset.c_str(), H5P_DEFAULT);
  const haddr_t off = H5Dget_offset(d);
  H5Dclose(d);
  H5Fclose(f);
  return off;
}

// XORs one byte of the file in place (a bit flip on disk).
void flip_byte(const std::string& path, haddr_t offset, unsigned char mask) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  c = static_cast<char>(c ^ mask);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(c);
}

// Deletes the crc32 attribute of the given datasets, as a checkpoint written before muft stored
// checksums would lack it.
void drop_checksums(const std::string& path, const std::vector<std::string>& datasets) {
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  for (const auto& d : datasets) {
    const hid_t id = H5Oopen(f, d.c_str(), H5P_DEFAULT);
    EXPECT_GE(H5Adelete(id, "crc32"), 0) << d;
    H5Oclose(id);
  }
  H5Fclose(f);
}

std::vector<std::string> all_datasets(const Checkpoint& ck) {
  std::vector<std::string> out;
  auto escape = [](const std::string& n) {
    std::string e;
    for (char c : n) e += c == '%' ? "%25" : c == '/' ? "%2F" : std::string(1, c);
    return n == "." ? std::string("%2E") : e;
  };
  for (const auto& t : ck.parameters) out.push_back("parameters/" + escape(t.name));
  for (const auto& t : ck.optimizer_state) out.push_back("optimizer/" + escape(t.name));
  out.push_back("rng_state");
  return out;
}

TEST(CheckpointTest, EveryDatasetStoresTheCrc32OfItsBytes) {
  ScratchDir dir;
  const std::string path = dir.file("crc.h5");
  const Checkpoint ck = sample_checkpoint();
  write_checkpoint(path, ck);
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t d = H5Dopen2(f, "parameters/lm_head.weight", H5P_DEFAULT);
  const hid_t a = H5Aopen(d, "crc32", H5P_DEFAULT);
  ASSERT_GE(a, 0);
  const hid_t t = H5Aget_type(a);
  EXPECT_EQ(H5Tget_class(t), H5T_INTEGER);
  EXPECT_EQ(H5Tget_size(t), 4u);
  EXPECT_EQ(H5Tget_sign(t), H5T_SGN_NONE);
  uint32_t stored = 0;
  H5Aread(a, H5T_NATIVE_UINT32, &stored);
  H5Tclose(t);
  H5Aclose(a);
  H5Dclose(d);
  H5Fclose(f);
  // {0.1, 0.2, 0.3, 1e-310} as little-endian float64; Python: zlib.crc32(struct.pack("<4d", ...))
  EXPECT_EQ(stored, 0x322B90D3u);
  EXPECT_EQ(stored, crc32(ck.parameters[4].bytes.data(), ck.parameters[4].bytes.size()));
  const Checkpoint back = read_checkpoint(path);
  EXPECT_TRUE(back.verified);
  const CheckpointCheck check = verify_checkpoint(path);
  EXPECT_TRUE(check.ok) << check.error;
  EXPECT_TRUE(check.verified());
  EXPECT_EQ(check.datasets, ck.parameters.size() + ck.optimizer_state.size() + 1);
  EXPECT_EQ(check.unverified, 0u);
}

TEST(CheckpointTest, SameCheckpointGivesTheSameBytes) {
  ScratchDir dir;
  write_checkpoint(dir.file("a.h5"), sample_checkpoint());
  ::sleep(2);  // HDF5 stores times in whole seconds: a tracked time would now differ
  write_checkpoint(dir.file("b.h5"), sample_checkpoint());
  EXPECT_EQ(testing::read_file(dir.file("a.h5")), testing::read_file(dir.file("b.h5")));
}

TEST(CheckpointTest, FlippedExponentByteIsAnErrorNamingTheTensorAndFile) {
  ScratchDir dir;
  const std::string path = dir.file("step_000100.h5");
  write_checkpoint(path, sample_checkpoint());
  // The most significant byte of lm_head.weight[0] (sign and exponent of 0.1).
  flip_byte(path, data_offset(path, "parameters/lm_head.weight") + 7, 0x40);
  auto expect_corrupt = [&](const std::string& msg) {
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("'lm_head.weight'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("checksum mismatch"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  };
  try {
    read_checkpoint(path);
    ADD_FAILURE() << "a corrupt tensor was read back";
  } catch (const std::runtime_error& e) {
    expect_corrupt(e.what());
  }
  const CheckpointCheck check = verify_checkpoint(path);
  EXPECT_FALSE(check.ok);
  expect_corrupt(check.error);
  // The analyzer's view: the damaged tensor fails, the others still read.
  const auto src = open_source(path);
  std::vector<double> v;
  try {
    src->read("lm_head.weight", v);
    ADD_FAILURE() << "a corrupt tensor was read back";
  } catch (const std::runtime_error& e) {
    expect_corrupt(e.what());
  }
  std::vector<float> f;
  EXPECT_THROW(src->read("lm_head.weight", f), std::runtime_error);
  src->read("transformer.h.0.attn.c_q.weight", f);
  EXPECT_EQ(f[5], 3.25f);
  EXPECT_EQ(src->note(), "");
}

TEST(CheckpointTest, CheckpointWithoutChecksumsReadsAndSaysSo) {
  ScratchDir dir;
  const std::string path = dir.file("old.h5");
  const Checkpoint ck = sample_checkpoint();
  write_checkpoint(path, ck);
  drop_checksums(path, all_datasets(ck));
  const Checkpoint back = read_checkpoint(path);
  EXPECT_FALSE(back.verified);
  expect_same(ck.parameters, back.parameters);
  const CheckpointCheck check = verify_checkpoint(path);
  EXPECT_TRUE(check.ok) << check.error;
  EXPECT_FALSE(check.verified());
  EXPECT_EQ(check.unverified, check.datasets);
  const auto src = open_source(path);
  EXPECT_NE(src->note().find("without checksums"), std::string::npos) << src->note();
  std::vector<double> v;
  src->read("lm_head.weight", v);  // read, but unverified
  EXPECT_EQ(v[1], 0.2);

  // Only some datasets without one: read, not verified, and the note counts them.
  const std::string partial = dir.file("partial.h5");
  write_checkpoint(partial, ck);
  drop_checksums(partial, {"parameters/lm_head.weight"});
  EXPECT_FALSE(read_checkpoint(partial).verified);
  EXPECT_EQ(verify_checkpoint(partial).unverified, 1u);
  EXPECT_NE(open_source(partial)->note().find("1 of 7 tensors"), std::string::npos)
      << open_source(partial)->note();
}

TEST(CheckpointTest, VerifyReportsUnreadableFilesWithoutThrowing) {
  ScratchDir dir;
  const std::string path = dir.file("ck.h5");
  write_checkpoint(path, sample_checkpoint());
  const std::string bytes = testing::read_file(path);
  testing::write_file(dir.file("cut.h5"), bytes.substr(0, bytes.size() / 2));
  for (const std::string& p : {dir.file("cut.h5"), dir.file("missing.h5")}) {
    const CheckpointCheck c = verify_checkpoint(p);
    EXPECT_FALSE(c.ok) << p;
    EXPECT_NE(c.error.find(p), std::string::npos) << c.error;
  }
}

// A checkpoint written by h5py from docs/formats.md alone, checksums from Python's zlib
// (tests/checkpoint/fixtures/make_fixtures.py): muft reads it, checks every checksum, and
// finds what the script put in.
TEST(CheckpointTest, ReadsACheckpointWrittenFromTheDocumentation) {
  const std::string path = "tests/checkpoint/fixtures/muft_h5py.h5";
  const Checkpoint c = read_checkpoint(path);
  EXPECT_TRUE(c.verified);
  EXPECT_EQ(c.step, 42);
  EXPECT_EQ(c.config["model"]["width"], 4);
  ASSERT_EQ(c.parameters.size(), 3u);
  EXPECT_EQ(c.parameters[0].name, "h.0/attn.c_q.weight");  // creation order, unescaped
  EXPECT_EQ(c.parameters[1].name, "lm_head.weight");
  EXPECT_EQ(c.parameters[2].name, "half");
  EXPECT_EQ(c.parameters[2].dtype, DType::F16);
  EXPECT_EQ(c.parameters[1].bytes,
            to_bytes(std::vector<double>{0.1, -0.2, 1e300, 4.9406564584124654e-324}));
  EXPECT_EQ(c.optimizer_state.at(0).bytes, to_bytes(std::vector<int64_t>{42}));
  EXPECT_EQ(c.rng_state, (std::vector<unsigned char>{0, 1, 2, 3, 4}));
  const CheckpointCheck check = verify_checkpoint(path);
  EXPECT_TRUE(check.verified()) << check.error;
  EXPECT_EQ(check.datasets, 5u);
  std::vector<float> half;
  open_source(path)->read("half", half);
  EXPECT_EQ(half, (std::vector<float>{1.0f, -2.0f, 65504.0f}));
  // The same file with one data byte flipped: the checksum written by zlib catches it.
  ScratchDir dir;
  const std::string bad = dir.file("bad.h5");
  testing::write_file(bad, testing::read_file(path));
  flip_byte(bad, data_offset(bad, "parameters/h.0%2Fattn.c_q.weight"), 0x01);
  EXPECT_FALSE(verify_checkpoint(bad).ok);
  EXPECT_NE(verify_checkpoint(bad).error.find("'h.0/attn.c_q.weight'"), std::string::npos)
      << verify_checkpoint(bad).error;
}

// ---- a write that fails half-way (full disk) ----

// Runs in a forked child under a 256 KiB file size limit: returns the number of failed checks
// (each printed on stderr).
int write_checkpoints_past_limit(const std::string& dir) {
  int failures = 0;
  auto expect = [&](bool ok, const std::string& what) {
    if (!ok) {
      std::fprintf(stderr, "check failed: %s\n", what.c_str());
      ++failures;
    }
  };
  const std::string good = dir + "/step_000001.h5";
  write_checkpoint(good, sample_checkpoint());  // small: fits
  testing::limit_file_size(256 * 1024);
  Checkpoint big = sample_checkpoint();
  big.step = 2;
  big.parameters.push_back(f32("big.weight", {512, 512}, std::vector<float>(512 * 512, 0.5f)));
  for (const std::string& target : {dir + "/step_000002.h5", good}) {
    std::string message;
    try {
      write_checkpoint(target, big);
    } catch (const std::runtime_error& e) {
      message = e.what();
    }
    std::fprintf(stderr, "error: %s\n", message.c_str());
    expect(message.rfind("cannot write checkpoint " + target + ": ", 0) == 0,
           "one clear error naming " + target);
    expect(message.find("File too large") != std::string::npos, "the file system's reason");
    expect(message.find('\n') == std::string::npos, "one line");
    expect(testing::open_hdf5_objects() == 0, "no HDF5 identifier left open");
    expect(testing::temporary_files(dir).empty(), "no temporary file left");
  }
  expect(!std::filesystem::exists(dir + "/step_000002.h5"), "no new checkpoint");
  // The earlier checkpoint, which the second write tried to replace, is intact.
  const CheckpointCheck check = verify_checkpoint(good);
  expect(check.verified(), "the earlier checkpoint verifies: " + check.error);
  expect(read_checkpoint(good).step == 1234, "the earlier checkpoint keeps its content");
  return failures;
}

TEST(CheckpointTest, FullDiskFailsCleanlyAndKeepsEarlierCheckpoints) {
  ScratchDir dir;
  // exit() runs HDF5's atexit cleanup, where a half-closed file used to crash (exit 139).
  EXPECT_EXIT(std::exit(write_checkpoints_past_limit(dir.path())), ::testing::ExitedWithCode(0),
              "File too large");
}

}  // namespace
}  // namespace muft::checkpoint
