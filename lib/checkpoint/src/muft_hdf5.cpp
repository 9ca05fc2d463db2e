// Dataset-level conventions of muft checkpoints (muft_hdf5.h): format attribute, dtype
// attribute, raw-byte datasets and their CRC-32.

#include "muft_hdf5.h"

#include <fmt/format.h>

#include <stdexcept>

#include "muft/checkpoint/crc32.h"
#include "muft/checkpoint/dtype.h"

namespace muft::checkpoint::detail {

void check_muft_format(hid_t file, const std::string& path) {
  if (!has_attribute(file, "muft_format")) {
    throw std::runtime_error(fmt::format(
        "{}: not a muft checkpoint (HDF5 file without root attribute 'muft_format')", path));
  }
  const std::string fmt_str = read_string_attribute(file, "muft_format", path);
  const std::string prefix = std::string(kFormatName) + "/";
  int version = 0;
  bool ok = fmt_str.rfind(prefix, 0) == 0 && fmt_str.size() > prefix.size();
  if (ok) {
    for (std::size_t i = prefix.size(); i < fmt_str.size() && ok; ++i) {
      ok = fmt_str[i] >= '0' && fmt_str[i] <= '9' && version < 100000;
      if (ok) version = version * 10 + (fmt_str[i] - '0');
    }
  }
  if (!ok) {
    throw std::runtime_error(
        fmt::format("{}: root attribute muft_format is '{}', expected '{}/<version>'", path,
                    fmt_str, kFormatName));
  }
  if (version < 1 || version > kFormatVersion) {
    throw std::runtime_error(fmt::format(
        "{}: muft checkpoint format version {} is not supported (this build reads 1..{})", path,
        version, kFormatVersion));
  }
}

DType muft_dataset_dtype(hid_t dset, const std::string& path, const std::string& what) {
  Handle type(check_id(H5Dget_type(dset), path, what + ": cannot get type"), H5Tclose);
  const H5T_class_t cls = H5Tget_class(type.get());
  const std::size_t size = H5Tget_size(type.get());
  if (has_attribute(dset, "dtype")) {
    const std::string name = read_string_attribute(dset, "dtype", path);
    const auto t = dtype_from_name(name);
    if (!t)
      throw std::runtime_error(
          fmt::format("{}: {}: unknown dtype attribute '{}'", path, what, name));
    const hid_t expected = file_type(*t);
    const bool same = cls == H5Tget_class(expected) && size == H5Tget_size(expected) &&
                      (cls != H5T_INTEGER || H5Tget_sign(type.get()) == H5Tget_sign(expected));
    if (!same) {
      throw std::runtime_error(fmt::format(
          "{}: {}: stored HDF5 type does not match its dtype attribute '{}'", path, what, name));
    }
    return *t;
  }
  if (cls == H5T_FLOAT && size == 8) return DType::F64;
  if (cls == H5T_FLOAT && size == 4) return DType::F32;
  if (cls == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type.get()) == H5T_SGN_2;
    switch (size) {
      case 8:
        return is_signed ? DType::I64 : DType::U64;
      case 4:
        return is_signed ? DType::I32 : DType::U32;
      case 2:
        return is_signed ? DType::I16 : DType::U16;
      case 1:
        return is_signed ? DType::I8 : DType::U8;
      default:
        break;
    }
  }
  throw std::runtime_error(fmt::format("{}: {}: unsupported HDF5 element type (class {}, {} bytes)",
                                       path, what, static_cast<int>(cls), size));
}

StoredChecksum read_stored_checksum(hid_t dset, const std::string& path) {
  StoredChecksum c;
  if (!has_attribute(dset, kChecksumAttribute)) return c;
  c.present = true;
  c.value = read_uint32_attribute(dset, kChecksumAttribute, path);
  return c;
}

void check_checksum(const StoredChecksum& stored, const void* data, std::size_t n,
                    const std::string& path, const std::string& tensor,
                    const std::string& group_name) {
  if (!stored.present) return;
  const uint32_t actual = crc32(data, n);
  if (actual != stored.value) {
    throw std::runtime_error(fmt::format(
        "{}: checksum mismatch in tensor '{}' of /{} (stored crc32 {:08x}, data {:08x}): the "
        "checkpoint is corrupt",
        path, tensor, group_name, stored.value, actual));
  }
}

