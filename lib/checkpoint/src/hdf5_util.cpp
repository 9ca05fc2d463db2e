#include "hdf5_util.h"

#include <fmt/format.h>

#include <stdexcept>

namespace muft::checkpoint {

std::recursive_mutex& hdf5_mutex() {
  static std::recursive_mutex m;
  return m;
}

}  // namespace muft::checkpoint

namespace muft::checkpoint::detail {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "muft::checkpoint assumes a little-endian host (raw tensor bytes are little-endian)");

namespace {
struct Walk {
  std::string outer, inner;
};
herr_t walk_cb(unsigned /*n*/, const H5E_error2_t* err, void* data) {
  auto* w = static_cast<Walk*>(data);
  if (err && err->desc && err->desc[0]) {
    if (w->outer.empty()) w->outer = err->desc;
    w->inner = err->desc;
  }
  return 0;
}
}  // namespace

std::string error_stack_summary() {
  Walk w;
  // Downward: from the API function the caller made to the innermost cause.
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, &w);
  H5Eclear2(H5E_DEFAULT);
  if (w.inner.empty() || w.inner == w.outer) return w.inner;
  return w.inner + " (" + w.outer + ")";
}

Handle file_access_plist(const std::string& file) {
  Handle fapl(check_id(H5Pcreate(H5P_FILE_ACCESS), file, "cannot create file access list"),
              H5Pclose);
#if H5_VERSION_GE(1, 10, 7)
  check_err(H5Pset_file_locking(fapl.get(), true, true), file, "cannot set file locking");
#endif
  return fapl;
}

Handle open_file_image(const void* data, std::size_t size, const std::string& name) {
  if (!data || size == 0) throw std::runtime_error(name + ": empty HDF5 image");
  Handle fapl(check_id(H5Pcreate(H5P_FILE_ACCESS), name, "cannot create file access list"),
              H5Pclose);
  check_err(H5Pset_fapl_core(fapl.get(), 64 * 1024, false), name, "cannot select the core driver");
  check_err(H5Pset_file_image(fapl.get(), const_cast<void*>(data), size), name,
            "cannot set the file image");
  return Handle(
      check_id(H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.get()), name, "cannot open HDF5 image"),
      H5Fclose);
}

hid_t check_id(hid_t id, const std::string& file, const std::string& what) {
  if (id < 0) {
    const std::string detail = error_stack_summary();
    throw std::runtime_error(
        fmt::format("{}: {}{}", file, what, detail.empty() ? "" : " (HDF5: " + detail + ")"));
  }
  return id;
}

void check_err(herr_t err, const std::string& file, const std::string& what) {
  if (err < 0) check_id(-1, file, what);
}

hid_t native_type(DType t) {
  switch (t) {
    case DType::F64:
      return H5T_NATIVE_DOUBLE;
    case DType::F32:
      return H5T_NATIVE_FLOAT;
    case DType::F16:
    case DType::BF16:
    case DType::U16:
      return H5T_NATIVE_UINT16;
    case DType::I64:
      return H5T_NATIVE_INT64;
    case DType::I32:
      return H5T_NATIVE_INT32;
    case DType::I16:
      return H5T_NATIVE_INT16;
    case DType::I8:
      return H5T_NATIVE_INT8;
    case DType::U64:
      return H5T_NATIVE_UINT64;
    case DType::U32:
      return H5T_NATIVE_UINT32;
    case DType::U8:
    case DType::Bool:
      return H5T_NATIVE_UINT8;
  }
  throw std::invalid_argument("native_type: invalid DType");
}

hid_t file_type(DType t) {
  switch (t) {
    case DType::F64:
      return H5T_IEEE_F64LE;
    case DType::F32:
      return H5T_IEEE_F32LE;
    case DType::F16:
    case DType::BF16:
    case DType::U16:
      return H5T_STD_U16LE;
    case DType::I64:
      return H5T_STD_I64LE;
    case DType::I32:
      return H5T_STD_I32LE;
    case DType::I16:
      return H5T_STD_I16LE;
    case DType::I8:
      return H5T_STD_I8LE;
    case DType::U64:
      return H5T_STD_U64LE;
    case DType::U32:
      return H5T_STD_U32LE;
    case DType::U8:
    case DType::Bool:
      return H5T_STD_U8LE;
  }
  throw std::invalid_argument("file_type: invalid DType");
}

std::vector<int64_t> dataset_shape(hid_t dset, const std::string& file, const std::string& what) {
  Handle space(check_id(H5Dget_space(dset), file, what + ": cannot get dataspace"), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) check_id(-1, file, what + ": cannot get rank");
  if (H5Sget_simple_extent_type(space.get()) == H5S_NULL) {
    throw std::runtime_error(fmt::format("{}: {}: null dataspace (no data)", file, what));
  }
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0) check_err(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), file, what);
  std::vector<int64_t> shape;
  for (hsize_t d : dims) {
    if (d > static_cast<hsize_t>(INT64_MAX)) {
      throw std::runtime_error(fmt::format("{}: {}: dimension too large", file, what));
    }
    shape.push_back(static_cast<int64_t>(d));
  }
  return shape;
}

