#include <hdf5.h>

#include <stdexcept>
#include <vector>

#include "report.h"

namespace muft::verify {
namespace {

// RAII for any HDF5 identifier with its close function.
struct Id {
  hid_t id;
  herr_t (*close)(hid_t);
  Id(hid_t i, herr_t (*c)(hid_t), const std::string& what) : id(i), close(c) {
    if (id < 0) throw std::runtime_error("HDF5: cannot create " + what);
  }
  ~Id() {
    if (id >= 0) close(id);
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
};

void attr_string(hid_t obj, const std::string& key, const std::string& value) {
  Id type(H5Tcopy(H5T_C_S1), H5Tclose, "string type");
  H5Tset_size(type.id, value.empty() ? 1 : value.size());
  H5Tset_strpad(type.id, H5T_STR_NULLTERM);
  H5Tset_cset(type.id, H5T_CSET_UTF8);
  Id space(H5Screate(H5S_SCALAR), H5Sclose, "scalar space");
  Id a(H5Acreate2(obj, key.c_str(), type.id, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
       "attribute " + key);
  const std::string v = value.empty() ? std::string(1, '\0') : value;
  if (H5Awrite(a.id, type.id, v.data()) < 0) throw std::runtime_error("HDF5: write " + key);
}

void attr_double(hid_t obj, const std::string& key, double value) {
  Id space(H5Screate(H5S_SCALAR), H5Sclose, "scalar space");
  Id a(H5Acreate2(obj, key.c_str(), H5T_IEEE_F64LE, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
       "attribute " + key);
  if (H5Awrite(a.id, H5T_NATIVE_DOUBLE, &value) < 0) throw std::runtime_error("HDF5: " + key);
}

void dataset(hid_t group, const std::string& key, const double* data, int rank,
             const hsize_t* dims) {
  Id space(H5Screate_simple(rank, dims, nullptr), H5Sclose, "dataspace " + key);
  Id d(H5Dcreate2(group, key.c_str(), H5T_IEEE_F64LE, space.id, H5P_DEFAULT, H5P_DEFAULT,
                  H5P_DEFAULT),
       H5Dclose, "dataset " + key);
  if (H5Dwrite(d.id, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    throw std::runtime_error("HDF5: cannot write dataset " + key);
  }
}

void matrix(hid_t group, const theory::CheckRecord::Array& a) {
  const Eigen::MatrixXd& M = a.value;
  // Row-major buffer so that readers see shape (rows, cols).
  std::vector<double> buf(static_cast<std::size_t>(M.size()));
  for (Eigen::Index i = 0; i < M.rows(); ++i) {
    for (Eigen::Index j = 0; j < M.cols(); ++j) {
      buf[static_cast<std::size_t>(i * M.cols() + j)] = M(i, j);
    }
  }
  if (a.is_vector) {
    const hsize_t dims[1] = {static_cast<hsize_t>(M.size())};
    dataset(group, a.name, buf.data(), 1, dims);
  } else {
    const hsize_t dims[2] = {static_cast<hsize_t>(M.rows()), static_cast<hsize_t>(M.cols())};
    dataset(group, a.name, buf.data(), 2, dims);
  }
}

}  // namespace

H5Report::H5Report(const std::string& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors become one-line messages instead
  file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file_ < 0) throw std::runtime_error("cannot create HDF5 file '" + path + "'");
}

H5Report::~H5Report() {
  if (file_ >= 0) H5Fclose(static_cast<hid_t>(file_));
}

void H5Report::write(const RunInfo& info, const std::vector<theory::CheckResult>& results) {
  const hid_t f = static_cast<hid_t>(file_);
  attr_string(f, "tool", "muft-verify");
  attr_string(f, "version", info.version);
  attr_string(f, "layout", "docs/formats.md#muft-verify-hdf5");
  attr_double(f, "instances", info.instances);
  attr_double(f, "seed", static_cast<double>(info.seed));
  Id checks(H5Gcreate2(f, "checks", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, "/checks");
  for (const auto& r : results) {
    Id g(H5Gcreate2(checks.id, r.name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
         "group " + r.name);
    attr_string(g.id, "statement", r.statement);
    attr_string(g.id, "status", theory::to_string(r.status));
    attr_string(g.id, "note", r.note);
    attr_double(g.id, "instances", r.instances);
    attr_double(g.id, "worst_error", r.worst_error);
    attr_double(g.id, "bound", r.bound);
    attr_double(g.id, "worst_ratio", r.worst_ratio);
    attr_double(g.id, "seconds", r.seconds);
    Id mg(H5Gcreate2(g.id, "metrics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
          "metrics of " + r.name);
    for (const auto& [k, v] : r.metrics) attr_double(mg.id, k, v);
    for (const auto& rec : r.records) {
      Id rg(H5Gcreate2(g.id, rec.name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
            "group " + r.name + "/" + rec.name);
      for (const auto& a : rec.arrays) matrix(rg.id, a);
      for (const auto& [k, v] : rec.scalars) {
        const hsize_t one[1] = {1};
        (void)one;
        Id space(H5Screate(H5S_SCALAR), H5Sclose, "scalar " + k);
        Id d(H5Dcreate2(rg.id, k.c_str(), H5T_IEEE_F64LE, space.id, H5P_DEFAULT, H5P_DEFAULT,
                        H5P_DEFAULT),
             H5Dclose, "dataset " + k);
        if (H5Dwrite(d.id, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) < 0) {
          throw std::runtime_error("HDF5: cannot write " + k);
        }
      }
      for (const auto& [k, v] : rec.attributes) attr_string(rg.id, k, v);
    }
  }
  if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) throw std::runtime_error("HDF5: flush failed");
}

}  // namespace muft::verify
