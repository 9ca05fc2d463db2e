#include "muft/sweep/run_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace muft::sweep {

const char* to_string(RunState s) {
  switch (s) {
    case RunState::kPending:
      return "pending";
    case RunState::kRunning:
      return "running";
    case RunState::kInterrupted:
      return "interrupted";
    case RunState::kCompleted:
      return "completed";
    case RunState::kDiverged:
      return "diverged";
    case RunState::kFailed:
      return "failed";
    case RunState::kCorrupt:
      return "corrupt";
  }
  return "?";
}

std::vector<std::string> list_checkpoints(const std::string& dir) {
  std::vector<std::pair<long, std::string>> found;
  std::error_code ec;
  const fs::path cdir = fs::path(dir) / "checkpoints";
  if (!fs::is_directory(cdir, ec)) return {};
  for (const auto& e : fs::directory_iterator(cdir, ec)) {
    const std::string name = e.path().filename().string();
    // step_NNNNNN.h5 exactly: temporary files (.tmp.<pid>) of an interrupted write are ignored.
    if (name.size() < 9 || name.compare(0, 5, "step_") != 0 ||
        name.compare(name.size() - 3, 3, ".h5") != 0)
      continue;
    const std::string digits = name.substr(5, name.size() - 8);
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
    found.emplace_back(std::stol(digits), e.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(f.second);
  return out;
}

namespace {

/// True when some process holds an exclusive flock on DIR/.sweep.lock.
bool lock_held(const std::string& dir) {
  const std::string path = dir + "/.sweep.lock";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);  // releases our shared lock, if we got it
  return held;
}

long checkpoint_step(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  return std::stol(name.substr(5, name.size() - 8));
}

}  // namespace

RunStatus inspect_run(const std::string& dir) {
  RunStatus st;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return st;
  if (!fs::is_directory(dir, ec)) {
    st.state = RunState::kCorrupt;
    st.reason = "run path exists but is not a directory";
    return st;
  }
  const auto ckpts = list_checkpoints(dir);
  if (!ckpts.empty()) {
    st.last_checkpoint = ckpts.back();
    st.last_checkpoint_step = checkpoint_step(ckpts.back());
  }
  if (lock_held(dir)) {
    st.state = RunState::kRunning;
    return st;
  }
  const std::string status_path = dir + "/status.json";
  if (!fs::exists(status_path, ec)) {
    const bool started = !ckpts.empty() || fs::exists(dir + "/metrics.csv", ec);
    st.state = started ? RunState::kInterrupted : RunState::kPending;
    return st;
  }
  nlohmann::json j;
  try {
    std::ifstream in(status_path);
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    st.state = RunState::kCorrupt;
    st.reason = std::string("status.json is not valid JSON: ") + e.what();
    return st;
  }
  if (!j.is_object() || !j.contains("status") || !j["status"].is_string()) {
    st.state = RunState::kCorrupt;
    st.reason = "status.json has no string field \"status\"";
    return st;
  }
  const std::string s = j["status"].get<std::string>();
  if (j.contains("reason") && j["reason"].is_string()) st.reason = j["reason"].get<std::string>();
  if (s == "completed") {
    st.state = RunState::kCompleted;
    if (!fs::exists(dir + "/metrics.csv", ec)) {
      st.state = RunState::kCorrupt;
      st.reason = "status.json says completed but metrics.csv is missing";
    }
  } else if (s == "diverged") {
    st.state = RunState::kDiverged;
  } else if (s == "failed") {
    st.state = RunState::kFailed;
  } else if (s == "running" || s == "interrupted") {
    st.state = RunState::kInterrupted;  // no live lock holder: the process is gone
  } else {
    st.state = RunState::kCorrupt;
    st.reason = "status.json has unknown status '" + s + "'";
  }
  return st;
}

void write_file_atomic(const std::string& path, const std::string& text, bool durable) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot write '" + tmp + "': " + std::strerror(errno));
  std::size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      throw std::runtime_error("cannot write '" + tmp + "': " + std::strerror(errno));
    }
    off += static_cast<std::size_t>(n);
  }
  if (durable) ::fsync(fd);
  ::close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot rename '" + tmp + "' to '" + path +
                             "': " + std::strerror(errno));
}

void write_status(const std::string& dir, const std::string& status, const std::string& reason) {
  const nlohmann::json j = {{"status", status}, {"reason", reason}, {"written_by", "muft-sweep"}};
  write_file_atomic(dir + "/status.json", j.dump(2) + "\n");
}

}  // namespace muft::sweep
