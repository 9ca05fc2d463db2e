/// \file blas_core.cpp
/// The OpenBLAS core-selection decision: a pure function of the chosen core name, the CPU's
/// flags and the environment.

#include "muft/platform/blas_core.h"

#include <array>
#include <cctype>
#include <cstdlib>
#include <utility>

namespace muft::platform {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

/// Every x86-64 core name of OpenBLAS's DYNAMIC_ARCH builds (driver/others/dynamic.c), with
/// the SIMD level of its kernels. The 32-bit-era and pre-AVX names all run SSE-level kernels.
constexpr std::array<std::pair<std::string_view, SimdLevel>, 27> kCores{{
    {"Unknown", SimdLevel::kSse3},
    {"Katmai", SimdLevel::kSse3},
    {"Coppermine", SimdLevel::kSse3},
    {"Northwood", SimdLevel::kSse3},
    {"Prescott", SimdLevel::kSse3},
    {"Banias", SimdLevel::kSse3},
    {"Atom", SimdLevel::kSse3},
    {"Core2", SimdLevel::kSse3},
    {"Penryn", SimdLevel::kSse3},
    {"Dunnington", SimdLevel::kSse3},
    {"Nehalem", SimdLevel::kSse3},
    {"Athlon", SimdLevel::kSse3},
    {"Opteron", SimdLevel::kSse3},
    {"Opteron_SSE3", SimdLevel::kSse3},
    {"Barcelona", SimdLevel::kSse3},
    {"Nano", SimdLevel::kSse3},
    {"Bobcat", SimdLevel::kSse3},
    {"Sandybridge", SimdLevel::kAvx},
    {"Bulldozer", SimdLevel::kAvx},
    {"Piledriver", SimdLevel::kAvx},
    {"Steamroller", SimdLevel::kAvx},
    {"Haswell", SimdLevel::kAvx2},
    {"Zen", SimdLevel::kAvx2},
    {"Excavator", SimdLevel::kAvx2},
    {"SkylakeX", SimdLevel::kAvx512},
    {"Cooperlake", SimdLevel::kAvx512},
    {"SapphireRapids", SimdLevel::kAvx512},
}};

std::optional<std::string> getenv_opt(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

/// MUFT_BLAS_REEXEC: true (on), false (off) or nullopt for a value it cannot take.
std::optional<bool> parse_switch(const std::optional<std::string>& value) {
  if (!value) return true;
  for (const char* on : {"1", "on", "true", "yes"}) {
    if (iequals(*value, on)) return true;
  }
  for (const char* off : {"0", "off", "false", "no"}) {
    if (iequals(*value, off)) return false;
  }
  return std::nullopt;
}

BlasDecision keep(std::string message) {
  return {BlasDecision::Action::kKeep, "", "", std::move(message)};
}

BlasDecision error(std::string message) {
  return {BlasDecision::Action::kError, "", "", std::move(message)};
}

}  // namespace

std::optional<SimdLevel> core_level(std::string_view corename) {
  for (const auto& [name, level] : kCores) {
    if (iequals(name, corename)) return level;
  }
  return std::nullopt;
}

std::string_view core_for_level(SimdLevel level) {
  switch (level) {
    case SimdLevel::kSse3:
      return "Prescott";
    case SimdLevel::kAvx:
      return "Sandybridge";
    case SimdLevel::kAvx2:
      return "Haswell";
    case SimdLevel::kAvx512:
      return "SkylakeX";
  }
  return "Prescott";
}

BlasEnv BlasEnv::from_process() {
  BlasEnv env;
  env.openblas_coretype = getenv_opt(kCoretypeVar);
  env.reexec = getenv_opt(kReexecVar);
  env.reexeced_from = getenv_opt(kMarkerVar);
  env.assume_corename = getenv_opt(kAssumeVar);
  return env;
}

BlasDecision decide_blas_core(std::string_view corename, const CpuInfo& cpu, const BlasEnv& env) {
  const std::optional<bool> enabled = parse_switch(env.reexec);
  if (!enabled) {
    return error(std::string(kReexecVar) + "='" + *env.reexec +
                 "' is not a switch; expected 0 (off) or 1 (on)");
  }
  if (env.assume_corename && !core_level(*env.assume_corename)) {
    return error(std::string(kAssumeVar) + "='" + *env.assume_corename +
                 "' is not an x86-64 OpenBLAS core name (e.g. Prescott, Haswell, SkylakeX)");
  }
  if (corename.empty()) return keep("OpenBLAS is not loaded in this process");
  if (env.openblas_coretype) {
    return keep(std::string(kCoretypeVar) + "=" + *env.openblas_coretype + " is set" +
                (env.reexeced_from ? " (by muft)" : " (by the user)") + "; left as it is");
  }
  if (env.reexeced_from) {
    return keep("already re-executed once (" + std::string(kMarkerVar) + " is set)");
  }
  if (!*enabled) return keep("re-execution turned off by " + std::string(kReexecVar));

  const std::string chosen = env.assume_corename ? *env.assume_corename : std::string(corename);
  const std::string how =
      env.assume_corename ? " (assumed through " + std::string(kAssumeVar) + ")" : std::string();
  const std::optional<SimdLevel> level = core_level(chosen);
  if (!level) return keep("OpenBLAS core '" + chosen + "' is not one muft knows; left as it is");
  const SimdLevel cpu_level = simd_level(cpu);
  if (*level >= cpu_level) {
    return keep("OpenBLAS core " + chosen + how + " (" + to_string(*level) + ") fits the CPU (" +
                to_string(cpu_level) + ")");
  }
  BlasDecision d;
  d.action = BlasDecision::Action::kReexec;
  d.coretype = std::string(core_for_level(cpu_level));
  d.initial_core = chosen;
  d.message = "OpenBLAS chose its " + chosen + " (" + to_string(*level) + ") kernels" + how +
              " on a CPU with " + to_string(cpu_level) + "; re-running with " + kCoretypeVar + "=" +
              d.coretype + " (" + kReexecVar + "=0 turns this off)";
  return d;
}

}  // namespace muft::platform
