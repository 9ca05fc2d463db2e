#pragma once
/// \file hdf5.h
/// muft's one layer over the HDF5 C library, used by every module that writes HDF5 (checkpoints,
/// analyzer tables, sweep results, verifier reports). Each call
///  - holds the process-wide HDF5 mutex (hdf5_lock.h): the serial HDF5 library is not
///    thread-safe;
///  - turns any failure into one std::runtime_error "<file>: <what failed>: <why>", where <why>
///    is the file system's reason (e.g. "No space left on device") or a summary of HDF5's error
///    stack; HDF5's own error printing is switched off once, for the whole process;
///  - owns its HDF5 identifiers (RAII), so nothing is left open for HDF5's exit-time cleanup.
///
/// Files are written through muft's own POSIX file driver: a failed write (full disk, file size
/// limit) is remembered and reported by the next call on that file, while HDF5 itself goes on
/// in memory and can always close the file. Closing or flushing a file that saw a failure
/// throws; the half-written file should then be removed by the caller.
///
/// Readers of muft checkpoints use the lower-level helpers private to muft::checkpoint.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "muft/checkpoint/hdf5_lock.h"

namespace muft::checkpoint::h5 {

/// Holds hdf5_mutex() for its lifetime (recursive: may be nested). The first Lock taken in a
/// process also switches off HDF5's automatic error printing (H5Eset_auto) for good.
class Lock {
 public:
  Lock();
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

 private:
  std::unique_lock<std::recursive_mutex> lock_;
};

/// Element type of a dataset or attribute written through this layer. Numbers are stored
/// little-endian (IEEE 754 for F64/F32) and given in native layout.
enum class Type {
  F64,
  F32,
  I64,
  I32,
  I16,
  I8,
  U64,
  U32,
  U16,
  U8,
  String,   ///< variable-length UTF-8 string (given as std::string)
  F64List,  ///< variable-length list of float64 per element (given as std::vector<double>)
};

/// How a file is created.
struct FileOptions {
  /// Store object modification times in object headers (HDF5's default). Off: the same content
  /// written twice gives the same bytes.
  bool track_times = true;
  /// HDF5 1.8 object headers (readable by any HDF5 >= 1.8); needed for tracked link order.
  bool v18_objects = false;
  /// Take HDF5's file lock where the file system supports it (skipped silently where not).
  bool file_locking = true;
};

/// How a group is created.
struct GroupOptions {
  bool track_order = false;  ///< track and index link creation order (needs v18_objects)
};

namespace detail {
struct FileState;
}

/// An open HDF5 object of a file being written: attributes can be added to it. Move-only; the
/// identifier is closed on destruction.
class Object {
 public:
  Object() = default;
  Object(Object&& other) noexcept;
  Object& operator=(Object&& other) noexcept;
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;
  virtual ~Object();

  /// Scalar variable-length UTF-8 string attribute.
  void set_string_attribute(const std::string& name, const std::string& value) const;
  /// Scalar fixed-length UTF-8 string attribute of max(1, value.size()) bytes, NUL-padded.
  void set_fixed_string_attribute(const std::string& name, const std::string& value) const;
  void set_double_attribute(const std::string& name, double value) const;    ///< float64
  void set_int64_attribute(const std::string& name, int64_t value) const;    ///< int64
  void set_uint32_attribute(const std::string& name, uint32_t value) const;  ///< uint32

  /// The file path, for messages.
  const std::string& file_path() const;
  bool valid() const { return id_ >= 0; }

 protected:
  Object(std::shared_ptr<detail::FileState> file, int64_t id, bool is_file);
  void release() noexcept;

  std::shared_ptr<detail::FileState> file_;
  int64_t id_ = -1;
  bool is_file_ = false;
  friend class Group;
};

/// A dataset: written in one go by Group::write_dataset, or grown row by row when created by
/// Group::create_appendable.
class Dataset : public Object {
 public:
  Dataset() = default;
  Dataset(Dataset&&) noexcept = default;
  Dataset& operator=(Dataset&&) noexcept = default;
  /// Appends one element to a 1-D appendable dataset (the type must match the dataset's).
  void append(double value);
  void append(const std::string& value);
  void append(const std::vector<double>& values);  ///< one F64List element
  /// Elements appended so far.
  uint64_t size() const { return size_; }

 private:
  Dataset(std::shared_ptr<detail::FileState> file, int64_t id, Type type)
      : Object(std::move(file), id, false), type_(type) {}
  Type type_ = Type::F64;
  uint64_t size_ = 0;
  friend class Group;
};

/// A group (a File is its root group).
class Group : public Object {
 public:
  Group() = default;
  Group(Group&&) noexcept = default;
  Group& operator=(Group&&) noexcept = default;
  /// Creates group `name` (a path relative to this group; every missing group on the way is
  /// created with the same options) and returns it.
  Group create_group(const std::string& name, const GroupOptions& options = {}) const;
  /// Opens any existing object (group or dataset) at `path`, to add attributes to it.
  Object open(const std::string& path) const;
  /// True when a link `path` exists below this group (every component checked).
  bool exists(const std::string& path) const;
  /// Writes dataset `name` of `type` with `shape` (row-major; empty: a scalar) from `data`,
  /// which holds product(shape) elements in native layout (numbers only). Contiguous layout.
  Dataset write_dataset(const std::string& name, Type type, const std::vector<uint64_t>& shape,
                        const void* data) const;
  /// A 1-D dataset of variable-length UTF-8 strings.
  Dataset write_strings(const std::string& name, const std::vector<std::string>& values) const;
  /// An empty 1-D dataset of `type` (F64, String or F64List) that Dataset::append grows;
  /// chunked by `chunk` elements.
  Dataset create_appendable(const std::string& name, Type type, uint64_t chunk = 64) const;

 protected:
  Group(std::shared_ptr<detail::FileState> file, int64_t id, bool is_file)
      : Object(std::move(file), id, is_file) {}
};

/// A file created for writing (truncating any existing file).
class File : public Group {
 public:
  File() = default;
  /// Creates `path`. Throws std::runtime_error naming the path and the reason.
  static File create(const std::string& path, const FileOptions& options = {});
  /// Writes everything HDF5 holds in memory to the disk; throws if this or any earlier write
  /// of the file failed.
  void flush() const;
  /// Flushes and closes the file and every object still open in it. Throws (after closing) if
  /// any write of the file failed; afterwards the File is empty either way.
  void close();
  /// The destructor closes quietly when still open (use close() to learn about failures).
  File(File&&) noexcept = default;
  File& operator=(File&&) noexcept = default;

 private:
  File(std::shared_ptr<detail::FileState> file, int64_t id) : Group(std::move(file), id, true) {}
};

}  // namespace muft::checkpoint::h5
