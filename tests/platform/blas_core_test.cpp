// Tests of blas_core.cpp: the re-exec decision as a table over core name x CPU flags x
// environment, plus the core-name table itself.
#include "muft/platform/blas_core.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace muft::platform {
namespace {

using Action = BlasDecision::Action;

CpuInfo cpu(std::vector<std::string> flags) {
  CpuInfo c;
  c.model_name = "test CPU";
  c.flags = std::move(flags);
  std::sort(c.flags.begin(), c.flags.end());
  return c;
}

// /proc/cpuinfo flag sets of four kinds of machine (only the flags that matter, plus SSE ones).
const CpuInfo kSseCpu = cpu({"sse", "sse2", "pni", "ssse3", "sse4_1", "sse4_2"});
const CpuInfo kAvxCpu = cpu({"sse", "sse2", "pni", "ssse3", "sse4_2", "avx"});
const CpuInfo kAvx2Cpu = cpu({"sse", "sse2", "pni", "ssse3", "sse4_2", "avx", "avx2", "fma"});
const CpuInfo kAvx512Cpu =
    cpu({"sse", "sse2", "pni", "ssse3", "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512cd",
         "avx512bw", "avx512dq", "avx512vl", "avx512_bf16", "amx_tile"});
const CpuInfo kKnightsLanding = cpu({"sse", "sse2", "pni", "ssse3", "sse4_2", "avx", "avx2", "fma",
                                     "avx512f", "avx512cd", "avx512er", "avx512pf"});

BlasEnv env_of(std::optional<std::string> coretype, std::optional<std::string> reexec = {},
               std::optional<std::string> marker = {}, std::optional<std::string> assume = {}) {
  BlasEnv e;
  e.openblas_coretype = std::move(coretype);
  e.reexec = std::move(reexec);
  e.reexeced_from = std::move(marker);
  e.assume_corename = std::move(assume);
  return e;
}

struct Case {
  const char* name;
  const char* corename;  // what openblas_get_corename() returned ("" = no OpenBLAS)
  CpuInfo cpu;
  BlasEnv env;
  Action action;
  const char* coretype;  // expected OPENBLAS_CORETYPE on kReexec
  const char* message;   // a piece the message must contain
};

// Test names in ctest show the case's name, not its bytes.
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

class DecideTest : public ::testing::TestWithParam<Case> {};

TEST_P(DecideTest, ActionCoretypeAndMessage) {
  const Case& c = GetParam();
  const BlasDecision d = decide_blas_core(c.corename, c.cpu, c.env);
  EXPECT_EQ(static_cast<int>(d.action), static_cast<int>(c.action)) << d.message;
  EXPECT_EQ(d.coretype, c.coretype);
  EXPECT_NE(d.message.find(c.message), std::string::npos) << "message: " << d.message;
  EXPECT_EQ(d.message.find('\n'), std::string::npos) << "one line";
  if (d.action == Action::kReexec) {
    EXPECT_FALSE(d.initial_core.empty());
  }
}

const BlasEnv kNoEnv{};

INSTANTIATE_TEST_SUITE_P(
    Table, DecideTest,
    ::testing::Values(
        // The fallback this exists for: Prescott on current CPUs.
        Case{"PrescottOnAvx512", "Prescott", kAvx512Cpu, kNoEnv, Action::kReexec, "SkylakeX",
             "re-running with OPENBLAS_CORETYPE=SkylakeX (MUFT_BLAS_REEXEC=0 turns this off)"},
        Case{"PrescottOnAvx2", "Prescott", kAvx2Cpu, kNoEnv, Action::kReexec, "Haswell",
             "Prescott (sse3) kernels on a CPU with avx2"},
        Case{"PrescottOnAvx", "Prescott", kAvxCpu, kNoEnv, Action::kReexec, "Sandybridge",
             "OPENBLAS_CORETYPE=Sandybridge"},
        Case{"NehalemOnAvx512", "Nehalem", kAvx512Cpu, kNoEnv, Action::kReexec, "SkylakeX",
             "Nehalem"},
        Case{"HaswellOnAvx512", "Haswell", kAvx512Cpu, kNoEnv, Action::kReexec, "SkylakeX",
             "Haswell (avx2)"},
        Case{"PrescottOnKnightsLanding", "Prescott", kKnightsLanding, kNoEnv, Action::kReexec,
             "Haswell", "avx2"},
        // OpenBLAS's choice already fits, or nothing better exists.
        Case{"SkylakeXOnAvx512", "SkylakeX", kAvx512Cpu, kNoEnv, Action::kKeep, "", "fits the CPU"},
        Case{"CooperlakeOnAvx512", "Cooperlake", kAvx512Cpu, kNoEnv, Action::kKeep, "", "fits"},
        Case{"ZenOnAvx2", "Zen", kAvx2Cpu, kNoEnv, Action::kKeep, "", "fits"},
        Case{"PrescottOnSseOnly", "Prescott", kSseCpu, kNoEnv, Action::kKeep, "",
             "Prescott (sse3) fits the CPU (sse3)"},
        Case{"SkylakeXOnAvx2", "SkylakeX", kAvx2Cpu, kNoEnv, Action::kKeep, "", "fits"},
        Case{"NoOpenBlas", "", kAvx512Cpu, kNoEnv, Action::kKeep, "", "not loaded"},
        Case{"UnknownCoreName", "NeoverseN1", kAvx512Cpu, kNoEnv, Action::kKeep, "",
             "'NeoverseN1' is not one muft knows"},
        // The environment: the user's choice, the switch, the once-only marker.
        Case{"UserCoretype", "Prescott", kAvx512Cpu, env_of("Prescott"), Action::kKeep, "",
             "OPENBLAS_CORETYPE=Prescott is set (by the user)"},
        Case{"CoretypeSetByMuft", "SkylakeX", kAvx512Cpu, env_of("SkylakeX", {}, "Prescott"),
             Action::kKeep, "", "(by muft)"},
        Case{"SwitchedOff", "Prescott", kAvx512Cpu, env_of({}, "0"), Action::kKeep, "",
             "turned off by MUFT_BLAS_REEXEC"},
        Case{"SwitchedOffWord", "Prescott", kAvx512Cpu, env_of({}, "Off"), Action::kKeep, "",
             "turned off"},
        Case{"SwitchedOn", "Prescott", kAvx512Cpu, env_of({}, "1"), Action::kReexec, "SkylakeX",
             "re-running"},
        Case{"MarkerWithoutCoretypeNeverLoops", "Prescott", kAvx512Cpu, env_of({}, {}, "Prescott"),
             Action::kKeep, "", "already re-executed once"},
        Case{"BadSwitch", "SkylakeX", kAvx512Cpu, env_of({}, "maybe"), Action::kError, "",
             "MUFT_BLAS_REEXEC='maybe' is not a switch"},
        Case{"BadSwitchWithoutOpenBlas", "", kSseCpu, env_of({}, "2"), Action::kError, "",
             "MUFT_BLAS_REEXEC='2'"},
        // The test knob: believe OpenBLAS chose the assumed core.
        Case{"AssumePrescott", "SkylakeX", kAvx512Cpu, env_of({}, {}, {}, "Prescott"),
             Action::kReexec, "SkylakeX", "(assumed through MUFT_PLATFORM_ASSUME_CORENAME)"},
        Case{"AssumeIsCaseInsensitive", "SkylakeX", kAvx2Cpu, env_of({}, {}, {}, "prescott"),
             Action::kReexec, "Haswell", "prescott (sse3)"},
        Case{"AssumeSkylakeXOnPrescott", "Prescott", kAvx512Cpu, env_of({}, {}, {}, "SkylakeX"),
             Action::kKeep, "", "fits"},
        Case{"AssumeWithoutOpenBlas", "", kAvx512Cpu, env_of({}, {}, {}, "Prescott"), Action::kKeep,
             "", "not loaded"},
        Case{"AssumeWithUserCoretype", "Prescott", kAvx512Cpu,
             env_of("Prescott", {}, {}, "Prescott"), Action::kKeep, "", "by the user"},
        Case{"AssumeUnknownName", "SkylakeX", kAvx512Cpu, env_of({}, {}, {}, "Pentium4"),
             Action::kError, "", "MUFT_PLATFORM_ASSUME_CORENAME='Pentium4' is not"}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

// Every core name against every CPU level with no variables set: re-exec exactly when the
// core's level is below the CPU's, to the CPU's own level's core.
TEST(DecideTest, EveryCoreOnEveryCpu) {
  const std::vector<std::pair<const char*, int>> cores = {
      {"Prescott", 0},   {"Core2", 0},      {"Nehalem", 0},       {"Atom", 0},
      {"Barcelona", 0},  {"Unknown", 0},    {"Sandybridge", 1},   {"Bulldozer", 1},
      {"Piledriver", 1}, {"Haswell", 2},    {"Zen", 2},           {"Excavator", 2},
      {"SkylakeX", 3},   {"Cooperlake", 3}, {"SapphireRapids", 3}};
  const std::vector<std::pair<CpuInfo, const char*>> cpus = {{kSseCpu, "Prescott"},
                                                             {kAvxCpu, "Sandybridge"},
                                                             {kAvx2Cpu, "Haswell"},
                                                             {kAvx512Cpu, "SkylakeX"}};
  int reexecs = 0;
  for (const auto& [core, core_lvl] : cores) {
    for (size_t cpu_lvl = 0; cpu_lvl < cpus.size(); ++cpu_lvl) {
      const BlasDecision d = decide_blas_core(core, cpus[cpu_lvl].first, kNoEnv);
      const bool want = core_lvl < static_cast<int>(cpu_lvl);
      EXPECT_EQ(d.action == Action::kReexec, want) << core << " on level " << cpu_lvl;
      if (want) {
        EXPECT_EQ(d.coretype, cpus[cpu_lvl].second) << core;
        EXPECT_EQ(d.initial_core, core);
        ++reexecs;
      }
    }
  }
  // 6 SSE cores x 3 better CPUs + 3 AVX cores x 2 + 3 AVX2 cores x 1.
  EXPECT_EQ(reexecs, 6 * 3 + 3 * 2 + 3 * 1);
}

TEST(CoreLevelTest, NamesAndLevels) {
  EXPECT_EQ(core_level("Prescott"), SimdLevel::kSse3);
  EXPECT_EQ(core_level("PRESCOTT"), SimdLevel::kSse3);
  EXPECT_EQ(core_level("Opteron_SSE3"), SimdLevel::kSse3);
  EXPECT_EQ(core_level("Steamroller"), SimdLevel::kAvx);
  EXPECT_EQ(core_level("Zen"), SimdLevel::kAvx2);
  EXPECT_EQ(core_level("SapphireRapids"), SimdLevel::kAvx512);
  EXPECT_EQ(core_level("skylakex"), SimdLevel::kAvx512);
  EXPECT_EQ(core_level(""), std::nullopt);
  EXPECT_EQ(core_level("Skylake"), std::nullopt);  // whole names only
  EXPECT_EQ(core_level("armv8"), std::nullopt);
  for (SimdLevel l : {SimdLevel::kSse3, SimdLevel::kAvx, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    EXPECT_EQ(core_level(core_for_level(l)), l) << to_string(l);
  }
  EXPECT_EQ(core_for_level(SimdLevel::kAvx512), "SkylakeX");
  EXPECT_EQ(core_for_level(SimdLevel::kAvx2), "Haswell");
}

}  // namespace
}  // namespace muft::platform
