#include "muft/checkpoint/checkpoint.h"

#include "muft/checkpoint/dtype.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <stdexcept>

#include "hdf5_util.h"
#include "muft_hdf5.h"

namespace muft::checkpoint {
namespace detail {

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

NamedTensor read_muft_dataset(hid_t group, const std::string& link, const std::string& path,
                              const std::string& group_name) {
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
  TensorInfo info{t.name, t.shape, t.dtype, {}};
  const int64_t numel = info.numel();
  const std::size_t esize = dtype_size(t.dtype);
  if (numel > 0 && static_cast<uint64_t>(numel) > SIZE_MAX / esize) {
    throw std::runtime_error(fmt::format("{}: {}: tensor too large", path, what));
  }
  t.bytes.resize(static_cast<std::size_t>(numel) * esize);
  if (numel > 0) {
    check_err(
        H5Dread(dset.get(), native_type(t.dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.bytes.data()),
        path, "cannot read " + what);
  }
  return t;
}

void write_muft_dataset(hid_t group, const NamedTensor& t, const std::string& path,
                        const std::string& group_name) {
  const std::string what = fmt::format("{} tensor '{}'", group_name, t.name);
  if (t.name.empty())
    throw std::invalid_argument(path + ": " + group_name + " tensor with an empty name");
  TensorInfo info{t.name, t.shape, t.dtype, {}};
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
  Handle space;
  if (t.shape.empty()) {
    space = Handle(check_id(H5Screate(H5S_SCALAR), path, what), H5Sclose);
  } else {
    std::vector<hsize_t> dims(t.shape.begin(), t.shape.end());
    space = Handle(
        check_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), path, what),
        H5Sclose);
  }
  const std::string link = escape_link_name(t.name);
  Handle dset(check_id(H5Dcreate2(group, link.c_str(), file_type(t.dtype), space.get(), H5P_DEFAULT,
                                  H5P_DEFAULT, H5P_DEFAULT),
                       path, "cannot create dataset for " + what),
              H5Dclose);
  write_string_attribute(dset.get(), "dtype", dtype_name(t.dtype), path);
  if (numel > 0) {
    check_err(
        H5Dwrite(dset.get(), native_type(t.dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.bytes.data()),
        path, "cannot write " + what);
  }
}

}  // namespace detail

namespace {

using detail::check_err;
using detail::check_id;
using detail::Handle;

Handle create_ordered_group(hid_t parent, const char* name, const std::string& path) {
  Handle gcpl(check_id(H5Pcreate(H5P_GROUP_CREATE), path, "cannot create group property list"),
              H5Pclose);
  check_err(H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
            path, "cannot set link creation order");
  return Handle(check_id(H5Gcreate2(parent, name, H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), path,
                         fmt::format("cannot create group /{}", name)),
                H5Gclose);
}

void write_group(hid_t file, const char* name, const std::vector<NamedTensor>& tensors,
                 const std::string& path) {
  std::set<std::string> seen;
  for (const auto& t : tensors) {
    if (!seen.insert(t.name).second) {
      throw std::invalid_argument(
          fmt::format("{}: duplicate tensor name '{}' in group /{}", path, t.name, name));
    }
  }
  Handle group = create_ordered_group(file, name, path);
  for (const auto& t : tensors) detail::write_muft_dataset(group.get(), t, path, name);
}

std::vector<NamedTensor> read_group(hid_t file, const char* name, const std::string& path,
                                    bool required) {
  std::vector<NamedTensor> out;
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) {
    if (required) {
      throw std::runtime_error(fmt::format("{}: muft checkpoint without group /{}", path, name));
    }
    return out;
  }
  Handle group(
      check_id(H5Gopen2(file, name, H5P_DEFAULT), path, fmt::format("/{} is not a group", name)),
      H5Gclose);
  for (const auto& link : detail::group_links(group.get(), path, std::string("/") + name)) {
    out.push_back(detail::read_muft_dataset(group.get(), link, path, name));
  }
  return out;
}

void fsync_path(const std::string& p, bool directory) {
  const int fd = ::open(p.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return;  // best effort: the data is already written
  ::fsync(fd);
  ::close(fd);
}

std::string parent_dir(const std::string& p) {
  const auto slash = p.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return p.substr(0, slash);
}

}  // namespace

void write_checkpoint(const std::string& path, const Checkpoint& ckpt) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, static_cast<long>(::getpid()));
  try {
    detail::Hdf5Lock lock;
    {
      Handle fapl = detail::file_access_plist(tmp);
      // 1.8 object headers: needed for creation-order tracking, readable by any HDF5 >= 1.8.
      check_err(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_LATEST), tmp,
                "cannot set library version bounds");
      Handle file(check_id(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), tmp,
                           "cannot create checkpoint file"),
                  H5Fclose);
      const hid_t f = file.get();
      detail::write_string_attribute(
          f, "muft_format", fmt::format("{}/{}", detail::kFormatName, detail::kFormatVersion), tmp);
      detail::write_int64_attribute(f, "step", ckpt.step, tmp);
      detail::write_string_attribute(f, "config", ckpt.config.dump(), tmp);
      detail::write_string_attribute(f, "metrics", ckpt.metrics.dump(), tmp);
      write_group(f, "parameters", ckpt.parameters, tmp);
      write_group(f, "optimizer", ckpt.optimizer_state, tmp);
      NamedTensor rng{
          "rng_state", {static_cast<int64_t>(ckpt.rng_state.size())}, DType::U8, ckpt.rng_state};
      detail::write_muft_dataset(f, rng, tmp, "root");
      check_err(H5Fflush(f, H5F_SCOPE_GLOBAL), tmp, "cannot flush");
      file.reset();
    }
    fsync_path(tmp, false);
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      throw std::runtime_error(
          fmt::format("{}: cannot rename {} over it: {}", path, tmp, std::strerror(errno)));
    }
    fsync_path(parent_dir(path), true);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

