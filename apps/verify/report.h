#pragma once
// Output writers of muft-verify (formatting only; the layouts are in docs/formats.md).

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "muft/theory/checks.h"

namespace muft::checkpoint::h5 {
class File;
}

namespace muft::verify {

/// Run-level settings written next to the results.
struct RunInfo {
  int instances = 0;
  unsigned long long seed = 0;
  std::string version = "0.1.0";
};

/// Opens (truncates) the HDF5 file now so that a bad path fails before any work.
class H5Report {
 public:
  explicit H5Report(const std::string& path);  // throws std::runtime_error
  ~H5Report();
  H5Report(const H5Report&) = delete;
  H5Report& operator=(const H5Report&) = delete;
  /// Writes everything and closes the file; throws std::runtime_error on a failed write.
  void write(const RunInfo& info, const std::vector<theory::CheckResult>& results);

 private:
  std::unique_ptr<checkpoint::h5::File> file_;
};

/// Checks the JSON path is writable (creates it), then writes at the end.
void touch_writable(const std::string& path);  // throws std::runtime_error
void write_checks_json(const std::string& path, const RunInfo& info,
                       const std::vector<theory::CheckResult>& results);
void write_coefficients_json(const std::string& path,
                             const std::vector<std::array<double, 3>>& coeffs, double lower,
                             int iterations, double safety, double cushion);

}  // namespace muft::verify
