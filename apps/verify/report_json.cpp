#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "report.h"

namespace muft::verify {
namespace {

nlohmann::json number(double v) {
  if (std::isfinite(v)) return v;
  return nullptr;  // JSON has no NaN/inf: null means "not applicable" (observations)
}

void dump(const std::string& path, const nlohmann::json& j) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write JSON file '" + path + "'");
  out << j.dump(2) << '\n';
  if (!out) throw std::runtime_error("failed while writing JSON file '" + path + "'");
}

}  // namespace

void touch_writable(const std::string& path) {
  std::ofstream out(path, std::ios::app);
  if (!out) throw std::runtime_error("cannot open output file '" + path + "' for writing");
}

void write_checks_json(const std::string& path, const RunInfo& info,
                       const std::vector<theory::CheckResult>& results) {
  nlohmann::json j;
  j["tool"] = "muft-verify";
  j["version"] = info.version;
  j["instances"] = info.instances;
  j["seed"] = info.seed;
  bool all_pass = true;
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& r : results) {
    nlohmann::json c;
    c["name"] = r.name;
    c["statement"] = r.statement;
    c["instances"] = r.instances;
    c["worst_error"] = number(r.worst_error);
    c["bound"] = number(r.bound);
    c["worst_ratio"] = number(r.worst_ratio);
    c["status"] = theory::to_string(r.status);
    c["seconds"] = r.seconds;
    c["note"] = r.note;
    nlohmann::json m = nlohmann::json::object();
    for (const auto& [k, v] : r.metrics) m[k] = number(v);
    c["metrics"] = m;
    arr.push_back(c);
    all_pass = all_pass && r.status != theory::CheckStatus::kFail;
  }
  j["checks"] = arr;
  j["all_pass"] = all_pass;
  dump(path, j);
}

void write_coefficients_json(const std::string& path,
                             const std::vector<std::array<double, 3>>& coeffs, double lower,
                             int iterations, double safety, double cushion) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& c : coeffs) j.push_back({c[0], c[1], c[2]});
  (void)lower;
  (void)iterations;
  (void)safety;
  (void)cushion;
  dump(path, j);
}

}  // namespace muft::verify
