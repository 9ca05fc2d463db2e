#include "muft/sweep/scheduler.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "muft/rundir/run_dir.h"

namespace fs = std::filesystem;

namespace muft::sweep {

bool SchedulerOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  if (jobs < 1) return fail("--jobs must be >= 1");
  if (!(poll_seconds > 0.0)) return fail("poll interval must be > 0");
  if (!dry_run) {
    if (trainer.empty()) return fail("no trainer executable given");
    if (::access(trainer.c_str(), X_OK) != 0)
      return fail("trainer '" + trainer + "' is not an executable file (pass --trainer PATH)");
  }
  return true;
}

int SweepSummary::exit_code() const {
  return failed == 0 && blocked == 0 && running_elsewhere == 0 ? 0 : 2;
}

namespace {

std::string substitute(const std::string& t, const std::string& dir, const std::string& ckpt) {
  std::string s = t;
  for (const auto& [key, val] :
       {std::pair<std::string, std::string>{"{dir}", dir}, {"{ckpt}", ckpt}}) {
    for (std::size_t p = s.find(key); p != std::string::npos; p = s.find(key, p + val.size()))
      s.replace(p, key.size(), val);
  }
  return s;
}

/// Removes what a previous attempt of the trainer left (not the log, not the lock).
void clear_for_fresh_start(const std::string& dir) {
  const rundir::RunDir run(dir);
  std::error_code ec;
  for (const std::string& f : {run.status_path(), run.metrics_path(), run.config_path()})
    fs::remove(f, ec);
  fs::remove_all(run.checkpoints_dir(), ec);
}

enum class Dep { kReady, kWait, kBlocked };

struct Child {
  std::size_t index;
  bool resumed;
};

}  // namespace

std::vector<std::string> trainer_argv(const std::string& trainer, const TrainerInterface& iface,
                                      const RunSpec& run, const std::string& ckpt, bool resume) {
  std::vector<std::string> argv = {trainer};
  argv.insert(argv.end(), run.args.begin(), run.args.end());
  argv.push_back("--out");
  argv.push_back(run.dir);
  if (run.kind == RunKind::kFinetune)
    for (const auto& a : iface.from_args) argv.push_back(substitute(a, run.dir, ckpt));
  if (resume)
    for (const auto& a : iface.resume_args) argv.push_back(substitute(a, run.dir, ckpt));
  return argv;
}

StatusCounts count_states(const std::vector<RunSpec>& runs,
                          std::vector<std::pair<const RunSpec*, rundir::Inspection>>* details) {
  StatusCounts c;
  for (const auto& r : runs) {
    const rundir::Inspection s = rundir::inspect_run(r.dir);
    switch (s.state) {
      case rundir::RunState::kPending:
        ++c.pending;
        break;
      case rundir::RunState::kRunning:
        ++c.running;
        break;
      case rundir::RunState::kInterrupted:
        ++c.interrupted;
        break;
      case rundir::RunState::kCompleted:
        ++c.completed;
        break;
      case rundir::RunState::kDiverged:
        ++c.diverged;
        break;
      case rundir::RunState::kCollapsed:
        ++c.collapsed;
        break;
      case rundir::RunState::kFailed:
        ++c.failed;
        break;
      case rundir::RunState::kCorrupt:
        ++c.corrupt;
        break;
    }
    if (details) details->emplace_back(&r, s);
  }
  return c;
}

