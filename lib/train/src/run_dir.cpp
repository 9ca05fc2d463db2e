#include "muft/train/run_dir.h"

#include "muft/checkpoint/run_dir.h"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace muft::train {

namespace fs = std::filesystem;

const char* const kMetricsColumns[9] = {"step",         "tokens",      "lr",
                                        "train_loss",   "val_loss",    "val_ppl",
                                        "old_val_loss", "old_val_ppl", "seconds"};

const char* run_status_name(RunStatus s) {
  switch (s) {
    case RunStatus::kRunning:
      return "running";
    case RunStatus::kCompleted:
      return "completed";
    case RunStatus::kDiverged:
      return "diverged";
    case RunStatus::kFailed:
      return "failed";
  }
  return "failed";
}

RunStatus parse_run_status(const std::string& s) {
  for (RunStatus r :
       {RunStatus::kRunning, RunStatus::kCompleted, RunStatus::kDiverged, RunStatus::kFailed}) {
    if (s == run_status_name(r)) return r;
  }
  throw std::invalid_argument("unknown run status '" + s +
                              "' (expected running, completed, diverged or failed)");
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

RunDir::RunDir(std::string path, bool create) : path_(std::move(path)) {
  if (path_.empty()) throw std::invalid_argument("run directory path is empty");
  while (path_.size() > 1 && path_.back() == '/') path_.pop_back();
  if (create) {
    std::error_code ec;
    fs::create_directories(checkpoints_dir(), ec);
    if (ec) {
      throw std::runtime_error("cannot create run directory '" + path_ + "': " + ec.message());
    }
  } else if (!fs::is_directory(path_)) {
    throw std::runtime_error("'" + path_ + "' is not a run directory");
  }
}

std::string RunDir::checkpoint_path(int64_t step) const {
  return checkpoint::checkpoint_path(path_, step);
}

std::vector<std::pair<int64_t, std::string>> RunDir::list_checkpoints() const {
  std::vector<std::pair<int64_t, std::string>> out;
  for (auto& c : checkpoint::list_checkpoints(path_)) out.emplace_back(c.step, std::move(c.path));
  return out;
}

void RunDir::write_config(const nlohmann::json& config) const {
  write_file_atomic(config_path(), config.dump(2) + "\n");
}

nlohmann::json RunDir::read_config() const {
  try {
    return nlohmann::json::parse(read_file(config_path()));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error("'" + config_path() + "' is not valid JSON: " + e.what());
  }
}

void RunDir::write_status(RunStatus status, const std::string& reason, int64_t step,
                          const nlohmann::json& extra) const {
  nlohmann::json j = extra.is_object() ? extra : nlohmann::json::object();
  j["status"] = run_status_name(status);
  j["reason"] = reason;
  j["step"] = step;
  const auto ckpts = list_checkpoints();
  j["last_checkpoint"] =
      ckpts.empty()
          ? nlohmann::json(nullptr)
          : nlohmann::json("checkpoints/" + fs::path(ckpts.back().second).filename().string());
  const std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  j["updated"] = buf;
  write_file_atomic(status_path(), j.dump(2) + "\n");
}

nlohmann::json RunDir::read_status() const {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(status_path()));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error("'" + status_path() + "' is not valid JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("status") || !j["status"].is_string()) {
    throw std::runtime_error("'" + status_path() + "' has no \"status\" string");
  }
  return j;
}

namespace {
std::string format_double(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}
double parse_double(const std::string& s) {
  if (s.empty() || s == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (s == "inf") return std::numeric_limits<double>::infinity();
  if (s == "-inf") return -std::numeric_limits<double>::infinity();
  return std::stod(s);
}
}  // namespace

std::vector<MetricsRow> RunDir::read_metrics() const {
  std::vector<MetricsRow> rows;
  std::ifstream in(metrics_path());
  if (!in) return rows;
  std::string line;
  std::getline(in, line);  // header
  int64_t lineno = 1;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) f.push_back(cell);
    if (f.size() != 9) {
      throw std::runtime_error(metrics_path() + ":" + std::to_string(lineno) +
                               ": expected 9 columns, got " + std::to_string(f.size()));
    }
    MetricsRow r;
    try {
      r.step = std::stoll(f[0]);
      r.tokens = std::stoll(f[1]);
      r.lr = parse_double(f[2]);
      r.train_loss = parse_double(f[3]);
      r.val_loss = parse_double(f[4]);
      r.val_ppl = parse_double(f[5]);
      r.old_val_loss = parse_double(f[6]);
      r.old_val_ppl = parse_double(f[7]);
      r.seconds = parse_double(f[8]);
    } catch (const std::logic_error&) {
      throw std::runtime_error(metrics_path() + ":" + std::to_string(lineno) +
                               ": a field is not a number");
    }
    rows.push_back(r);
  }
  return rows;
}

void RunDir::write_metrics(const std::vector<MetricsRow>& rows) const {
  std::string s;
  for (int i = 0; i < 9; ++i) s += std::string(i ? "," : "") + kMetricsColumns[i];
  s += "\n";
  for (const auto& r : rows) {
    s += std::to_string(r.step) + "," + std::to_string(r.tokens) + "," + format_double(r.lr) + "," +
         format_double(r.train_loss) + "," + format_double(r.val_loss) + "," +
         format_double(r.val_ppl) + "," + format_double(r.old_val_loss) + "," +
         format_double(r.old_val_ppl) + "," + format_double(r.seconds) + "\n";
  }
  write_file_atomic(metrics_path(), s);
}

void RunDir::append_metrics(const MetricsRow& row) const {
  auto rows = read_metrics();
  rows.push_back(row);
  write_metrics(rows);
}

}  // namespace muft::train
