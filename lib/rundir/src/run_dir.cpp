#include "muft/rundir/run_dir.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

namespace muft::rundir {

namespace fs = std::filesystem;

std::string checkpoint_file_name(int64_t step) {
  if (step < 0) throw std::invalid_argument(fmt::format("checkpoint step {} is negative", step));
  return fmt::format("step_{:06d}.h5", step);
}

std::vector<CheckpointFile> list_checkpoints(const std::string& run_dir) {
  const fs::path dir = fs::path(run_dir) / "checkpoints";
  std::vector<CheckpointFile> out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    // step_<digits>.h5 exactly
    if (name.size() < 9 || name.compare(0, 5, "step_") != 0 ||
        name.compare(name.size() - 3, 3, ".h5") != 0) {
      continue;
    }
    const std::string digits = name.substr(5, name.size() - 8);
    if (digits.empty() || digits.size() > 18 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    out.push_back({std::stoll(digits), e.path().string()});
  }
  if (ec) throw std::runtime_error(dir.string() + ": cannot list: " + ec.message());
  std::sort(out.begin(), out.end(), [](const CheckpointFile& a, const CheckpointFile& b) {
    return a.step != b.step ? a.step < b.step : a.path < b.path;
  });
  return out;
}

void write_file_atomic(const std::string& path, const std::string& text, bool durable) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, static_cast<long>(::getpid()));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::runtime_error(path + ": cannot create " + tmp + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t w = ::write(fd, text.data() + done, text.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = w < 0 ? errno : ENOSPC;
      ::close(fd);
      std::remove(tmp.c_str());
      throw std::runtime_error(path + ": write failed: " + std::strerror(err));
    }
    done += static_cast<std::size_t>(w);
  }
  if (durable && ::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": fsync failed: " + std::strerror(err));
  }
  if (::close(fd) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": close failed: " + std::strerror(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot rename " + tmp + " over it: " + std::strerror(err));
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

RunDir::RunDir(std::string path) : path_(std::move(path)) {
  if (path_.empty()) throw std::invalid_argument("run directory path is empty");
  while (path_.size() > 1 && path_.back() == '/') path_.pop_back();
}

void RunDir::create() const {
  std::error_code ec;
  fs::create_directories(checkpoints_dir(), ec);
  if (ec) throw std::runtime_error("cannot create run directory '" + path_ + "': " + ec.message());
}

bool RunDir::exists() const {
  std::error_code ec;
  return fs::is_directory(path_, ec);
}

std::string RunDir::checkpoint_path(int64_t step) const {
  return (fs::path(path_) / "checkpoints" / checkpoint_file_name(step)).string();
}

std::vector<CheckpointFile> RunDir::checkpoints() const {
  return list_checkpoints(path_);
}

std::optional<CheckpointFile> RunDir::latest_checkpoint() const {
  auto all = checkpoints();
  if (all.empty()) return std::nullopt;
  return all.back();
}

bool RunDir::holds_run() const {
  return has_status() || has_config() || !checkpoints().empty();
}

void RunDir::write_config(const nlohmann::json& config) const {
  write_file_atomic(config_path(), config.dump(2) + "\n");
}

bool RunDir::has_config() const {
  std::error_code ec;
  return fs::exists(config_path(), ec);
}

nlohmann::json RunDir::read_config() const {
  try {
    return nlohmann::json::parse(read_file(config_path()));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error("'" + config_path() + "' is not valid JSON: " + e.what());
  }
}

void RunDir::write_status(const StatusRecord& rec) const {
  nlohmann::json j = rec.extra.is_object() ? rec.extra : nlohmann::json::object();
  j["status"] = to_string(rec.status);
  j["reason"] = rec.reason;
  j["step"] = rec.step;
  const auto last = latest_checkpoint();
  j["last_checkpoint"] =
      last ? nlohmann::json("checkpoints/" + fs::path(last->path).filename().string())
           : nlohmann::json(nullptr);
  const std::time_t now = std::time(nullptr);
  char buf[32];
  std::tm tm{};
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", ::gmtime_r(&now, &tm));
  j["updated"] = buf;
  write_file_atomic(status_path(), j.dump(2) + "\n");
}

bool RunDir::has_status() const {
  std::error_code ec;
  return fs::exists(status_path(), ec);
}

nlohmann::json RunDir::read_status_json() const {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(status_path()));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error("'" + status_path() + "' is not valid JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("status") || !j["status"].is_string()) {
    throw std::runtime_error("'" + status_path() + "' has no \"status\" string");
  }
  try {
    parse_run_status(j["status"].get<std::string>());
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error("'" + status_path() + "': " + e.what());
  }
  return j;
}

StatusRecord RunDir::read_status() const {
  const nlohmann::json j = read_status_json();
  StatusRecord r;
  r.status = parse_run_status(j["status"].get<std::string>());
  if (j.contains("reason") && j["reason"].is_string()) r.reason = j["reason"].get<std::string>();
  if (j.contains("step") && j["step"].is_number_integer()) r.step = j["step"].get<int64_t>();
  r.extra = j;
  for (const char* k : {"status", "reason", "step", "last_checkpoint", "updated"}) r.extra.erase(k);
  return r;
}

namespace {

/// Adds the columns of a legacy DIR/digits.csv (step,val_acc,old_val_acc) matched on step.
void merge_legacy_digits(const std::string& path, Metrics* m) {
  const std::string text = read_file(path);
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line)) return;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::vector<std::string> header;
  {
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) header.push_back(cell);
  }
  if (header.size() < 2 || header[0] != "step") {
    throw std::runtime_error(path + ": first column must be 'step'");
  }
  std::map<int64_t, std::vector<double>> by_step;
  int64_t lineno = 1;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    if (cells.size() != header.size()) {
      throw std::runtime_error(path + ":" + std::to_string(lineno) + ": expected " +
                               std::to_string(header.size()) + " columns");
    }
    std::vector<double> v;
    try {
      for (std::size_t i = 1; i < cells.size(); ++i) v.push_back(std::stod(cells[i]));
      by_step[std::stoll(cells[0])] = v;
    } catch (const std::logic_error&) {
      throw std::runtime_error(path + ":" + std::to_string(lineno) + ": a field is not a number");
    }
  }
  std::vector<std::size_t> add;  // header indices not already in metrics.csv
  for (std::size_t c = 1; c < header.size(); ++c) {
    if (std::find(m->extra_columns.begin(), m->extra_columns.end(), header[c]) ==
        m->extra_columns.end()) {
      add.push_back(c);
      m->extra_columns.push_back(header[c]);
    }
  }
  for (auto& r : m->rows) {
    const auto it = by_step.find(r.step);
    for (std::size_t c : add) {
      r.extra.push_back(it == by_step.end() ? std::numeric_limits<double>::quiet_NaN()
                                            : it->second[c - 1]);
    }
  }
}

}  // namespace

Metrics RunDir::read_metrics() const {
  std::error_code ec;
  if (!fs::exists(metrics_path(), ec)) return {};
  Metrics m = parse_metrics_csv(read_file(metrics_path()), metrics_path());
  const std::string legacy = path_ + "/digits.csv";
  if (fs::exists(legacy, ec)) merge_legacy_digits(legacy, &m);
  return m;
}

void RunDir::write_metrics(const Metrics& m) const {
  write_file_atomic(metrics_path(), format_metrics_csv(m));
}

std::size_t RunDir::remove_stale_temporaries() const {
  std::size_t removed = 0;
  for (const std::string& dir : {path_, checkpoints_dir()}) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      const std::size_t at = name.rfind(".tmp.");
      if (at == std::string::npos) continue;
      const std::string pid_text = name.substr(at + 5);
      if (pid_text.empty() || pid_text.size() > 9 ||
          !std::all_of(pid_text.begin(), pid_text.end(),
                       [](char c) { return c >= '0' && c <= '9'; })) {
        continue;
      }
      const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
      if (pid <= 0) continue;
      if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to judge)
      std::error_code rm;
      if (fs::remove(e.path(), rm)) ++removed;
    }
  }
  return removed;
}

}  // namespace muft::rundir
