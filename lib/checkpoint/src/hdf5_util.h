#pragma once
// Private HDF5 helpers of muft::checkpoint: RAII handles, a lock that also
// silences HDF5's automatic error printing, and small typed read/write helpers.
// Every function here must be called while an Hdf5Lock is held.

#include <hdf5.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "muft/checkpoint/hdf5_lock.h"
#include "muft/checkpoint/tensor_source.h"

namespace muft::checkpoint::detail {

/// Holds hdf5_mutex() and turns HDF5's error-stack printing off for its
/// lifetime (errors become exceptions with one-line messages instead).
class Hdf5Lock {
 public:
  Hdf5Lock();
  ~Hdf5Lock();
  Hdf5Lock(const Hdf5Lock&) = delete;
  Hdf5Lock& operator=(const Hdf5Lock&) = delete;

 private:
  std::unique_lock<std::recursive_mutex> lock_;
  H5E_auto2_t saved_func_ = nullptr;
  void* saved_data_ = nullptr;
};

/// Owns one HDF5 identifier and closes it with the matching H5?close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      closer_ = o.closer_;
      o.id_ = -1;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset() {
    if (id_ >= 0 && closer_) closer_(id_);
    id_ = -1;
  }

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

/// A file-access property list for muft's files: file locking is used where
/// the file system supports it and silently skipped where it does not (NFS,
/// some container mounts), instead of failing the open.
Handle file_access_plist(const std::string& file);

/// The innermost message on the current HDF5 error stack ("" if none).
std::string hdf5_error_detail();
/// Throws std::runtime_error("<file>: <what>[: <hdf5 detail>]") when id < 0.
hid_t check_id(hid_t id, const std::string& file, const std::string& what);
/// Same for herr_t results.
void check_err(herr_t err, const std::string& file, const std::string& what);

/// The native in-memory HDF5 type that holds raw bytes of dtype t (F16/BF16:
/// uint16 bit patterns; BOOL: uint8). Not to be closed.
hid_t native_type(DType t);
/// The little-endian file type muft writes for dtype t. Not to be closed.
hid_t file_type(DType t);

/// Shape of a dataset's dataspace (empty for a scalar).
std::vector<int64_t> dataset_shape(hid_t dset, const std::string& file, const std::string& what);

bool has_attribute(hid_t obj, const char* name);
/// Reads a string attribute (variable- or fixed-length).
std::string read_string_attribute(hid_t obj, const char* name, const std::string& file);
void write_string_attribute(hid_t obj, const char* name, const std::string& value,
                            const std::string& file);
int64_t read_int64_attribute(hid_t obj, const char* name, const std::string& file);
void write_int64_attribute(hid_t obj, const char* name, int64_t value, const std::string& file);

/// muft's escaping of tensor names into HDF5 link names: '%' -> "%25",
/// '/' -> "%2F", and a name that is exactly "." or ".." gets its dots as "%2E".
std::string escape_link_name(const std::string& name);
/// Inverse of escape_link_name; throws std::runtime_error on a malformed escape.
std::string unescape_link_name(const std::string& link, const std::string& file);

/// Names of the links in a group, in creation order when the group tracks it,
/// otherwise in name order.
std::vector<std::string> group_links(hid_t group, const std::string& file, const std::string& what);

}  // namespace muft::checkpoint::detail
