// muft-verify's HDF5 report (layout: docs/formats.md#muft-verify-hdf5), written through muft's
// HDF5 layer (muft/checkpoint/hdf5.h).

#include <stdexcept>
#include <vector>

#include "muft/checkpoint/hdf5.h"
#include "report.h"

namespace muft::verify {
namespace {

namespace h5 = muft::checkpoint::h5;

void matrix(const h5::Group& group, const theory::CheckRecord::Array& a) {
  const Eigen::MatrixXd& M = a.value;
  // Row-major buffer so that readers see shape (rows, cols).
  std::vector<double> buf(static_cast<std::size_t>(M.size()));
  for (Eigen::Index i = 0; i < M.rows(); ++i) {
    for (Eigen::Index j = 0; j < M.cols(); ++j) {
      buf[static_cast<std::size_t>(i * M.cols() + j)] = M(i, j);
    }
  }
  if (a.is_vector) {
    group.write_dataset(a.name, h5::Type::F64, {static_cast<uint64_t>(M.size())}, buf.data());
  } else {
    group.write_dataset(a.name, h5::Type::F64,
                        {static_cast<uint64_t>(M.rows()), static_cast<uint64_t>(M.cols())},
                        buf.data());
  }
}

}  // namespace

H5Report::H5Report(const std::string& path)
    : file_(std::make_unique<h5::File>(h5::File::create(path))) {}

H5Report::~H5Report() = default;

void H5Report::write(const RunInfo& info, const std::vector<theory::CheckResult>& results) {
  const h5::File& f = *file_;
  f.set_fixed_string_attribute("tool", "muft-verify");
  f.set_fixed_string_attribute("version", info.version);
  f.set_fixed_string_attribute("layout", "docs/formats.md#muft-verify-hdf5");
  f.set_double_attribute("instances", info.instances);
  f.set_double_attribute("seed", static_cast<double>(info.seed));
  const h5::Group checks = f.create_group("checks");
  for (const auto& r : results) {
    const h5::Group g = checks.create_group(r.name);
    g.set_fixed_string_attribute("statement", r.statement);
    g.set_fixed_string_attribute("status", theory::to_string(r.status));
    g.set_fixed_string_attribute("note", r.note);
    g.set_double_attribute("instances", r.instances);
    g.set_double_attribute("worst_error", r.worst_error);
    g.set_double_attribute("bound", r.bound);
    g.set_double_attribute("worst_ratio", r.worst_ratio);
    g.set_double_attribute("seconds", r.seconds);
    const h5::Group mg = g.create_group("metrics");
    for (const auto& [k, v] : r.metrics) mg.set_double_attribute(k, v);
    for (const auto& rec : r.records) {
      const h5::Group rg = g.create_group(rec.name);
      for (const auto& a : rec.arrays) matrix(rg, a);
      for (const auto& [k, v] : rec.scalars) rg.write_dataset(k, h5::Type::F64, {}, &v);
      for (const auto& [k, v] : rec.attributes) rg.set_fixed_string_attribute(k, v);
    }
  }
  file_->close();  // throws on a failed write (e.g. the disk is full)
}

}  // namespace muft::verify
