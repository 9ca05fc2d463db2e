// muft checkpoints as whole files: the atomic writer, the reader and verify_checkpoint.

#include "muft/checkpoint/checkpoint.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <stdexcept>

#include "global_heap.h"
#include "hdf5_util.h"
#include "muft/checkpoint/hdf5.h"
#include "muft_hdf5.h"

namespace muft::checkpoint {
namespace {

using detail::check_err;
using detail::check_id;
using detail::Handle;

void validate_group(const std::vector<NamedTensor>& tensors, const char* name,
                    const std::string& path) {
  std::set<std::string> seen;
  for (const auto& t : tensors) {
    detail::validate_tensor(t, path, name);
    if (!seen.insert(t.name).second) {
      throw std::invalid_argument(
          fmt::format("{}: duplicate tensor name '{}' in group /{}", path, t.name, name));
    }
  }
}

void write_group(const h5::File& file, const char* name, const std::vector<NamedTensor>& tensors) {
  h5::GroupOptions order;
  order.track_order = true;  // read_checkpoint returns tensors in the order they were written
  const h5::Group group = file.create_group(name, order);
  for (const auto& t : tensors) detail::write_muft_dataset(group, t);
}

// fsync, where the file system has it: a failure to get the bytes to the disk is an error.
void sync_file(const std::string& p) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw std::runtime_error(fmt::format("{}: cannot reopen: {}", p, std::strerror(errno)));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL && err != EROFS) {
    throw std::runtime_error(fmt::format("{}: fsync failed: {}", p, std::strerror(err)));
  }
}

void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the rename is done
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
  validate_group(ckpt.parameters, "parameters", path);
  validate_group(ckpt.optimizer_state, "optimizer", path);
  const std::string tmp = fmt::format("{}.tmp.{}", path, static_cast<long>(::getpid()));
  try {
    h5::FileOptions options;
    options.track_times = false;  // the same checkpoint always gives the same bytes
    options.v18_objects = true;   // needed for creation-order tracking; readable by HDF5 >= 1.8
    h5::File file = h5::File::create(tmp, options);
    file.set_string_attribute("muft_format",
                              fmt::format("{}/{}", detail::kFormatName, detail::kFormatVersion));
    file.set_int64_attribute("step", ckpt.step);
    file.set_string_attribute("config", ckpt.config.dump());
    file.set_string_attribute("metrics", ckpt.metrics.dump());
    write_group(file, "parameters", ckpt.parameters);
    write_group(file, "optimizer", ckpt.optimizer_state);
    const NamedTensor rng{
        "rng_state", {static_cast<int64_t>(ckpt.rng_state.size())}, DType::U8, ckpt.rng_state};
    detail::write_muft_dataset(file, rng);
    file.close();  // throws if any write failed; nothing stays open either way
    sync_file(tmp);
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      throw std::runtime_error(
          fmt::format("cannot rename {} over it: {}", tmp, std::strerror(errno)));
    }
    sync_directory(parent_dir(path));
  } catch (const std::runtime_error& e) {
    std::remove(tmp.c_str());
    throw std::runtime_error(fmt::format("cannot write checkpoint {}: {}", path, e.what()));
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

namespace detail {
namespace {

std::vector<NamedTensor> read_group(hid_t file, const char* name, const std::string& path,
                                    bool required, ReadMode mode, std::size_t* datasets,
                                    std::size_t* unverified) {
  std::vector<NamedTensor> out;
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) {
    error_stack_summary();  // a missing intermediate link is not an error here
    if (required) {
      throw std::runtime_error(fmt::format("{}: muft checkpoint without group /{}", path, name));
    }
    return out;
  }
  Handle group(
      check_id(H5Gopen2(file, name, H5P_DEFAULT), path, fmt::format("/{} is not a group", name)),
      H5Gclose);
  for (const auto& link : group_links(group.get(), path, std::string("/") + name)) {
    bool checked = false;
    NamedTensor t = read_muft_dataset(group.get(), link, path, name, &checked);
    ++*datasets;
    if (!checked) ++*unverified;
    if (mode == ReadMode::Full) out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

Checkpoint read_checkpoint_file(hid_t f, const std::string& path, ReadMode mode,
                                CheckpointCheck* check) {
  check_muft_format(f, path);
  Checkpoint ck;
  ck.step = read_int64_attribute(f, "step", path);
  auto parse = [&](const char* name) {
    const std::string text = read_string_attribute(f, name, path);
    try {
      return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(
          fmt::format("{}: attribute '{}' is not valid JSON: {}", path, name, e.what()));
    }
  };
  ck.config = parse("config");
  ck.metrics = parse("metrics");
  if (mode == ReadMode::Metadata) return ck;
  std::size_t datasets = 0, unverified = 0;
  ck.parameters = read_group(f, "parameters", path, true, mode, &datasets, &unverified);
  ck.optimizer_state = read_group(f, "optimizer", path, false, mode, &datasets, &unverified);
  if (H5Lexists(f, "rng_state", H5P_DEFAULT) > 0) {
    bool checked = false;
    NamedTensor rng = read_muft_dataset(f, "rng_state", path, "root", &checked);
    ++datasets;
    if (!checked) ++unverified;
    if (rng.dtype != DType::U8 || rng.shape.size() != 1) {
      throw std::runtime_error(fmt::format("{}: /rng_state must be a 1-D U8 dataset", path));
    }
    if (mode == ReadMode::Full) ck.rng_state = std::move(rng.bytes);
  }
  error_stack_summary();
  ck.verified = unverified == 0;
  if (check) {
    check->datasets = datasets;
    check->unverified = unverified;
  }
  return ck;
}

}  // namespace detail

namespace {

Checkpoint read_path(const std::string& path, detail::ReadMode mode, CheckpointCheck* check) {
  detail::Hdf5Lock lock;
  const htri_t is_h5 = H5Fis_hdf5(path.c_str());
  if (is_h5 <= 0) {
    detail::error_stack_summary();  // clear the stack
    throw std::runtime_error(fmt::format(
        "{}: {}", path, is_h5 == 0 ? "not an HDF5 file, so not a muft checkpoint" : "cannot open"));
  }
  detail::check_global_heaps_file(path);  // before HDF5 reads any string of it
  Handle fapl = detail::file_access_plist(path);
  Handle file(
      check_id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), path, "cannot open HDF5 file"),
      H5Fclose);
  return detail::read_checkpoint_file(file.get(), path, mode, check);
}

}  // namespace

Checkpoint read_checkpoint(const std::string& path) {
  return read_path(path, detail::ReadMode::Full, nullptr);
}

Checkpoint read_checkpoint_metadata(const std::string& path) {
  return read_path(path, detail::ReadMode::Metadata, nullptr);
}

CheckpointCheck verify_checkpoint(const std::string& path) {
  CheckpointCheck check;
  try {
    read_path(path, detail::ReadMode::Verify, &check);
    check.ok = true;
  } catch (const std::exception& e) {
    check.ok = false;
    check.error = e.what();
  }
  return check;
}

}  // namespace muft::checkpoint
