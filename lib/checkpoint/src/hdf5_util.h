#pragma once
// Private HDF5 helpers of muft::checkpoint, below the public layer (muft/checkpoint/hdf5.h):
// RAII handles, error checks and the typed read helpers of the checkpoint readers. Every
// function here must be called while an h5::Lock is held.

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "muft/checkpoint/hdf5.h"
#include "muft/checkpoint/tensor_source.h"

namespace muft::checkpoint::detail {

/// The lock every HDF5 call of muft holds (muft/checkpoint/hdf5.h).
using Hdf5Lock = h5::Lock;

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

/// A file-access property list for reading muft's files: file locking is used where the file
/// system supports it and silently skipped where it does not (NFS, some container mounts),
/// instead of failing the open.
Handle file_access_plist(const std::string& file);

/// Opens an in-memory HDF5 file image read-only (HDF5's core driver; the bytes are copied).
/// `name` identifies it in messages. Throws std::runtime_error for an empty or invalid image.
Handle open_file_image(const void* data, std::size_t size, const std::string& name);

/// A one-line summary of HDF5's current error stack ("outermost failure: innermost reason",
/// "" if the stack is empty), and clears the stack.
std::string error_stack_summary();
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
int64_t read_int64_attribute(hid_t obj, const char* name, const std::string& file);
/// Reads an unsigned integer attribute of at most 32 bits (the checksums).
uint32_t read_uint32_attribute(hid_t obj, const char* name, const std::string& file);

/// muft's escaping of tensor names into HDF5 link names: '%' -> "%25",
/// '/' -> "%2F", and a name that is exactly "." or ".." gets its dots as "%2E".
std::string escape_link_name(const std::string& name);
/// Inverse of escape_link_name; throws std::runtime_error on a malformed escape.
std::string unescape_link_name(const std::string& link, const std::string& file);

/// Names of the links in a group, in creation order when the group tracks it,
/// otherwise in name order.
std::vector<std::string> group_links(hid_t group, const std::string& file, const std::string& what);

}  // namespace muft::checkpoint::detail
