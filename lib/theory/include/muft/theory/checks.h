#pragma once
/// \file checks.h
/// Named verification checks of arXiv 2605.10468 Sec. 3.1 / App. D (and observations beyond
/// it). Each check runs many seeded random instances and reports its worst error against a
/// bound derived from the step sizes or a solver guarantee. docs/theory.md maps each name to
/// its statement.

#include <Eigen/Dense>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace muft::theory {

/// Deliberately wrong claims, used by the tests to show that every check can FAIL.
enum class Fault {
  kNone,
  kWrongLimit,           ///< compare with a wrong limit / formula
  kMismatchedOptimizer,  ///< run the other geometry's optimizer (or schedule)
};

/// Options shared by all checks.
struct CheckOptions {
  int instances = 24;              ///< random instances per check (>= 1)
  unsigned long long seed = 2605;  ///< base seed; each check derives its own stream
  Fault fault = Fault::kNone;      ///< tests only
  bool IsValid(std::string* error) const;
};

enum class CheckStatus { kPass, kFail, kInfo };
const char* to_string(CheckStatus s);

/// One instance in full, for the HDF5 output: named arrays (vectors as (n, 1)), scalars and
/// text attributes.
struct CheckRecord {
  /// One named array; vectors are kept 1-D (is_vector) so writers can store them as such.
  struct Array {
    std::string name;
    Eigen::MatrixXd value;  ///< (rows, cols); a vector is (n, 1)
    bool is_vector = false;
  };
  std::string name;  ///< group name, e.g. "instance_0"
  std::vector<Array> arrays;
  std::vector<std::pair<std::string, double>> scalars;
  std::vector<std::pair<std::string, std::string>> attributes;
  void add(const std::string& key, const Eigen::MatrixXd& value) {
    arrays.push_back({key, value, false});
  }
  void add(const std::string& key, const Eigen::VectorXd& value) {
    arrays.push_back({key, value, true});
  }
  void add_vector(const std::string& key, const std::vector<double>& v);
  void add_scalar(const std::string& key, double v) { scalars.emplace_back(key, v); }
  void add_attribute(const std::string& key, const std::string& v) {
    attributes.emplace_back(key, v);
  }
};

/// Outcome of one check.
struct CheckResult {
  std::string name;
  std::string statement;
  int instances = 0;
  double worst_error = 0.0;  ///< error of the instance closest to (or past) its bound
  double bound = 0.0;        ///< that instance's bound (NaN for observations)
  double worst_ratio = 0.0;  ///< max over instances and parts of error / bound
  CheckStatus status = CheckStatus::kPass;
  double seconds = 0.0;
  std::string note;  ///< first failure, or the observation summary
  std::vector<std::pair<std::string, double>> metrics;  ///< named numbers for JSON/H5
  std::vector<CheckRecord> records;
};

/// A registered check.
struct CheckInfo {
  std::string name;
  std::string statement;
  std::function<CheckResult(const CheckOptions&)> run;
};

/// All checks in their documented order.
const std::vector<CheckInfo>& all_checks();
/// nullptr when unknown.
const CheckInfo* find_check(const std::string& name);
/// Runs one check, fills name/statement/seconds. Throws std::invalid_argument on bad options.
CheckResult run_check(const CheckInfo& check, const CheckOptions& opts);

}  // namespace muft::theory
