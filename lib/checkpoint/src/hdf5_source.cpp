// TensorSource over HDF5 files: muft checkpoints (the tensors of /parameters,
// original names, each checked against its stored CRC-32) and any other HDF5 file (every
// numeric dataset of rank >= 2, named by its path; rank >= 2 datasets of number-like types
// that cannot be read as floats, such as complex numbers, are listed with a skip reason).
// All HDF5 calls hold the global HDF5 mutex.

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "global_heap.h"
#include "hdf5_util.h"
#include "mapped_file.h"
#include "muft_hdf5.h"
#include "sources.h"

namespace muft::checkpoint::detail {
namespace {

struct Entry {
  TensorInfo info;
  std::string link;         // HDF5 path of the dataset, relative to the root group
  StoredChecksum checksum;  // muft checkpoints only
};

// Classifies a dataset's element type for the generic reader: true with *out set for the
// numeric types muft reads; false with *why set for number-like types it cannot convert; false
// with *why empty for types that are not tensors at all (strings, enums, references, ...).
bool generic_dtype(hid_t type, DType* out, std::string* why) {
  const H5T_class_t cls = H5Tget_class(type);
  const std::size_t size = H5Tget_size(type);
  if (cls == H5T_FLOAT) {
    if (size == 8) {
      *out = DType::F64;
    } else if (size == 4) {
      *out = DType::F32;
    } else if (size == 2) {
      std::size_t spos, epos, esize, mpos, msize;
      H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize);
      *out = esize == 8 ? DType::BF16 : DType::F16;  // h5py float16 has esize 5
    } else {
      *why = fmt::format("{}-byte floating-point type is not supported", size);
      return false;  // e.g. 80-bit long double
    }
    return true;
  }
  if (cls == H5T_INTEGER) {
    const bool s = H5Tget_sign(type) == H5T_SGN_2;
    switch (size) {
      case 8:
        *out = s ? DType::I64 : DType::U64;
        return true;
      case 4:
        *out = s ? DType::I32 : DType::U32;
        return true;
      case 2:
        *out = s ? DType::I16 : DType::U16;
        return true;
      case 1:
        *out = s ? DType::I8 : DType::U8;
        return true;
      default:
        *why = fmt::format("{}-byte integer type is not supported", size);
        return false;
    }
  }
  if (cls == H5T_COMPOUND) {
    const int members = H5Tget_nmembers(type);
    bool two_floats = members == 2;
    for (int i = 0; i < members && two_floats; ++i) {
      const hid_t m = H5Tget_member_type(type, static_cast<unsigned>(i));
      two_floats = m >= 0 && H5Tget_class(m) == H5T_FLOAT;
      if (m >= 0) H5Tclose(m);
    }
    *why = two_floats ? "complex numbers (compound of two floats) are not supported"
                      : fmt::format("compound HDF5 datatype ({} fields) is not a tensor",
                                    members < 0 ? 0 : members);
    return false;
  }
  if (cls == H5T_ARRAY) {
    *why = "HDF5 array datatype (an array per element) is not supported";
    return false;
  }
  return false;
}

struct VisitState {
  const std::string* path;
  std::vector<Entry>* entries;
  std::string error;
};

herr_t visit_cb(hid_t root, const char* name, const H5O_info_t* info, void* data) {
  auto* st = static_cast<VisitState*>(data);
  if (info->type != H5O_TYPE_DATASET) return 0;
  const hid_t dset = H5Dopen2(root, name, H5P_DEFAULT);
  if (dset < 0) {
    st->error = fmt::format("{}: cannot open dataset '{}'", *st->path, name);
    return -1;
  }
  Handle d(dset, H5Dclose);
  Handle type(H5Dget_type(dset), H5Tclose);
  Handle space(H5Dget_space(dset), H5Sclose);
  if (!type.valid() || !space.valid()) return 0;
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 2 || H5Sget_simple_extent_type(space.get()) != H5S_SIMPLE) return 0;
  DType t = DType::U8;
  std::string why;
  if (!generic_dtype(type.get(), &t, &why) && why.empty()) return 0;
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0) return 0;
  Entry e;
  e.info.name = name;
  e.info.dtype = t;
  e.info.skip_reason = why;
  for (hsize_t x : dims) {
    if (x > static_cast<hsize_t>(INT64_MAX)) {
      st->error = fmt::format("{}: dataset '{}': dimension too large", *st->path, name);
      return -1;
    }
    e.info.shape.push_back(static_cast<int64_t>(x));
  }
  e.link = name;
  st->entries->push_back(std::move(e));
  return 0;
}

