// Tests of hdf5_driver.cpp, muft's POSIX file driver: byte-identical files to HDF5's default
// driver, and a write past a file size limit that is recorded, keeps HDF5's view of the file
// consistent and lets the file close, so that the process exits cleanly (HDF5's default driver
// leaves a half-closed file behind that crashes HDF5's exit-time cleanup, exit 139).

#include "hdf5_driver.h"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "muft/checkpoint/hdf5.h"
#include "test_util.h"

namespace muft::checkpoint {
namespace {

using testing::ScratchDir;

// The same content through whatever driver `fapl` selects: groups, a contiguous dataset with an
// attribute, a chunked dataset grown three times, with and without intermediate flushes.
void write_sample(const std::string& path, hid_t fapl) {
  const hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
  H5Pset_obj_track_times(fcpl, 0);
  const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl, fapl);
  ASSERT_GE(f, 0);
  const hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
  H5Pset_obj_track_times(gcpl, 0);
  const hid_t g = H5Gcreate2(f, "g", H5P_DEFAULT, gcpl, H5P_DEFAULT);
  const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_obj_track_times(dcpl, 0);
  std::vector<double> v(100 * 7);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.5 * static_cast<double>(i);
  const hsize_t dims[2] = {100, 7};
  const hid_t s = H5Screate_simple(2, dims, nullptr);
  const hid_t d = H5Dcreate2(g, "d", H5T_IEEE_F64LE, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  const hid_t as = H5Screate(H5S_SCALAR);
  const hid_t a = H5Acreate2(d, "scale", H5T_IEEE_F64LE, as, H5P_DEFAULT, H5P_DEFAULT);
  const double scale = 0.5;
  H5Awrite(a, H5T_NATIVE_DOUBLE, &scale);
  H5Fflush(f, H5F_SCOPE_LOCAL);
  const hsize_t zero[1] = {0}, unlimited[1] = {H5S_UNLIMITED}, chunk[1] = {4};
  const hid_t es = H5Screate_simple(1, zero, unlimited);
  const hid_t ecpl = H5Pcopy(dcpl);
  H5Pset_chunk(ecpl, 1, chunk);
  const hid_t e = H5Dcreate2(f, "grow", H5T_IEEE_F64LE, es, H5P_DEFAULT, ecpl, H5P_DEFAULT);
  for (hsize_t n = 0; n < 3; ++n) {
    const hsize_t size[1] = {n + 1}, start[1] = {n}, one[1] = {1};
    H5Dset_extent(e, size);
    const hid_t fs = H5Dget_space(e);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, nullptr, one, nullptr);
    const hid_t ms = H5Screate_simple(1, one, nullptr);
    const double x = 1.0 + static_cast<double>(n);
    H5Dwrite(e, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, &x);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Fflush(f, H5F_SCOPE_LOCAL);
  }
  H5Aclose(a);
  H5Sclose(as);
  H5Dclose(d);
  H5Sclose(s);
  H5Dclose(e);
  H5Sclose(es);
  for (hid_t p : {ecpl, dcpl, gcpl, fcpl}) H5Pclose(p);
  H5Gclose(g);
  ASSERT_GE(H5Fclose(f), 0);
}

TEST(Hdf5DriverTest, WritesTheSameBytesAsHdf5sDefaultDriver) {
  ScratchDir dir;
  detail::WriteStatus status;
  {
    h5::Lock lock;
    write_sample(dir.file("sec2.h5"), H5P_DEFAULT);
    const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    ASSERT_GE(detail::set_posix_write_driver(fapl, &status), 0);
    write_sample(dir.file("muft.h5"), fapl);
    H5Pclose(fapl);
    H5Eclear2(H5E_DEFAULT);
  }
  EXPECT_FALSE(status.failed()) << status.error;
  const std::string a = testing::read_file(dir.file("sec2.h5"));
  const std::string b = testing::read_file(dir.file("muft.h5"));
  EXPECT_GT(a.size(), 5000u);
  EXPECT_EQ(a, b) << "the two drivers laid the file out differently";
}

// Runs in a forked child: returns the number of failed checks (each printed on stderr).
int write_past_limit(const std::string& path) {
  int failures = 0;
  auto expect = [&](bool ok, const char* what) {
    if (!ok) {
      std::fprintf(stderr, "check failed: %s\n", what);
      ++failures;
    }
  };
  testing::limit_file_size(32 * 1024);
  h5::Lock lock;
  detail::WriteStatus status;
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  detail::set_posix_write_driver(fapl, &status);
  const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  expect(f >= 0, "file created");
  std::vector<double> v(1 << 17);  // 1 MiB, far past the 32 KiB limit
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.25 * static_cast<double>(i);
  const hsize_t n = v.size();
  const hid_t s = H5Screate_simple(1, &n, nullptr);
  const hid_t d = H5Dcreate2(f, "d", H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  expect(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) >= 0,
         "the failed write is not reported to HDF5");
  expect(status.failed(), "the failure is recorded");
  expect(status.error.find("File too large") != std::string::npos, "errno text in the message");
  std::fprintf(stderr, "recorded: %s\n", status.error.c_str());
  // HDF5 reads back what it wrote: the part past the limit lives in the driver's overlay.
  std::vector<double> back(v.size(), -1.0);
  expect(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, back.data()) >= 0, "read");
  expect(back == v, "data read back equals data written");
  H5Sclose(s);
  expect(H5Dclose(d) >= 0, "dataset closes");
  expect(H5Fclose(f) >= 0, "file closes");
  H5Pclose(fapl);
  expect(testing::open_hdf5_objects() == 0, "no identifier left open");
  return failures;
}

TEST(Hdf5DriverTest, WritePastTheFileSizeLimitIsRecordedAndTheFileStillCloses) {
  ScratchDir dir;
  const std::string path = dir.file("big.h5");
  // exit() runs HDF5's atexit cleanup: a half-closed file would crash there (signal, not 0).
  EXPECT_EXIT(std::exit(write_past_limit(path)), ::testing::ExitedWithCode(0), "File too large");
}

}  // namespace
}  // namespace muft::checkpoint
