// TensorSource over HDF5 files: muft checkpoints (the tensors of /parameters,
// original names) and any other HDF5 file (every numeric dataset of rank >= 2,
// named by its path). All HDF5 calls hold the global HDF5 mutex.

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <unordered_map>

#include "hdf5_util.h"
#include "muft_hdf5.h"
#include "sources.h"

namespace muft::checkpoint::detail {
namespace {

struct Entry {
  TensorInfo info;
  std::string link;  // HDF5 path of the dataset, relative to the root group
};

// Classifies a dataset's element type for the generic reader; false for
// types that are not tensors (strings, compounds, enums, references, ...).
bool generic_dtype(hid_t type, DType* out) {
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
      return false;  // e.g. 80-bit long double: not read
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
        return false;
    }
  }
  return false;
}

struct VisitState {
  hid_t file;
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
  DType t;
  if (rank < 2 || H5Sget_simple_extent_type(space.get()) != H5S_SIMPLE ||
      !generic_dtype(type.get(), &t)) {
    return 0;
  }
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  Entry e;
  e.info.name = name;
  e.info.dtype = t;
  for (hsize_t x : dims) e.info.shape.push_back(static_cast<int64_t>(x));
  e.link = name;
  st->entries->push_back(std::move(e));
  return 0;
}

class Hdf5Source final : public TensorSource {
 public:
  explicit Hdf5Source(const std::string& path) : path_(path) {
    Hdf5Lock lock;
    Handle fapl = file_access_plist(path);
    file_ = Handle(
        check_id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), path, "cannot open HDF5 file"),
        H5Fclose);
    std::vector<Entry> entries;
    muft_ = has_attribute(file_.get(), "muft_format");
    if (muft_) {
      check_muft_format(file_.get(), path);
      Handle group(check_id(H5Gopen2(file_.get(), "parameters", H5P_DEFAULT), path,
                            "muft checkpoint without group /parameters"),
                   H5Gclose);
      for (const auto& link : group_links(group.get(), path, "/parameters")) {
        const std::string what = "parameters/" + link;
        Handle d(check_id(H5Dopen2(group.get(), link.c_str(), H5P_DEFAULT), path,
                          "cannot open dataset " + what),
                 H5Dclose);
        Entry e;
        e.info.name = unescape_link_name(link, path);
        e.info.dtype = muft_dataset_dtype(d.get(), path, what);
        e.info.shape = dataset_shape(d.get(), path, what);
        e.link = what;
        entries.push_back(std::move(e));
      }
    } else {
      VisitState st{file_.get(), &path_, &entries, {}};
      if (H5Ovisit(file_.get(), H5_INDEX_NAME, H5_ITER_INC, visit_cb, &st) < 0) {
        if (!st.error.empty()) throw std::runtime_error(st.error);
        check_id(-1, path, "cannot list the datasets");
      }
    }
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.info.name < b.info.name; });
    for (auto& e : entries) {
      index_.emplace(e.info.name, infos_.size());
      infos_.push_back(e.info);
      links_.push_back(e.link);
    }
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

 private:
  template <typename Out>
  void read_any(const std::string& name, std::vector<Out>& out) const {
    const auto it = index_.find(name);
    if (it == index_.end()) throw std::out_of_range(path_ + ": no tensor named '" + name + "'");
    const TensorInfo& info = infos_[it->second];
    const std::string& link = links_[it->second];
    if (!is_floating(info.dtype)) throw_not_floating(path_, info);
    const std::size_t n = static_cast<std::size_t>(info.numel());
    const std::string what = fmt::format("tensor '{}'", name);
    Hdf5Lock lock;
    Handle d(
        check_id(H5Dopen2(file_.get(), link.c_str(), H5P_DEFAULT), path_, "cannot open " + what),
        H5Dclose);
    // The shape may not have changed since the source was opened (same open file).
    if (muft_ && (info.dtype == DType::F16 || info.dtype == DType::BF16)) {
      // muft stores half types as their uint16 bit patterns.
      std::vector<unsigned char> raw(2 * n);
      if (n) {
        check_err(H5Dread(d.get(), H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()),
                  path_, "cannot read " + what);
      }
      out.resize(n);
      convert_elements(raw.data(), info.dtype, n, out.data());
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

  std::string path_;
  Handle file_;
  bool muft_ = false;
  std::vector<TensorInfo> infos_;
  std::vector<std::string> links_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace

std::unique_ptr<TensorSource> open_hdf5_source(const std::string& path) {
  return std::make_unique<Hdf5Source>(path);
}

}  // namespace muft::checkpoint::detail