class Hdf5Source final : public TensorSource {
 public:
  // Takes an open file (read-only); `path` names it in messages. `image` (size bytes) is the
  // file's content when it was opened from memory, null for a file on disk.
  Hdf5Source(Handle file, const std::string& path, const void* image, std::size_t size)
      : path_(path), file_(std::move(file)), on_disk_(image == nullptr) {
    Hdf5Lock lock;
    std::vector<Entry> entries;
    muft_ = has_attribute(file_.get(), "muft_format");
    if (muft_) {
      // A muft checkpoint's strings (format, dtypes) live in HDF5's global heap.
      if (image) {
        check_global_heaps(static_cast<const unsigned char*>(image), size, path);
      } else {
        check_global_heaps_file(path);
      }
      check_muft_format(file_.get(), path);
      Handle group(check_id(H5Gopen2(file_.get(), "parameters", H5P_DEFAULT), path,
                            "muft checkpoint without group /parameters"),
                   H5Gclose);
      std::size_t unverified = 0;
      for (const auto& link : group_links(group.get(), path, "/parameters")) {
        const std::string what = "parameters/" + link;
        Handle d(check_id(H5Dopen2(group.get(), link.c_str(), H5P_DEFAULT), path,
                          "cannot open dataset " + what),
                 H5Dclose);
        Entry e;
        e.info.name = unescape_link_name(link, path);
        e.info.dtype = muft_dataset_dtype(d.get(), path, what);
        e.info.shape = dataset_shape(d.get(), path, what);
        e.info.numel();  // validates the shape before anything is sized from it
        e.checksum = read_stored_checksum(d.get(), path);
        if (!e.checksum.present) ++unverified;
        e.link = what;
        entries.push_back(std::move(e));
      }
      if (unverified > 0) {
        note_ = unverified == entries.size()
                    ? "muft checkpoint without checksums (written before muft stored them): "
                      "its data could not be verified"
                    : fmt::format(
                          "{} of {} tensors without a checksum: their data could not be "
                          "verified",
                          unverified, entries.size());
      }
    } else {
      VisitState st{&path_, &entries, {}};
      if (H5Ovisit(file_.get(), H5_INDEX_NAME, H5_ITER_INC, visit_cb, &st) < 0) {
        if (!st.error.empty()) {
          error_stack_summary();
          throw std::runtime_error(st.error);
        }
        check_id(-1, path, "cannot list the datasets");
      }
      for (const Entry& e : entries) e.info.numel();  // validates every listed shape
    }
    error_stack_summary();
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.info.name < b.info.name; });
    for (auto& e : entries) {
      index_.emplace(e.info.name, infos_.size());
      infos_.push_back(e.info);
      links_.push_back(e.link);
      checksums_.push_back(e.checksum);
    }
    verified_.assign(infos_.size(), 0);
  }
  ~Hdf5Source() override {
    Hdf5Lock lock;
    file_.reset();
  }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  void read(const std::string& name, std::vector<double>& out) const override {
    read_any(name, out);
  }
  void read(const std::string& name, std::vector<float>& out) const override {
    read_any(name, out);
  }
  const std::string& path() const override { return path_; }
  const char* format() const override { return muft_ ? "muft-hdf5" : "hdf5"; }
  std::string note() const override { return note_; }

  // A contiguous dataset without filters or external storage is one run of bytes at
  // H5Dget_offset in the file: mapped once, on first use, and handed out in place.
  std::optional<StoredBytes> stored_bytes(const std::string& name) const override {
    const auto it = index_.find(name);
    if (it == index_.end()) throw std::out_of_range(path_ + ": no tensor named '" + name + "'");
    const std::size_t i = it->second;
    const TensorInfo& info = infos_[i];
    // F16/BF16 of generic files are HDF5 float types whose bit layout would need checking.
    const bool half = info.dtype == DType::F16 || info.dtype == DType::BF16;
    if (!on_disk_ || !info.skip_reason.empty() || (half && !muft_)) return std::nullopt;
    const std::size_t n = static_cast<std::size_t>(info.numel()) * dtype_size(info.dtype);
    haddr_t offset = HADDR_UNDEF;
    {
      Hdf5Lock lock;
      const std::string what = fmt::format("tensor '{}'", name);
      Handle d(check_id(H5Dopen2(file_.get(), links_[i].c_str(), H5P_DEFAULT), path_,
                        "cannot open " + what),
               H5Dclose);
      Handle plist(check_id(H5Dget_create_plist(d.get()), path_, what + ": no creation list"),
                   H5Pclose);
      Handle type(check_id(H5Dget_type(d.get()), path_, what + ": cannot get type"), H5Tclose);
      const bool in_place =
          H5Pget_layout(plist.get()) == H5D_CONTIGUOUS && H5Pget_nfilters(plist.get()) == 0 &&
          H5Pget_external_count(plist.get()) == 0 &&
          H5Tequal(type.get(), file_type(info.dtype)) > 0 && H5Dget_storage_size(d.get()) == n;
      if (in_place) offset = H5Dget_offset(d.get());
      error_stack_summary();
    }
    if (offset == HADDR_UNDEF) return std::nullopt;  // not in place, or never written
    std::lock_guard<std::mutex> lock(map_mu_);
    if (!map_) map_ = std::make_unique<MappedFile>(path_);
    if (offset > map_->size() || n > map_->size() - offset) {
      throw std::runtime_error(fmt::format(
          "{}: tensor '{}': {} bytes at file offset {} run past the end of the file ({} bytes)",
          path_, name, n, static_cast<uint64_t>(offset), map_->size()));
    }
    const unsigned char* data = map_->data() + offset;
    if (muft_ && !verified_[i]) {
      check_checksum(checksums_[i], data, n, path_, info.name, "parameters");
      verified_[i] = 1;
    }
    return StoredBytes{data, n};
  }

 private:
  template <typename Out>
  void read_any(const std::string& name, std::vector<Out>& out) const {
    const auto it = index_.find(name);
    if (it == index_.end()) throw std::out_of_range(path_ + ": no tensor named '" + name + "'");
    const TensorInfo& info = infos_[it->second];
    const std::string& link = links_[it->second];
    if (!info.skip_reason.empty()) {
      throw std::runtime_error(
          fmt::format("{}: tensor '{}': {}", path_, info.name, info.skip_reason));
    }
    if (!is_floating(info.dtype)) throw_not_floating(path_, info);
    const std::size_t n = static_cast<std::size_t>(info.numel());
    const std::string what = fmt::format("tensor '{}'", name);
    Hdf5Lock lock;
    Handle d(
        check_id(H5Dopen2(file_.get(), link.c_str(), H5P_DEFAULT), path_, "cannot open " + what),
        H5Dclose);
    // The shape may not have changed since the source was opened (same open file).
    if (muft_) {
      read_muft(d.get(), info, checksums_[it->second], n, what, out);
      return;
    }
    if (info.dtype == DType::F64 && sizeof(Out) == 4) {
      // Read exactly, then round: HDF5's own double->float conversion clamps overflow.
      std::vector<double> tmp(n);
      if (n) {
        check_err(H5Dread(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp.data()),
                  path_, "cannot read " + what);
      }
      out.assign(tmp.begin(), tmp.end());
      return;
    }
    // Float types up to 4 bytes (F32, h5py float16, bfloat16 layouts) convert exactly to float
    // and double; F64 to double is a copy.
    out.resize(n);
    const hid_t mem = sizeof(Out) == 8 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
    if (n) {
      check_err(H5Dread(d.get(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), path_,
                "cannot read " + what);
    }
  }

  // A muft dataset holds the tensor's raw little-endian bytes: read them as stored, check the
  // checksum over exactly those bytes, then convert (F16/BF16 are uint16 bit patterns).
  template <typename Out>
  void read_muft(hid_t d, const TensorInfo& info, const StoredChecksum& checksum, std::size_t n,
                 const std::string& what, std::vector<Out>& out) const {
    const std::size_t esize = dtype_size(info.dtype);
    const bool same =
        esize == sizeof(Out) && (info.dtype == DType::F64 || info.dtype == DType::F32);
    if (same) {  // straight into the output, no copy
      out.resize(n);
      if (n) {
        check_err(H5Dread(d, native_type(info.dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()),
                  path_, "cannot read " + what);
      }
      check_checksum(checksum, out.data(), n * esize, path_, info.name, "parameters");
      return;
    }
    std::vector<unsigned char> raw(n * esize);
    if (n) {
      check_err(H5Dread(d, native_type(info.dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()),
                path_, "cannot read " + what);
    }
    check_checksum(checksum, raw.data(), raw.size(), path_, info.name, "parameters");
    out.resize(n);
    convert_elements(raw.data(), info.dtype, n, out.data());
  }

  std::string path_;
  Handle file_;
  bool on_disk_ = true;
  bool muft_ = false;
  mutable std::mutex map_mu_;                // guards map_ and verified_
  mutable std::unique_ptr<MappedFile> map_;  // the file, mapped by the first stored_bytes
  mutable std::vector<char> verified_;       // checksum of stored_bytes checked, per tensor
  std::string note_;
  std::vector<TensorInfo> infos_;
  std::vector<std::string> links_;
  std::vector<StoredChecksum> checksums_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace

std::unique_ptr<TensorSource> open_hdf5_source(const std::string& path) {
  Hdf5Lock lock;
  Handle fapl = file_access_plist(path);
  Handle file(
      check_id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), path, "cannot open HDF5 file"),
      H5Fclose);
  return std::make_unique<Hdf5Source>(std::move(file), path, nullptr, 0);
}

std::unique_ptr<TensorSource> open_hdf5_image(const void* data, std::size_t size,
                                              const std::string& name) {
  Hdf5Lock lock;
  Handle file = open_file_image(data, size, name);
  return std::make_unique<Hdf5Source>(std::move(file), name, data, size);
}

}  // namespace muft::checkpoint::detail
