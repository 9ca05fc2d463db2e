/// \file cpu_features.cpp
/// CPU model and flags from /proc/cpuinfo, and the SIMD level they support.

#include "muft/platform/cpu_features.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>
#include <string>

namespace muft::platform {
namespace {

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

/// Flags each level adds on top of the level below it.
struct LevelFlags {
  SimdLevel level;
  std::vector<std::string_view> flags;
};

const std::array<LevelFlags, 3>& level_table() {
  static const std::array<LevelFlags, 3> table{{
      {SimdLevel::kAvx, {"avx"}},
      {SimdLevel::kAvx2, {"avx2", "fma"}},
      {SimdLevel::kAvx512, {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}},
  }};
  return table;
}

#if defined(__x86_64__) || defined(__i386__)
/// Whether the compiler runtime (CPUID plus the OS's XGETBV state mask) agrees that `flag` can
/// be used; flags it is not asked about are kept. __builtin_cpu_supports needs literal names.
bool usable(std::string_view flag) {
  __builtin_cpu_init();
  if (flag == "avx") return __builtin_cpu_supports("avx");
  if (flag == "avx2") return __builtin_cpu_supports("avx2");
  if (flag == "fma") return __builtin_cpu_supports("fma");
  if (flag == "avx512f") return __builtin_cpu_supports("avx512f");
  if (flag == "avx512cd") return __builtin_cpu_supports("avx512cd");
  if (flag == "avx512bw") return __builtin_cpu_supports("avx512bw");
  if (flag == "avx512dq") return __builtin_cpu_supports("avx512dq");
  if (flag == "avx512vl") return __builtin_cpu_supports("avx512vl");
  return true;
}
#endif

}  // namespace

const char* to_string(SimdLevel level) {
  switch (level) {
    case SimdLevel::kSse3:
      return "sse3";
    case SimdLevel::kAvx:
      return "avx";
    case SimdLevel::kAvx2:
      return "avx2";
    case SimdLevel::kAvx512:
      return "avx512";
  }
  return "sse3";
}

bool CpuInfo::has(std::string_view flag) const {
  return std::binary_search(flags.begin(), flags.end(), flag);
}

CpuInfo parse_cpuinfo(std::string_view text) {
  CpuInfo cpu;
  bool have_model = false, have_flags = false;
  size_t pos = 0;
  while (pos < text.size() && !(have_model && have_flags)) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (trim(line).empty() && (have_model || have_flags)) break;  // end of the first processor
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (key == "model name" && !have_model) {
      cpu.model_name = std::string(value);
      have_model = true;
    } else if (key == "flags" && !have_flags) {
      std::istringstream words{std::string(value)};
      for (std::string w; words >> w;) cpu.flags.push_back(w);
      have_flags = true;
    }
  }
  std::sort(cpu.flags.begin(), cpu.flags.end());
  cpu.flags.erase(std::unique(cpu.flags.begin(), cpu.flags.end()), cpu.flags.end());
  return cpu;
}

CpuInfo read_cpu_info() {
  std::ifstream in("/proc/cpuinfo");
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  CpuInfo cpu = parse_cpuinfo(text.str());
#if defined(__x86_64__) || defined(__i386__)
  cpu.flags.erase(std::remove_if(cpu.flags.begin(), cpu.flags.end(),
                                 [](const std::string& f) { return !usable(f); }),
                  cpu.flags.end());
#endif
  return cpu;
}

SimdLevel simd_level(const CpuInfo& cpu) {
  SimdLevel level = SimdLevel::kSse3;
  for (const LevelFlags& step : level_table()) {
    for (std::string_view f : step.flags) {
      if (!cpu.has(f)) return level;
    }
    level = step.level;
  }
  return level;
}

}  // namespace muft::platform
