#pragma once
/// \file cpu_features.h
/// What the CPU offers: its model name, its feature flags (Linux /proc/cpuinfo names) and the
/// widest SIMD level among those OpenBLAS has x86-64 kernels for.

#include <string>
#include <string_view>
#include <vector>

namespace muft::platform {

/// SIMD levels of OpenBLAS's x86-64 kernel families, oldest first (comparisons follow the order).
enum class SimdLevel {
  kSse3 = 0,   ///< SSE3 only: OpenBLAS's generic x86-64 kernels (Prescott)
  kAvx = 1,    ///< AVX (Sandybridge kernels)
  kAvx2 = 2,   ///< AVX2 + FMA3 (Haswell kernels)
  kAvx512 = 3  ///< AVX-512 F/CD/BW/DQ/VL (SkylakeX kernels)
};

/// "sse3", "avx", "avx2", "avx512".
const char* to_string(SimdLevel level);

/// The CPU as the kernel reports it.
struct CpuInfo {
  std::string model_name;          ///< "model name" of the first processor ("" if none)
  std::vector<std::string> flags;  ///< the first processor's flags, sorted, unique

  /// Whether `flag` (a /proc/cpuinfo name such as "avx512f") is among `flags`.
  bool has(std::string_view flag) const;
};

/// Parses the text of /proc/cpuinfo: the "model name" and "flags" lines of the first processor
/// block. Text without them gives an empty CpuInfo (no flags: level kSse3).
CpuInfo parse_cpuinfo(std::string_view text);

/// Reads /proc/cpuinfo (an empty CpuInfo where it cannot be read). On x86 every SIMD flag that
/// the compiler's own CPU check (`__builtin_cpu_supports`, which also asks the OS through
/// XGETBV) denies is dropped, so that a level is never claimed that would fault.
CpuInfo read_cpu_info();

/// The widest level whose flags, and those of every lower level, are all present:
/// kAvx needs avx; kAvx2 adds avx2 and fma; kAvx512 adds avx512f, avx512cd, avx512bw, avx512dq
/// and avx512vl (Xeon Phi's AVX-512 lacks BW/DQ/VL and counts as kAvx2).
SimdLevel simd_level(const CpuInfo& cpu);

}  // namespace muft::platform
