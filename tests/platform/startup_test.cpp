// Tests of startup.cpp: the summary line (pure), and start() end to end through
// reexec_probe, a small executable that links OpenBLAS and calls start() first.
#include "muft/platform/startup.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace muft::platform {
namespace {

CpuInfo avx512_cpu() {
  CpuInfo c;
  c.model_name = "Test Xeon @ 2.60GHz";
  c.flags = {"avx", "avx2", "avx512bw", "avx512cd", "avx512dq", "avx512f", "avx512vl", "fma"};
  return c;
}

std::string cpus() {
  return std::to_string(std::thread::hardware_concurrency());
}

TEST(SummaryLineTest, WhoSetTheCore) {
  BlasEnv env;
  EXPECT_EQ(summary_line("SkylakeX", 2, avx512_cpu(), env),
            "muft platform: openblas_core=SkylakeX set_by=openblas cpu_simd=avx512 "
            "openblas_threads=2 cpus=" +
                cpus() + " cpu=\"Test Xeon @ 2.60GHz\"");
  env.openblas_coretype = "Prescott";
  EXPECT_EQ(summary_line("Prescott", 1, avx512_cpu(), env),
            "muft platform: openblas_core=Prescott set_by=user cpu_simd=avx512 "
            "openblas_threads=1 cpus=" +
                cpus() + " cpu=\"Test Xeon @ 2.60GHz\"");
  env.openblas_coretype = "SkylakeX";
  env.reexeced_from = "Prescott";
  EXPECT_NE(summary_line("SkylakeX", 2, avx512_cpu(), env)
                .find("openblas_core=SkylakeX set_by=muft initial_core=Prescott cpu_simd="),
            std::string::npos);
  env.assume_corename = "Prescott";
  EXPECT_NE(summary_line("SkylakeX", 2, avx512_cpu(), env)
                .find("initial_core=Prescott(assumed) cpu_simd=avx512"),
            std::string::npos);
  EXPECT_EQ(summary_line("", 0, CpuInfo{}, BlasEnv{}),
            "muft platform: openblas_core=none cpu_simd=sse3 openblas_threads=0 cpus=" + cpus() +
                " cpu=\"unknown\"");
}

#ifdef MUFT_PLATFORM_PROBE
struct ProbeRun {
  int status = -1;
  std::string out;                 // stdout and stderr together
  int mains = 0;                   // how many times the probe's main() ran
  std::vector<std::string> lines;  // what the probe's sink received
  std::string result;              // the probe's stdout line
};

// Runs the probe with exactly the muft/OpenBLAS variables given (others removed).
ProbeRun run_probe(const std::string& vars) {
  const std::string cmd =
      "env -u OPENBLAS_CORETYPE -u MUFT_BLAS_REEXEC -u MUFT_BLAS_REEXECED "
      "-u MUFT_PLATFORM_ASSUME_CORENAME -u MUFT_PLATFORM_REPORT " +
      vars + " '" MUFT_PLATFORM_PROBE "' first 'second arg' 2>&1";
  ProbeRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), static_cast<int>(buf.size()), p) != nullptr) r.out += buf.data();
  r.status = pclose(p);
  size_t pos = 0;
  while (pos < r.out.size()) {
    size_t end = r.out.find('\n', pos);
    if (end == std::string::npos) end = r.out.size();
    const std::string line = r.out.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("probe main argc=3", 0) == 0) ++r.mains;
    if (line.rfind("LINE ", 0) == 0) r.lines.push_back(line.substr(5));
    if (line.rfind("core=", 0) == 0) r.result = line;
  }
  return r;
}

/// What OpenBLAS chooses on this machine with no variable set, asked of the probe itself.
std::string native_core() {
  const ProbeRun r = run_probe("MUFT_BLAS_REEXEC=0");
  const auto end = r.result.find(' ');
  return r.result.substr(5, end - 5);
}

SimdLevel machine_level() {
  return simd_level(read_cpu_info());
}

