// muft's HDF5 writing layer (muft/checkpoint/hdf5.h): RAII objects over the C API, every call
// under the HDF5 lock, every failure one exception naming the file.

#include "muft/checkpoint/hdf5.h"

#include <fmt/format.h>

#include <stdexcept>
#include <type_traits>

#include "hdf5_driver.h"
#include "hdf5_util.h"

namespace muft::checkpoint::h5 {

static_assert(std::is_same_v<hid_t, int64_t>, "the layer stores HDF5 identifiers as int64_t");

namespace detail {

struct FileState {
  std::string path;
  FileOptions options;
  checkpoint::detail::WriteStatus status;
  hid_t file = H5I_INVALID_HID;
  bool closed = false;
};

}  // namespace detail

namespace {

using checkpoint::detail::error_stack_summary;
using checkpoint::detail::Handle;
using State = detail::FileState;

// Throws when the driver recorded a failed write for this file, or when `ok` is false.
void check(const State& st, bool ok, const std::string& what) {
  if (st.status.failed()) {
    error_stack_summary();  // drop whatever HDF5 stacked on top of it
    throw std::runtime_error(fmt::format("{}: {}: {}", st.path, what, st.status.error));
  }
  if (!ok) {
    const std::string why = error_stack_summary();
    throw std::runtime_error(
        fmt::format("{}: {}{}", st.path, what, why.empty() ? "" : ": HDF5: " + why));
  }
}

hid_t check_id(const State& st, hid_t id, const std::string& what) {
  check(st, id >= 0, what);
  return id;
}

void check_err(const State& st, herr_t err, const std::string& what) {
  check(st, err >= 0, what);
}

hid_t file_type_of(Type t) {
  switch (t) {
    case Type::F64:
      return H5T_IEEE_F64LE;
    case Type::F32:
      return H5T_IEEE_F32LE;
    case Type::I64:
      return H5T_STD_I64LE;
    case Type::I32:
      return H5T_STD_I32LE;
    case Type::I16:
      return H5T_STD_I16LE;
    case Type::I8:
      return H5T_STD_I8LE;
    case Type::U64:
      return H5T_STD_U64LE;
    case Type::U32:
      return H5T_STD_U32LE;
    case Type::U16:
      return H5T_STD_U16LE;
    case Type::U8:
      return H5T_STD_U8LE;
    case Type::String:
    case Type::F64List:
      break;
  }
  throw std::invalid_argument("h5: not a number type");
}

hid_t native_type_of(Type t) {
  switch (t) {
    case Type::F64:
      return H5T_NATIVE_DOUBLE;
    case Type::F32:
      return H5T_NATIVE_FLOAT;
    case Type::I64:
      return H5T_NATIVE_INT64;
    case Type::I32:
      return H5T_NATIVE_INT32;
    case Type::I16:
      return H5T_NATIVE_INT16;
    case Type::I8:
      return H5T_NATIVE_INT8;
    case Type::U64:
      return H5T_NATIVE_UINT64;
    case Type::U32:
      return H5T_NATIVE_UINT32;
    case Type::U16:
      return H5T_NATIVE_UINT16;
    case Type::U8:
      return H5T_NATIVE_UINT8;
    case Type::String:
    case Type::F64List:
      break;
  }
  throw std::invalid_argument("h5: not a number type");
}

// Variable-length UTF-8 string type (the same in memory and in the file).
Handle string_type(const State& st, const std::string& what) {
  Handle t(check_id(st, H5Tcopy(H5T_C_S1), what), H5Tclose);
  check_err(st, H5Tset_size(t.get(), H5T_VARIABLE), what);
  check_err(st, H5Tset_cset(t.get(), H5T_CSET_UTF8), what);
  return t;
}

Handle list_type(const State& st, const std::string& what) {
  return Handle(check_id(st, H5Tvlen_create(H5T_NATIVE_DOUBLE), what), H5Tclose);
}

Handle scalar_space(const State& st, const std::string& what) {
  return Handle(check_id(st, H5Screate(H5S_SCALAR), what), H5Sclose);
}

// Creation property list with the file's time tracking (nullopt-like H5P_DEFAULT otherwise).
Handle object_plist(const State& st, hid_t cls, const std::string& what) {
  Handle p(check_id(st, H5Pcreate(cls), what), H5Pclose);
  if (!st.options.track_times) check_err(st, H5Pset_obj_track_times(p.get(), 0), what);
  return p;
}

void write_attribute(const State& st, hid_t obj, const std::string& name, hid_t file_type,
                     hid_t mem_type, const void* value) {
  const std::string what = fmt::format("cannot write attribute '{}'", name);
  Handle space = scalar_space(st, what);
  Handle attr(
      check_id(st, H5Acreate2(obj, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
               what),
      H5Aclose);
  check_err(st, H5Awrite(attr.get(), mem_type, value), what);
}

}  // namespace

Lock::Lock() : lock_(hdf5_mutex()) {
  static std::once_flag silenced;
  std::call_once(silenced, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

// ---------------------------------------------------------------- Object

Object::Object(std::shared_ptr<detail::FileState> file, int64_t id, bool is_file)
    : file_(std::move(file)), id_(id), is_file_(is_file) {}

Object::Object(Object&& o) noexcept : file_(std::move(o.file_)), id_(o.id_), is_file_(o.is_file_) {
  o.id_ = -1;
}

Object& Object::operator=(Object&& o) noexcept {
  if (this != &o) {
    release();
    file_ = std::move(o.file_);
    id_ = o.id_;
    is_file_ = o.is_file_;
    o.id_ = -1;
  }
  return *this;
}

Object::~Object() {
  release();
}

void Object::release() noexcept {
  if (id_ < 0 || !file_) return;
  Lock lock;
  if (!file_->closed) {
    if (is_file_) {
      // Strong close degree: every object still open in the file is closed with it.
      H5Fclose(id_);
      file_->closed = true;
    } else {
      H5Oclose(id_);
    }
  }
  error_stack_summary();  // a quiet close leaves nothing on HDF5's error stack
  id_ = -1;
}

const std::string& Object::file_path() const {
  static const std::string none;
  return file_ ? file_->path : none;
}

void Object::set_string_attribute(const std::string& name, const std::string& value) const {
  Lock lock;
  const State& st = *file_;
  Handle type = string_type(st, fmt::format("cannot write attribute '{}'", name));
  const char* ptr = value.c_str();
  write_attribute(st, id_, name, type.get(), type.get(), &ptr);
}

void Object::set_fixed_string_attribute(const std::string& name, const std::string& value) const {
  Lock lock;
  const State& st = *file_;
  const std::string what = fmt::format("cannot write attribute '{}'", name);
  Handle type(check_id(st, H5Tcopy(H5T_C_S1), what), H5Tclose);
  check_err(st, H5Tset_size(type.get(), value.empty() ? 1 : value.size()), what);
  check_err(st, H5Tset_strpad(type.get(), H5T_STR_NULLTERM), what);
  check_err(st, H5Tset_cset(type.get(), H5T_CSET_UTF8), what);
  const std::string bytes = value.empty() ? std::string(1, '\0') : value;
  write_attribute(st, id_, name, type.get(), type.get(), bytes.data());
}

void Object::set_double_attribute(const std::string& name, double value) const {
  Lock lock;
  write_attribute(*file_, id_, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

void Object::set_int64_attribute(const std::string& name, int64_t value) const {
  Lock lock;
  write_attribute(*file_, id_, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

void Object::set_uint32_attribute(const std::string& name, uint32_t value) const {
  Lock lock;
  write_attribute(*file_, id_, name, H5T_STD_U32LE, H5T_NATIVE_UINT32, &value);
}

// ---------------------------------------------------------------- Group

Group Group::create_group(const std::string& name, const GroupOptions& options) const {
  Lock lock;
  const State& st = *file_;
  const std::string what = fmt::format("cannot create group '{}'", name);
  Handle gcpl = object_plist(st, H5P_GROUP_CREATE, what);
  if (options.track_order) {
    check_err(st,
              H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
              what);
  }
  // Missing parents first, one level at a time (each created like the last one).
  std::string prefix;
  std::size_t start = 0;
  hid_t id = H5I_INVALID_HID;
  while (start <= name.size()) {
    std::size_t slash = name.find('/', start);
    if (slash == std::string::npos) slash = name.size();
    const std::string part = name.substr(start, slash - start);
    start = slash + 1;
    if (part.empty()) continue;
    prefix += (prefix.empty() && name[0] != '/' ? "" : "/") + part;
    const bool last = slash == name.size();
    const htri_t exists = H5Lexists(id_, prefix.c_str(), H5P_DEFAULT);
    check(st, exists >= 0, what);
    if (exists > 0 && !last) continue;
    if (exists > 0) {
      id = check_id(st, H5Gopen2(id_, prefix.c_str(), H5P_DEFAULT), what);
    } else {
      id =
          check_id(st, H5Gcreate2(id_, prefix.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), what);
      if (!last) {
        H5Gclose(id);
        id = H5I_INVALID_HID;
      }
    }
  }
  if (id < 0) throw std::invalid_argument(fmt::format("{}: empty group name", st.path));
  return Group(file_, id, false);
}

Object Group::open(const std::string& path) const {
  Lock lock;
  const State& st = *file_;
  return Object(
      file_,
      check_id(st, H5Oopen(id_, path.c_str(), H5P_DEFAULT), fmt::format("cannot open '{}'", path)),
      false);
}

bool Group::exists(const std::string& path) const {
  Lock lock;
  const State& st = *file_;
  std::string prefix;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    const std::string part = path.substr(start, slash - start);
    start = slash + 1;
    if (part.empty()) continue;
    prefix += (prefix.empty() && path[0] != '/' ? "" : "/") + part;
    const htri_t e = H5Lexists(id_, prefix.c_str(), H5P_DEFAULT);
    check(st, e >= 0, fmt::format("cannot look up '{}'", path));
    if (e == 0) return false;
  }
  return true;
}

Dataset Group::write_dataset(const std::string& name, Type type, const std::vector<uint64_t>& shape,
                             const void* data) const {
  Lock lock;
  const State& st = *file_;
  const std::string what = fmt::format("cannot write dataset '{}'", name);
  Handle space;
  uint64_t numel = 1;
  if (shape.empty()) {
    space = scalar_space(st, what);
  } else {
    std::vector<hsize_t> dims(shape.begin(), shape.end());
    for (hsize_t d : dims) numel *= d;
    space = Handle(
        check_id(st, H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), what),
        H5Sclose);
  }
  Handle dcpl = object_plist(st, H5P_DATASET_CREATE, what);
  const hid_t id = check_id(st,
                            H5Dcreate2(id_, name.c_str(), file_type_of(type), space.get(),
                                       H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                            what);
  Dataset ds(file_, id, type);
  if (numel > 0) {
    check_err(st, H5Dwrite(id, native_type_of(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data), what);
  }
  ds.size_ = numel;
  return ds;
}

Dataset Group::write_strings(const std::string& name,
                             const std::vector<std::string>& values) const {
  Lock lock;
  const State& st = *file_;
  const std::string what = fmt::format("cannot write dataset '{}'", name);
  const hsize_t n = values.size();
  std::vector<const char*> ptrs;
  ptrs.reserve(values.size());
  for (const auto& s : values) ptrs.push_back(s.c_str());
  Handle type = string_type(st, what);
  Handle space(check_id(st, H5Screate_simple(1, &n, nullptr), what), H5Sclose);
  Handle dcpl = object_plist(st, H5P_DATASET_CREATE, what);
  const hid_t id = check_id(
      st,
      H5Dcreate2(id_, name.c_str(), type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
      what);
  Dataset ds(file_, id, Type::String);
  if (n) {
    check_err(st, H5Dwrite(id, type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), what);
  }
  ds.size_ = n;
  return ds;
}

Dataset Group::create_appendable(const std::string& name, Type type, uint64_t chunk) const {
  Lock lock;
  const State& st = *file_;
  const std::string what = fmt::format("cannot create dataset '{}'", name);
  if (type != Type::F64 && type != Type::String && type != Type::F64List) {
    throw std::invalid_argument(what + ": appendable datasets hold F64, String or F64List");
  }
  const hsize_t dims[1] = {0}, maxdims[1] = {H5S_UNLIMITED}, chunks[1] = {chunk ? chunk : 1};
  Handle space(check_id(st, H5Screate_simple(1, dims, maxdims), what), H5Sclose);
  Handle dcpl = object_plist(st, H5P_DATASET_CREATE, what);
  check_err(st, H5Pset_chunk(dcpl.get(), 1, chunks), what);
  Handle ftype = type == Type::String    ? string_type(st, what)
                 : type == Type::F64List ? list_type(st, what)
                                         : Handle();
  const hid_t file_type = ftype.valid() ? ftype.get() : H5T_IEEE_F64LE;
  const hid_t id = check_id(
      st,
      H5Dcreate2(id_, name.c_str(), file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
      what);
  return Dataset(file_, id, type);
}

// ---------------------------------------------------------------- Dataset

namespace {

// Writes one element at index n of a 1-D dataset, growing it to n + 1.
void append_one(const State& st, hid_t ds, uint64_t n, hid_t mem_type, const void* value,
                const std::string& what) {
  const hsize_t new_size[1] = {n + 1}, start[1] = {n}, count[1] = {1};
  check_err(st, H5Dset_extent(ds, new_size), what);
  Handle fspace(check_id(st, H5Dget_space(ds), what), H5Sclose);
  check_err(st, H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, count, nullptr),
            what);
  Handle mspace(check_id(st, H5Screate_simple(1, count, nullptr), what), H5Sclose);
  check_err(st, H5Dwrite(ds, mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, value), what);
}

}  // namespace

void Dataset::append(double value) {
  Lock lock;
  const State& st = *file_;
  const std::string what = "cannot append to a dataset";
  if (type_ != Type::F64) throw std::invalid_argument(st.path + ": " + what + ": not F64");
  append_one(st, id_, size_, H5T_NATIVE_DOUBLE, &value, what);
  ++size_;
}

void Dataset::append(const std::string& value) {
  Lock lock;
  const State& st = *file_;
  const std::string what = "cannot append to a dataset";
  if (type_ != Type::String) throw std::invalid_argument(st.path + ": " + what + ": not String");
  Handle type = string_type(st, what);
  const char* ptr = value.c_str();
  append_one(st, id_, size_, type.get(), &ptr, what);
  ++size_;
}

void Dataset::append(const std::vector<double>& values) {
  Lock lock;
  const State& st = *file_;
  const std::string what = "cannot append to a dataset";
  if (type_ != Type::F64List) throw std::invalid_argument(st.path + ": " + what + ": not F64List");
  Handle type = list_type(st, what);
  hvl_t h{values.size(), const_cast<double*>(values.data())};
  append_one(st, id_, size_, type.get(), &h, what);
  ++size_;
}

// ---------------------------------------------------------------- File

File File::create(const std::string& path, const FileOptions& options) {
  Lock lock;
  auto st = std::make_shared<State>();
  st->path = path;
  st->options = options;
  const std::string what = "cannot create HDF5 file";
  Handle fapl(check_id(*st, H5Pcreate(H5P_FILE_ACCESS), what), H5Pclose);
  check_err(*st, checkpoint::detail::set_posix_write_driver(fapl.get(), &st->status), what);
  check_err(*st, H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), what);
  if (options.v18_objects) {
    check_err(*st, H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_LATEST), what);
  }
#if H5_VERSION_GE(1, 10, 7)
  check_err(*st, H5Pset_file_locking(fapl.get(), options.file_locking, true), what);
#endif
  // The root group is created from the file creation list: no times there either.
  Handle fcpl = object_plist(*st, H5P_FILE_CREATE, what);
  const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get());
  if (id < 0) {
    // The driver's reason (errno text) is more useful than HDF5's stack here.
    const std::string why = st->status.failed()              ? st->status.error
                            : !st->status.open_error.empty() ? st->status.open_error
                                                             : error_stack_summary();
    error_stack_summary();
    throw std::runtime_error(fmt::format("{}: {}{}", path, what, why.empty() ? "" : ": " + why));
  }
  st->file = id;
  return File(st, id);
}

void File::flush() const {
  Lock lock;
  check_err(*file_, H5Fflush(id_, H5F_SCOPE_LOCAL), "cannot flush");
}

void File::close() {
  if (id_ < 0 || !file_) return;
  Lock lock;
  std::shared_ptr<State> st = file_;
  const herr_t err = st->closed ? 0 : H5Fclose(id_);
  st->closed = true;
  id_ = -1;
  file_.reset();
  check_err(*st, err, "cannot close");
}

}  // namespace muft::checkpoint::h5
