/// \file startup.cpp
/// Start-up of every muft executable: the BLAS core decision applied to this process (by
/// re-executing it), and the platform summary line.

#include "muft/platform/startup.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

namespace muft::platform {
namespace {

/// The program name for message prefixes: the last path component of argv[0], else "muft".
std::string program_name(const std::vector<std::string>& args) {
  if (args.empty() || args[0].empty()) return "muft";
  const auto slash = args[0].rfind('/');
  return slash == std::string::npos ? args[0] : args[0].substr(slash + 1);
}

/// This process's arguments from /proc/self/cmdline (NUL-separated); empty if unreadable.
std::vector<std::string> self_cmdline() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\0', pos);
    if (end == std::string::npos) end = text.size();
    args.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return args;
}

/// Replaces this process by /proc/self/exe with `args` and the decision's OPENBLAS_CORETYPE plus
/// the once-only marker. Returns only on failure: why, with the environment restored.
std::string reexec(std::vector<std::string> args, const BlasDecision& decision) {
  if (args.empty()) return "no command line to run again";
  std::vector<char*> exec_argv;
  for (std::string& a : args) exec_argv.push_back(a.data());
  exec_argv.push_back(nullptr);
  setenv(kCoretypeVar, decision.coretype.c_str(), 1);
  setenv(kMarkerVar, decision.initial_core.c_str(), 1);
  std::fflush(nullptr);  // what was written so far is neither lost nor written twice
  execv("/proc/self/exe", exec_argv.data());
  const int err = errno;
  unsetenv(kCoretypeVar);  // both were unset, or the decision would not have been kReexec
  unsetenv(kMarkerVar);
  return std::strerror(err);
}

}  // namespace

std::string openblas_corename() {
  using Fn = char* (*)();
  auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (fn == nullptr) return {};
  const char* name = fn();
  return name == nullptr ? std::string() : std::string(name);
}

int openblas_threads() {
  using Fn = int (*)();
  auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return fn == nullptr ? 0 : fn();
}

bool set_openblas_threads(int n) {
  using Fn = void (*)(int);
  auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (fn == nullptr || n < 1) return false;
  fn(n);
  return true;
}

std::string summary_line(std::string_view corename, int blas_threads, const CpuInfo& cpu,
                         const BlasEnv& env) {
  std::string line = "muft platform: openblas_core=";
  if (corename.empty()) {
    line += "none";
  } else {
    line += std::string(corename);
    if (env.openblas_coretype && env.reexeced_from) {
      line += " set_by=muft initial_core=" + *env.reexeced_from;
      if (env.assume_corename) line += "(assumed)";
    } else if (env.openblas_coretype) {
      line += " set_by=user";
    } else {
      line += " set_by=openblas";
    }
  }
  line += " cpu_simd=" + std::string(to_string(simd_level(cpu)));
  line += " openblas_threads=" + std::to_string(blas_threads);
  line += " cpus=" + std::to_string(std::thread::hardware_concurrency());
  line += " cpu=\"" + (cpu.model_name.empty() ? std::string("unknown") : cpu.model_name) + "\"";
  return line;
}

bool start(char** argv, const MessageSink& sink) {
  std::vector<std::string> args;
  if (argv != nullptr) {
    for (char** a = argv; *a != nullptr; ++a) args.emplace_back(*a);
  } else {
    args = self_cmdline();
  }
  const std::string prefix = program_name(args) + ": ";
  const BlasEnv env = BlasEnv::from_process();
  const CpuInfo cpu = read_cpu_info();
  const std::string core = openblas_corename();
  const BlasDecision decision = decide_blas_core(core, cpu, env);
  if (decision.action == BlasDecision::Action::kError) {
    sink(prefix + decision.message);
    return false;
  }
  if (decision.action == BlasDecision::Action::kReexec) {
    sink(prefix + decision.message);
    const std::string why = reexec(args, decision);  // returns only when the exec failed
    sink(prefix + "could not re-execute /proc/self/exe (" + why + "); continuing with the " +
         decision.initial_core + " kernels");
  }
  const char* report = std::getenv(kReportVar);
  if (report != nullptr && std::strcmp(report, "1") == 0) {
    sink(summary_line(core, openblas_threads(), cpu, BlasEnv::from_process()));
  }
  return true;
}

}  // namespace muft::platform