TEST(StartupProbeTest, ReexecutesOnceWithTheCoreOfTheCpu) {
  if (machine_level() == SimdLevel::kSse3) GTEST_SKIP() << "no kernels newer than Prescott here";
  const std::string want(core_for_level(machine_level()));
  const ProbeRun r = run_probe("MUFT_PLATFORM_ASSUME_CORENAME=Prescott");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.mains, 2) << r.out;  // the first run and the one re-exec
  ASSERT_EQ(r.lines.size(), 1u) << r.out;
  EXPECT_EQ(r.lines[0].rfind("reexec_probe: OpenBLAS chose its Prescott (sse3) kernels", 0), 0u)
      << r.lines[0];
  EXPECT_NE(r.lines[0].find("re-running with OPENBLAS_CORETYPE=" + want), std::string::npos);
  // OpenBLAS in the new process runs the asked-for kernels; the arguments came through.
  const std::string head = "core=" + want + " coretype=" + want + " marker=Prescott threads=";
  EXPECT_EQ(r.result.rfind(head, 0), 0u) << r.out;
  const std::string tail = " last_arg=second arg";
  ASSERT_GE(r.result.size(), tail.size());
  EXPECT_EQ(r.result.substr(r.result.size() - tail.size()), tail) << r.out;
}

TEST(StartupProbeTest, ForcedPrescottRunsPrescott) {
  const ProbeRun r = run_probe("OPENBLAS_CORETYPE=Prescott MUFT_PLATFORM_REPORT=1");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.mains, 1) << r.out;
  ASSERT_EQ(r.lines.size(), 1u) << r.out;  // only the summary
  EXPECT_EQ(r.lines[0].rfind("muft platform: openblas_core=Prescott set_by=user cpu_simd=", 0), 0u)
      << r.lines[0];
  EXPECT_EQ(r.result.rfind("core=Prescott coretype=Prescott marker=-", 0), 0u) << r.out;
}

TEST(StartupProbeTest, SwitchOffKeepsOpenBlasChoice) {
  const ProbeRun r = run_probe("MUFT_PLATFORM_ASSUME_CORENAME=Prescott MUFT_BLAS_REEXEC=0");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.mains, 1) << r.out;
  EXPECT_TRUE(r.lines.empty()) << r.out;
  EXPECT_EQ(r.result.rfind("core=" + native_core() + " coretype=- marker=-", 0), 0u) << r.out;
}

TEST(StartupProbeTest, MarkerStopsASecondReexec) {
  const ProbeRun r =
      run_probe("MUFT_PLATFORM_ASSUME_CORENAME=Prescott MUFT_BLAS_REEXECED=Prescott");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.mains, 1) << r.out;
  EXPECT_TRUE(r.lines.empty()) << r.out;
}

TEST(StartupProbeTest, ReportAfterReexecNamesBothCores) {
  if (machine_level() == SimdLevel::kSse3) GTEST_SKIP() << "no kernels newer than Prescott here";
  const std::string want(core_for_level(machine_level()));
  const ProbeRun r = run_probe("MUFT_PLATFORM_ASSUME_CORENAME=Prescott MUFT_PLATFORM_REPORT=1");
  EXPECT_EQ(r.mains, 2) << r.out;
  ASSERT_EQ(r.lines.size(), 2u) << r.out;  // the re-exec line, then the summary of the new run
  EXPECT_EQ(r.lines[1].rfind("muft platform: openblas_core=" + want +
                                 " set_by=muft initial_core=Prescott(assumed) cpu_simd=",
                             0),
            0u)
      << r.lines[1];
}

// With nothing set the probe does what the decision says for this machine's own OpenBLAS
// choice (on this project's machines: nothing; on one that falls back to Prescott: re-exec).
TEST(StartupProbeTest, NoVariablesFollowsTheDecision) {
  const std::string native = native_core();
  const BlasDecision d = decide_blas_core(native, read_cpu_info(), BlasEnv{});
  const ProbeRun r = run_probe("");
  EXPECT_EQ(r.status, 0) << r.out;
  const bool reexec = d.action == BlasDecision::Action::kReexec;
  EXPECT_EQ(r.mains, reexec ? 2 : 1) << r.out;
  EXPECT_EQ(r.lines.size(), reexec ? 1u : 0u) << r.out;
  std::cout << "OpenBLAS chose " << native << " here; decision: " << d.message << "\n";
}

TEST(StartupProbeTest, BadSwitchIsOneErrorLineAndFailure) {
  const ProbeRun r = run_probe("MUFT_BLAS_REEXEC=sometimes");
  EXPECT_NE(r.status, 0) << r.out;
  ASSERT_EQ(r.lines.size(), 1u) << r.out;
  EXPECT_EQ(r.lines[0],
            "reexec_probe: MUFT_BLAS_REEXEC='sometimes' is not a switch; expected 0 (off) or 1 "
            "(on)");
  EXPECT_TRUE(r.result.empty()) << r.out;
}
#endif

}  // namespace
}  // namespace muft::platform
