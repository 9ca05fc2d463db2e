// Tests of hdf5.cpp, muft's HDF5 writing layer: what each call writes (read back with the plain
// HDF5 API, as h5py users see it), one-line errors naming the file with HDF5's error stack
// silenced, and a full disk turning into one exception with nothing left open.

#include "muft/checkpoint/hdf5.h"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "test_util.h"

namespace muft::checkpoint {
namespace {

using testing::ScratchDir;

std::string read_vlen_string_attr(hid_t obj, const char* name) {
  const hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  const hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  char* buf = nullptr;
  H5Aread(a, t, &buf);
  std::string out = buf ? buf : "<null>";
  H5free_memory(buf);
  H5Tclose(t);
  H5Aclose(a);
  return out;
}

template <class T>
T read_scalar_attr(hid_t obj, const char* name, hid_t mem) {
  const hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  T v{};
  H5Aread(a, mem, &v);
  H5Aclose(a);
  return v;
}

// Class, size and signedness of a dataset's or attribute's stored type.
struct TypeInfo {
  H5T_class_t cls;
  std::size_t size;
  H5T_sign_t sign;
};
TypeInfo dataset_type(hid_t f, const char* path) {
  const hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
  const hid_t t = H5Dget_type(d);
  const TypeInfo info{H5Tget_class(t), H5Tget_size(t),
                      H5Tget_class(t) == H5T_INTEGER ? H5Tget_sign(t) : H5T_SGN_ERROR};
  H5Tclose(t);
  H5Dclose(d);
  return info;
}

TEST(Hdf5LayerTest, WritesWhatEachCallSays) {
  ScratchDir dir;
  const std::string path = dir.file("layer.h5");
  {
    h5::FileOptions o;
    o.track_times = false;
    h5::File f = h5::File::create(path, o);
    f.set_string_attribute("name", "ünïcode");
    f.set_fixed_string_attribute("fixed", "abc");
    f.set_double_attribute("x", -2.5);
    f.set_int64_attribute("n", -(int64_t{1} << 40));
    f.set_uint32_attribute("crc", 0xCBF43926u);
    const h5::Group g = f.create_group("a/b/c");  // parents created on the way
    EXPECT_TRUE(f.exists("a/b"));
    EXPECT_FALSE(f.exists("a/x/c"));
    const double m[6] = {1, 2, 3, 4, 5, 6};
    g.write_dataset("m", h5::Type::F64, {2, 3}, m);
    const int32_t s = -7;
    f.write_dataset("scalar", h5::Type::I32, {}, &s);
    const uint16_t u[3] = {1, 0x8000, 0xFFFF};
    f.write_dataset("u16", h5::Type::U16, {3}, u);
    f.write_strings("names", {"x", "", "long name"});
    h5::Dataset grow = f.create_appendable("grow", h5::Type::F64, 2);
    h5::Dataset text = f.create_appendable("text", h5::Type::String);
    h5::Dataset lists = f.create_appendable("lists", h5::Type::F64List);
    for (int i = 0; i < 3; ++i) {
      grow.append(0.5 * i);
      text.append(std::string(static_cast<std::size_t>(i), 'z'));
      lists.append(std::vector<double>(static_cast<std::size_t>(i), 1.0 + i));
    }
    EXPECT_EQ(grow.size(), 3u);
    EXPECT_THROW(grow.append("not a number"), std::invalid_argument);
    f.open("a/b").set_string_attribute("on_b", "yes");
    f.close();
  }
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  EXPECT_EQ(read_vlen_string_attr(f, "name"), "ünïcode");
  {
    const hid_t a = H5Aopen(f, "fixed", H5P_DEFAULT);
    const hid_t t = H5Aget_type(a);
    EXPECT_EQ(H5Tis_variable_str(t), 0);
    EXPECT_EQ(H5Tget_size(t), 3u);
    char buf[4] = {};
    H5Aread(a, t, buf);
    EXPECT_STREQ(buf, "abc");
    H5Tclose(t);
    H5Aclose(a);
  }
  EXPECT_EQ(read_scalar_attr<double>(f, "x", H5T_NATIVE_DOUBLE), -2.5);
  EXPECT_EQ(read_scalar_attr<int64_t>(f, "n", H5T_NATIVE_INT64), -(int64_t{1} << 40));
  EXPECT_EQ(read_scalar_attr<uint32_t>(f, "crc", H5T_NATIVE_UINT32), 0xCBF43926u);
  {
    const hid_t b = H5Oopen(f, "a/b", H5P_DEFAULT);
    EXPECT_EQ(read_vlen_string_attr(b, "on_b"), "yes");
    H5Oclose(b);
  }
  TypeInfo t = dataset_type(f, "a/b/c/m");
  EXPECT_EQ(t.cls, H5T_FLOAT);
  EXPECT_EQ(t.size, 8u);
  t = dataset_type(f, "scalar");
  EXPECT_EQ(t.cls, H5T_INTEGER);
  EXPECT_EQ(t.size, 4u);
  EXPECT_EQ(t.sign, H5T_SGN_2);
  t = dataset_type(f, "u16");
  EXPECT_EQ(t.size, 2u);
  EXPECT_EQ(t.sign, H5T_SGN_NONE);
  {
    double back[6] = {};
    const hid_t d = H5Dopen2(f, "a/b/c/m", H5P_DEFAULT);
    const hid_t sp = H5Dget_space(d);
    hsize_t dims[2] = {};
    EXPECT_EQ(H5Sget_simple_extent_dims(sp, dims, nullptr), 2);
    EXPECT_EQ(dims[0], 2u);
    EXPECT_EQ(dims[1], 3u);
    H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, back);
    EXPECT_EQ(back[5], 6.0);
    H5Sclose(sp);
    H5Dclose(d);
  }
  {
    uint16_t back[3] = {};
    const hid_t d = H5Dopen2(f, "u16", H5P_DEFAULT);
    H5Dread(d, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, back);
    EXPECT_EQ(back[1], 0x8000);
    EXPECT_EQ(back[2], 0xFFFF);
    H5Dclose(d);
  }
  {
    double back[3] = {};
    const hid_t d = H5Dopen2(f, "grow", H5P_DEFAULT);
    H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, back);
    EXPECT_EQ(back[0], 0.0);
    EXPECT_EQ(back[2], 1.0);
    H5Dclose(d);
  }
  {
    const hid_t d = H5Dopen2(f, "lists", H5P_DEFAULT);
    const hid_t vt = H5Tvlen_create(H5T_NATIVE_DOUBLE);
    hvl_t back[3];
    H5Dread(d, vt, H5S_ALL, H5S_ALL, H5P_DEFAULT, back);
    EXPECT_EQ(back[0].len, 0u);
    ASSERT_EQ(back[2].len, 2u);
    EXPECT_EQ(static_cast<double*>(back[2].p)[1], 3.0);
    const hid_t sp = H5Dget_space(d);
    H5Dvlen_reclaim(vt, sp, H5P_DEFAULT, back);
    H5Sclose(sp);
    H5Tclose(vt);
    H5Dclose(d);
  }
  H5Fclose(f);
}

