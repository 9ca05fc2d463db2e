#pragma once
// Private: the HDF5 file driver muft writes with ("muft-posix").
//
// Why a driver of our own: when a write fails under HDF5's default driver (disk full, file size
// limit), H5Fclose fails half-way, frees the file but leaves its identifier registered, and
// HDF5's atexit cleanup then closes it a second time and crashes (seen as exit 139 after a full
// disk). This driver never reports a failed write to HDF5: it records the first failure in the
// WriteStatus of the file, keeps everything written from then on in memory so that HDF5 keeps a
// consistent view of its own file, and lets every close succeed. muft's HDF5 layer checks the
// status after each call and turns it into one exception. The bytes written while nothing fails
// are exactly those of HDF5's default POSIX driver (same layout features).

#include <hdf5.h>

#include <string>

namespace muft::checkpoint::detail {

/// What the driver reports back about one open file (owned by the caller, outlives the file).
struct WriteStatus {
  std::string error;  ///< first failure ("write of N bytes at offset X failed: <errno text>")
  /// Why the last open failed. Not a failure of the file by itself: HDF5 probes with an open
  /// that may fail before it creates the file.
  std::string open_error;
  bool failed() const { return !error.empty(); }
};

/// The driver's identifier (registered on first use; call with the HDF5 lock held).
hid_t posix_write_driver();

/// Sets fapl to the driver, reporting into *status (which must outlive every file opened with
/// this list). Call with the HDF5 lock held; returns a negative value on failure.
herr_t set_posix_write_driver(hid_t fapl, WriteStatus* status);

}  // namespace muft::checkpoint::detail