bool has_attribute(hid_t obj, const char* name) {
  return H5Aexists(obj, name) > 0;
}

std::string read_string_attribute(hid_t obj, const char* name, const std::string& file) {
  const std::string what = fmt::format("attribute '{}'", name);
  Handle attr(check_id(H5Aopen(obj, name, H5P_DEFAULT), file, "cannot open " + what), H5Aclose);
  Handle type(check_id(H5Aget_type(attr.get()), file, what), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING) {
    throw std::runtime_error(fmt::format("{}: {} is not a string", file, what));
  }
  Handle space(check_id(H5Aget_space(attr.get()), file, what), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.get()) != 1) {
    throw std::runtime_error(fmt::format("{}: {} is not a single string", file, what));
  }
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    char* buf = nullptr;
    check_err(H5Aread(attr.get(), mem.get(), &buf), file, "cannot read " + what);
    std::string out = buf ? buf : "";
    H5free_memory(buf);
    return out;
  }
  const std::size_t size = H5Tget_size(type.get());
  std::string out(size, '\0');
  Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem.get(), size);
  H5Tset_strpad(mem.get(), H5T_STR_NULLPAD);
  check_err(H5Aread(attr.get(), mem.get(), out.data()), file, "cannot read " + what);
  const auto end = out.find('\0');
  if (end != std::string::npos) out.resize(end);
  return out;
}

int64_t read_int64_attribute(hid_t obj, const char* name, const std::string& file) {
  const std::string what = fmt::format("attribute '{}'", name);
  Handle attr(check_id(H5Aopen(obj, name, H5P_DEFAULT), file, "cannot open " + what), H5Aclose);
  Handle type(check_id(H5Aget_type(attr.get()), file, what), H5Tclose);
  Handle space(check_id(H5Aget_space(attr.get()), file, what), H5Sclose);
  if (H5Tget_class(type.get()) != H5T_INTEGER || H5Sget_simple_extent_npoints(space.get()) != 1) {
    throw std::runtime_error(fmt::format("{}: {} is not a single integer", file, what));
  }
  int64_t v = 0;
  check_err(H5Aread(attr.get(), H5T_NATIVE_INT64, &v), file, "cannot read " + what);
  return v;
}

uint32_t read_uint32_attribute(hid_t obj, const char* name, const std::string& file) {
  const std::string what = fmt::format("attribute '{}'", name);
  Handle attr(check_id(H5Aopen(obj, name, H5P_DEFAULT), file, "cannot open " + what), H5Aclose);
  Handle type(check_id(H5Aget_type(attr.get()), file, what), H5Tclose);
  Handle space(check_id(H5Aget_space(attr.get()), file, what), H5Sclose);
  if (H5Tget_class(type.get()) != H5T_INTEGER || H5Tget_sign(type.get()) != H5T_SGN_NONE ||
      H5Tget_size(type.get()) > 4 || H5Sget_simple_extent_npoints(space.get()) != 1) {
    throw std::runtime_error(
        fmt::format("{}: {} is not a single unsigned 32-bit integer", file, what));
  }
  uint32_t v = 0;
  check_err(H5Aread(attr.get(), H5T_NATIVE_UINT32, &v), file, "cannot read " + what);
  return v;
}

std::string escape_link_name(const std::string& name) {
  if (name == ".") return "%2E";
  if (name == "..") return "%2E%2E";
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == '%') {
      out += "%25";
    } else if (c == '/') {
      out += "%2F";
    } else {
      out += c;
    }
  }
  return out;
}

std::string unescape_link_name(const std::string& link, const std::string& file) {
  auto hex = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    throw std::runtime_error(file + ": malformed escape in HDF5 link name '" + link + "'");
  };
  std::string out;
  out.reserve(link.size());
  for (std::size_t i = 0; i < link.size(); ++i) {
    if (link[i] != '%') {
      out += link[i];
      continue;
    }
    if (i + 2 >= link.size()) {
      throw std::runtime_error(file + ": malformed escape in HDF5 link name '" + link + "'");
    }
    out += static_cast<char>(hex(link[i + 1]) * 16 + hex(link[i + 2]));
    i += 2;
  }
  return out;
}

namespace {
herr_t link_cb(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> group_links(hid_t group, const std::string& file,
                                     const std::string& what) {
  std::vector<std::string> names;
  Handle gcpl(H5Gget_create_plist(group), H5Pclose);
  unsigned flags = 0;
  if (gcpl.valid()) H5Pget_link_creation_order(gcpl.get(), &flags);
  const H5_index_t index = (flags & H5P_CRT_ORDER_INDEXED) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
  hsize_t idx = 0;
  check_err(H5Literate(group, index, H5_ITER_INC, &idx, link_cb, &names), file,
            "cannot list " + what);
  return names;
}

}  // namespace muft::checkpoint::detail
