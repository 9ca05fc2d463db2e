#include "muft/rundir/inspect.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "muft/rundir/run_dir.h"

namespace fs = std::filesystem;

namespace muft::rundir {

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
    case RunState::kCollapsed:
      return "collapsed";
    case RunState::kFailed:
      return "failed";
    case RunState::kCorrupt:
      return "corrupt";
  }
  return "?";
}

bool lock_held(const std::string& dir) {
  const std::string path = dir + "/.sweep.lock";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);  // releases our shared lock, if we got it
  return held;
}

Inspection inspect_run(const std::string& dir) {
  Inspection st;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return st;
  if (!fs::is_directory(dir, ec)) {
    st.state = RunState::kCorrupt;
    st.reason = "run path exists but is not a directory";
    return st;
  }
  const RunDir run(dir);
  if (const auto last = run.latest_checkpoint()) {
    st.last_checkpoint = last->path;
    st.last_checkpoint_step = last->step;
  }
  if (lock_held(dir)) {
    st.state = RunState::kRunning;
    return st;
  }
  if (!run.has_status()) {
    const bool started = !st.last_checkpoint.empty() || fs::exists(run.metrics_path(), ec);
    st.state = started ? RunState::kInterrupted : RunState::kPending;
    return st;
  }
  StatusRecord rec;
  try {
    rec = run.read_status();
  } catch (const std::exception& e) {
    st.state = RunState::kCorrupt;
    st.reason = e.what();
    return st;
  }
  st.reason = rec.reason;
  switch (rec.status) {
    case RunStatus::kCompleted:
      st.state = RunState::kCompleted;
      if (!fs::exists(run.metrics_path(), ec)) {
        st.state = RunState::kCorrupt;
        st.reason = "status.json says completed but metrics.csv is missing";
      }
      break;
    case RunStatus::kDiverged:
      st.state = RunState::kDiverged;
      break;
    case RunStatus::kCollapsed:
      st.state = RunState::kCollapsed;
      break;
    case RunStatus::kFailed:
      st.state = RunState::kFailed;
      break;
    case RunStatus::kRunning:
      st.state = RunState::kInterrupted;  // no live lock holder: the process is gone
      break;
  }
  return st;
}

}  // namespace muft::rundir