TEST(Hdf5LayerTest, ErrorsAreOneLineNamingTheFileAndHdf5PrintsNothing) {
  ScratchDir dir;
  ::testing::internal::CaptureStderr();
  const std::string missing = dir.file("no/such/dir/x.h5");
  try {
    h5::File::create(missing);
    ADD_FAILURE() << "created a file in a missing directory";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(missing), std::string::npos) << msg;
    EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  const std::string path = dir.file("twice.h5");
  {
    h5::File f = h5::File::create(path);
    const double x = 1;
    f.write_dataset("x", h5::Type::F64, {1}, &x);
    try {
      f.write_dataset("x", h5::Type::F64, {1}, &x);  // the name is taken
      ADD_FAILURE() << "created a dataset twice";
    } catch (const std::runtime_error& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind(path + ": cannot write dataset 'x': HDF5: ", 0), 0u) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
    f.close();
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(testing::open_hdf5_objects(), 0);
}

// Runs in a forked child: returns the number of failed checks (each printed on stderr).
int fill_past_limit(const std::string& path) {
  int failures = 0;
  auto expect = [&](bool ok, const std::string& what) {
    if (!ok) {
      std::fprintf(stderr, "check failed: %s\n", what.c_str());
      ++failures;
    }
  };
  testing::limit_file_size(64 * 1024);
  std::string message;
  try {
    h5::File f = h5::File::create(path);
    h5::Dataset rows = f.create_appendable("rows", h5::Type::F64List);
    const std::vector<double> row(512, 1.0);
    for (int i = 0; i < 1000; ++i) {  // 4 MB in all
      rows.append(row);
      f.flush();
    }
    f.close();
  } catch (const std::runtime_error& e) {
    message = e.what();
  }
  std::fprintf(stderr, "error: %s\n", message.c_str());
  expect(message.rfind(path + ": ", 0) == 0, "the message starts with the file");
  expect(message.find("File too large") != std::string::npos, "the reason is the errno text");
  expect(message.find('\n') == std::string::npos, "one line");
  expect(testing::open_hdf5_objects() == 0, "no identifier left open");
  return failures;
}

TEST(Hdf5LayerTest, FullDiskIsOneExceptionAndNothingStaysOpen) {
  ScratchDir dir;
  const std::string path = dir.file("full.h5");
  // exit() runs HDF5's atexit cleanup: an identifier left half-closed would crash it.
  EXPECT_EXIT(std::exit(fill_past_limit(path)), ::testing::ExitedWithCode(0), "File too large");
}

}  // namespace
}  // namespace muft::checkpoint