namespace {

Checkpoint read_impl(const std::string& path, bool tensors) {
  detail::Hdf5Lock lock;
  const htri_t is_h5 = H5Fis_hdf5(path.c_str());
  if (is_h5 <= 0) {
    detail::hdf5_error_detail();  // clear the stack
    throw std::runtime_error(fmt::format(
        "{}: {}", path, is_h5 == 0 ? "not an HDF5 file, so not a muft checkpoint" : "cannot open"));
  }
  Handle fapl = detail::file_access_plist(path);
  Handle file(
      check_id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), path, "cannot open HDF5 file"),
      H5Fclose);
  const hid_t f = file.get();
  detail::check_muft_format(f, path);
  Checkpoint ck;
  ck.step = detail::read_int64_attribute(f, "step", path);
  auto parse = [&](const char* name) {
    const std::string text = detail::read_string_attribute(f, name, path);
    try {
      return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(
          fmt::format("{}: attribute '{}' is not valid JSON: {}", path, name, e.what()));
    }
  };
  ck.config = parse("config");
  ck.metrics = parse("metrics");
  if (!tensors) return ck;
  ck.parameters = read_group(f, "parameters", path, true);
  ck.optimizer_state = read_group(f, "optimizer", path, false);
  if (H5Lexists(f, "rng_state", H5P_DEFAULT) > 0) {
    NamedTensor rng = detail::read_muft_dataset(f, "rng_state", path, "root");
    if (rng.dtype != DType::U8 || rng.shape.size() != 1) {
      throw std::runtime_error(fmt::format("{}: /rng_state must be a 1-D U8 dataset", path));
    }
    ck.rng_state = std::move(rng.bytes);
  }
  return ck;
}

}  // namespace

Checkpoint read_checkpoint(const std::string& path) {
  return read_impl(path, true);
}

Checkpoint read_checkpoint_metadata(const std::string& path) {
  return read_impl(path, false);
}

}  // namespace muft::checkpoint