SweepSummary run_sweep(const std::vector<RunSpec>& selected_in, const std::vector<RunSpec>& all_in,
                       const SchedulerOptions& options, const EventLog& log) {
  std::string error;
  if (!options.IsValid(&error)) throw std::invalid_argument(error);
  // Deques keep references stable while staged studies append runs.
  std::deque<RunSpec> selected(selected_in.begin(), selected_in.end());
  std::deque<RunSpec> all(all_in.begin(), all_in.end());
  std::map<std::string, const RunSpec*> by_id;
  for (const auto& r : all) by_id[r.id] = &r;
  std::set<std::string> known;  // ids of selected runs already considered
  for (const auto& r : selected) known.insert(r.id);

  SweepSummary sum;
  sum.selected = selected.size();
  std::vector<std::size_t> queue;     // indices into selected, in grid order
  std::set<std::string> pending_ids;  // selected runs this invocation will still run
  std::map<std::size_t, bool> fresh;  // index -> start from scratch
  auto consider = [&](std::size_t i) {
    const RunSpec& r = selected[i];
    const rundir::Inspection s = rundir::inspect_run(r.dir);
    bool run_it = false, scratch = false;
    switch (s.state) {
      case rundir::RunState::kCompleted:
        ++sum.already_done;
        break;
      case rundir::RunState::kDiverged:
      case rundir::RunState::kCollapsed:
        if (options.retry_diverged) {
          run_it = scratch = true;
        } else {
          ++(s.state == rundir::RunState::kDiverged ? sum.diverged : sum.collapsed);
        }
        break;
      case rundir::RunState::kFailed:
      case rundir::RunState::kCorrupt:
        if (options.retry_failed) {
          run_it = true;
          scratch = s.last_checkpoint.empty();
        } else {
          ++sum.failed;
          sum.problems.push_back(
              fmt::format("{}: {} ({})", r.id, rundir::to_string(s.state), s.reason));
          log(fmt::format("skip {}: {} ({}); --retry-failed retries it", r.id,
                          rundir::to_string(s.state), s.reason));
        }
        break;
      case rundir::RunState::kRunning:
        ++sum.running_elsewhere;
        log(fmt::format("skip {}: running in another process", r.id));
        break;
      case rundir::RunState::kInterrupted:
        run_it = true;
        scratch = s.last_checkpoint.empty();
        break;
      case rundir::RunState::kPending:
        run_it = true;
        scratch = true;
        break;
    }
    if (run_it) {
      queue.push_back(i);
      pending_ids.insert(r.id);
      fresh[i] = scratch;
    }
  };
  for (std::size_t i = 0; i < selected.size(); ++i) consider(i);
  // A staged study lists further runs once earlier ones have finished.
  auto refresh = [&]() {
    if (!options.refresh) return;
    const RunLists now = options.refresh();
    for (const auto& r : now.all) {
      if (by_id.count(r.id)) continue;
      all.push_back(r);
      by_id[r.id] = &all.back();
    }
    for (const auto& r : now.selected) {
      if (!known.insert(r.id).second) continue;
      selected.push_back(r);
      ++sum.selected;
      consider(selected.size() - 1);
    }
  };

  std::map<pid_t, Child> active;
  const auto poll = std::chrono::duration<double>(options.poll_seconds);
  const pid_t self = ::getpid();

  auto dependency = [&](const RunSpec& r, std::string* ckpt, std::string* why) {
    if (r.kind != RunKind::kFinetune) return Dep::kReady;
    auto it = by_id.find(r.depends_on);
    if (it == by_id.end()) {
      *why = "its pretraining run '" + r.depends_on + "' is not in the grid";
      return Dep::kBlocked;
    }
    if (pending_ids.count(r.depends_on)) return Dep::kWait;  // ours, not finished yet
    const rundir::Inspection d = rundir::inspect_run(it->second->dir);
    switch (d.state) {
      case rundir::RunState::kCompleted:
        if (d.last_checkpoint.empty()) {
          *why = "pretraining run '" + r.depends_on + "' completed without a checkpoint";
          return Dep::kBlocked;
        }
        *ckpt = d.last_checkpoint;
        return Dep::kReady;
      case rundir::RunState::kRunning:
        return Dep::kWait;
      default:
        *why = fmt::format(
            "pretraining run '{}' is {}{}", r.depends_on, rundir::to_string(d.state),
            d.state == rundir::RunState::kPending || d.state == rundir::RunState::kInterrupted
                ? " (run it first, e.g. with --only pretrain)"
                : "");
        return Dep::kBlocked;
    }
  };

  auto launch = [&](std::size_t i, const std::string& ckpt) -> bool {
    const RunSpec& r = selected[i];
    std::error_code ec;
    fs::create_directories(r.dir, ec);
    if (ec)
      throw std::runtime_error("cannot create run directory '" + r.dir + "': " + ec.message());
    const std::string lock_path = r.dir + "/.sweep.lock";
    const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0)
      throw std::runtime_error("cannot open '" + lock_path + "': " + std::strerror(errno));
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(lock_fd);
      return false;  // another process took it between inspection and launch
    }
    // Re-inspect under the lock: another sweep may have finished it meanwhile.
    bool scratch = fresh[i];
    {
      const rundir::Inspection now = rundir::inspect_run(r.dir);
      if (now.state == rundir::RunState::kCompleted) {
        ::close(lock_fd);
        pending_ids.erase(r.id);
        ++sum.already_done;
        return true;
      }
      if (!scratch && now.last_checkpoint.empty()) scratch = true;
    }
    if (scratch) clear_for_fresh_start(r.dir);
    const bool resume = !scratch;
    const auto args = trainer_argv(options.trainer, options.interface, r, ckpt, resume);
    nlohmann::json sj = {{"id", r.id}, {"kind", to_string(r.kind)}, {"argv", args}};
    rundir::write_file_atomic(r.dir + "/sweep.json", sj.dump(2) + "\n", /*durable=*/false);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const std::string log_path = r.dir + "/train.log";
    const pid_t pid = ::fork();
    if (pid < 0) {
      ::close(lock_fd);
      throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
    }
    if (pid == 0) {
      // Child: die with the sweep (its state is in the run directory), keep the lock across exec.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != self) ::_exit(126);
      ::fcntl(lock_fd, F_SETFD, 0);
      const int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      const int in = ::open("/dev/null", O_RDONLY);
      if (out >= 0) {
        ::dup2(out, 1);
        ::dup2(out, 2);
      }
      if (in >= 0) ::dup2(in, 0);
      ::execv(argv[0], argv.data());
      const char msg[] = "muft-sweep: cannot execute the trainer\n";
      (void)!::write(2, msg, sizeof(msg) - 1);
      ::_exit(127);
    }
    ::close(lock_fd);  // the child holds the lock now
    active[pid] = {i, resume};
    ++sum.launched;
    if (resume) ++sum.resumed;
    log(fmt::format("start {}{}", r.id, resume ? " (resume)" : ""));
    return true;
  };

  auto finish = [&](pid_t pid, int wstatus) {
    const Child c = active.at(pid);
    active.erase(pid);
    const RunSpec& r = selected[c.index];
    pending_ids.erase(r.id);
    rundir::Inspection s = rundir::inspect_run(r.dir);
    if (s.state != rundir::RunState::kCompleted && !rundir::is_unhealthy(s.state) &&
        s.state != rundir::RunState::kFailed && s.state != rundir::RunState::kCorrupt) {
      // The trainer ended without a final status: record why, so it is not lost.
      const std::string why = WIFSIGNALED(wstatus)
                                  ? fmt::format("trainer killed by signal {}", WTERMSIG(wstatus))
                                  : fmt::format(
                                        "trainer exited with code {} without a final "
                                        "status (see train.log)",
                                        WEXITSTATUS(wstatus));
      rundir::RunDir(r.dir).write_status(
          {rundir::RunStatus::kFailed, why, 0, {{"written_by", "muft-sweep"}}});
      s = rundir::inspect_run(r.dir);
    }
    switch (s.state) {
      case rundir::RunState::kCompleted:
        ++sum.completed;
        break;
      case rundir::RunState::kDiverged:
        ++sum.diverged;
        break;
      case rundir::RunState::kCollapsed:
        ++sum.collapsed;
        break;
      default:
        ++sum.failed;
        sum.problems.push_back(
            fmt::format("{}: {} ({})", r.id, rundir::to_string(s.state), s.reason));
        break;
    }
    log(fmt::format("{} {}{}", rundir::to_string(s.state), r.id,
                    s.reason.empty() ? "" : ": " + s.reason));
  };

  if (options.dry_run) {
    for (std::size_t i : queue)
      log(fmt::format("would run {}{}", selected[i].id, fresh[i] ? "" : " (resume)"));
    return sum;
  }

  while (!queue.empty() || !active.empty()) {
    // Reap every child that has ended.
    bool reaped = false;
    for (;;) {
      int wstatus = 0;
      const pid_t pid = ::waitpid(-1, &wstatus, WNOHANG);
      if (pid <= 0) break;
      if (active.count(pid)) {
        finish(pid, wstatus);
        reaped = true;
      }
    }
    if (reaped) refresh();
    // Launch what is ready, in grid order (each pretraining run inspected once per round).
    std::map<std::string, std::tuple<Dep, std::string, std::string>> dep_cache;
    for (auto it = queue.begin(); it != queue.end() && active.size() < options.jobs;) {
      const RunSpec& r = selected[*it];
      std::string ckpt, why;
      Dep d;
      if (auto c = dep_cache.find(r.depends_on); c != dep_cache.end() && !r.depends_on.empty()) {
        std::tie(d, ckpt, why) = c->second;
      } else {
        d = dependency(r, &ckpt, &why);
        if (!r.depends_on.empty()) dep_cache[r.depends_on] = {d, ckpt, why};
      }
      if (d == Dep::kWait) {
        ++it;
        continue;
      }
      const std::size_t i = *it;
      it = queue.erase(it);
      if (d == Dep::kBlocked) {
        pending_ids.erase(r.id);
        ++sum.blocked;
        sum.problems.push_back(r.id + ": blocked: " + why);
        log("blocked " + r.id + ": " + why);
        continue;
      }
      if (!launch(i, ckpt)) {
        pending_ids.erase(r.id);
        ++sum.running_elsewhere;
        log(fmt::format("skip {}: running in another process", r.id));
      }
    }
    if (!queue.empty() || !active.empty()) std::this_thread::sleep_for(poll);
  }
  return sum;
}

}  // namespace muft::sweep