NamedTensor read_muft_dataset(hid_t group, const std::string& link, const std::string& path,
                              const std::string& group_name, bool* checked) {
  NamedTensor t;
  t.name = unescape_link_name(link, path);
  const std::string what = fmt::format("{}/{}", group_name, link);
  H5O_info_t oinfo;
  check_err(H5Oget_info_by_name(group, link.c_str(), &oinfo, H5P_DEFAULT), path, what);
  if (oinfo.type != H5O_TYPE_DATASET) {
    throw std::runtime_error(fmt::format("{}: {} is not a dataset", path, what));
  }
  Handle dset(check_id(H5Dopen2(group, link.c_str(), H5P_DEFAULT), path, "cannot open " + what),
              H5Dclose);
  t.dtype = muft_dataset_dtype(dset.get(), path, what);
  t.shape = dataset_shape(dset.get(), path, what);
  TensorInfo info;
  info.name = t.name;
  info.shape = t.shape;
  info.dtype = t.dtype;
  const int64_t numel = info.numel();
  const std::size_t esize = dtype_size(t.dtype);
  if (numel > 0 && static_cast<uint64_t>(numel) > SIZE_MAX / esize) {
    throw std::runtime_error(fmt::format("{}: {}: tensor too large", path, what));
  }
  const StoredChecksum stored = read_stored_checksum(dset.get(), path);
  t.bytes.resize(static_cast<std::size_t>(numel) * esize);
  if (numel > 0) {
    check_err(
        H5Dread(dset.get(), native_type(t.dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.bytes.data()),
        path, "cannot read " + what);
  }
  check_checksum(stored, t.bytes.data(), t.bytes.size(), path, t.name, group_name);
  if (checked) *checked = stored.present;
  return t;
}

void validate_tensor(const NamedTensor& t, const std::string& path, const std::string& group_name) {
  const std::string what = fmt::format("{} tensor '{}'", group_name, t.name);
  if (t.name.empty())
    throw std::invalid_argument(path + ": " + group_name + " tensor with an empty name");
  TensorInfo info;
  info.name = t.name;
  info.shape = t.shape;
  info.dtype = t.dtype;
  const int64_t numel = info.numel();
  const std::size_t esize = dtype_size(t.dtype);
  if (numel > 0 && static_cast<uint64_t>(numel) > SIZE_MAX / esize) {
    throw std::invalid_argument(fmt::format("{}: {}: tensor too large", path, what));
  }
  if (t.bytes.size() != static_cast<std::size_t>(numel) * esize) {
    throw std::invalid_argument(fmt::format("{}: {}: holds {} bytes, shape and dtype {} need {}",
                                            path, what, t.bytes.size(), dtype_name(t.dtype),
                                            static_cast<std::size_t>(numel) * esize));
  }
}

namespace {

// The layer's element type holding the raw bytes of dtype t (F16/BF16: uint16 bit patterns;
// BOOL: uint8), as file_type() describes them.
h5::Type layer_type(DType t) {
  switch (t) {
    case DType::F64:
      return h5::Type::F64;
    case DType::F32:
      return h5::Type::F32;
    case DType::F16:
    case DType::BF16:
    case DType::U16:
      return h5::Type::U16;
    case DType::I64:
      return h5::Type::I64;
    case DType::I32:
      return h5::Type::I32;
    case DType::I16:
      return h5::Type::I16;
    case DType::I8:
      return h5::Type::I8;
    case DType::U64:
      return h5::Type::U64;
    case DType::U32:
      return h5::Type::U32;
    case DType::U8:
    case DType::Bool:
      return h5::Type::U8;
  }
  throw std::invalid_argument("layer_type: invalid DType");
}

}  // namespace

void write_muft_dataset(const h5::Group& group, const NamedTensor& t) {
  const std::vector<uint64_t> shape(t.shape.begin(), t.shape.end());
  h5::Dataset d =
      group.write_dataset(escape_link_name(t.name), layer_type(t.dtype), shape, t.bytes.data());
  d.set_string_attribute("dtype", dtype_name(t.dtype));
  d.set_uint32_attribute(kChecksumAttribute, crc32(t.bytes.data(), t.bytes.size()));
}

}  // namespace muft::checkpoint::detail
