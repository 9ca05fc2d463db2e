#pragma once
/// \file blas_core.h
/// The pure decision behind muft's start-up: given the core OpenBLAS chose, the CPU's flags and
/// the environment, should the process re-execute itself with OPENBLAS_CORETYPE set?
///
/// Why: OpenBLAS picks its kernels by CPU model. A build that predates a CPU model (Debian 12's
/// 0.3.21 on some current Xeons) falls back to its oldest x86-64 kernels (Prescott, SSE3), which
/// run dgemm about 6x slower than the AVX-512 ones. OpenBLAS reads OPENBLAS_CORETYPE once, when
/// it is loaded, so the only way to change the choice of a running process is to start it again.

#include <optional>
#include <string>
#include <string_view>

#include "muft/platform/cpu_features.h"

namespace muft::platform {

/// The SIMD level of an OpenBLAS x86-64 core name as `openblas_get_corename()` returns it or
/// OPENBLAS_CORETYPE accepts it (case-insensitive): e.g. Prescott, Nehalem, Core2 -> kSse3;
/// Sandybridge, Piledriver -> kAvx; Haswell, Zen, Excavator -> kAvx2; SkylakeX, Cooperlake,
/// SapphireRapids -> kAvx512. std::nullopt for a name muft does not know (other architectures,
/// newer OpenBLAS releases).
std::optional<SimdLevel> core_level(std::string_view corename);

/// The core type to ask for to get `level`'s kernels: Prescott, Sandybridge, Haswell, SkylakeX.
std::string_view core_for_level(SimdLevel level);

/// Environment variables the decision reads (std::nullopt when unset; an empty value counts as
/// unset, as OpenBLAS itself ignores an empty OPENBLAS_CORETYPE).
struct BlasEnv {
  /// OPENBLAS_CORETYPE: set by the user (or by an earlier muft re-exec); always respected.
  std::optional<std::string> openblas_coretype;
  /// MUFT_BLAS_REEXEC: 0/off/false/no turns the re-exec off, 1/on/true/yes (or unset) keeps it.
  std::optional<std::string> reexec;
  /// MUFT_BLAS_REEXECED: set by muft when it re-executes, to the core OpenBLAS had chosen;
  /// a process that sees it never re-executes again.
  std::optional<std::string> reexeced_from;
  /// MUFT_PLATFORM_ASSUME_CORENAME: test knob; the decision believes OpenBLAS chose this core
  /// (to show the re-exec on a machine whose OpenBLAS recognizes its CPU).
  std::optional<std::string> assume_corename;

  /// Reads the four variables from this process's environment.
  static BlasEnv from_process();
};

/// Names of the variables in BlasEnv (also used by the re-exec and the docs).
inline constexpr const char* kCoretypeVar = "OPENBLAS_CORETYPE";
inline constexpr const char* kReexecVar = "MUFT_BLAS_REEXEC";
inline constexpr const char* kMarkerVar = "MUFT_BLAS_REEXECED";
inline constexpr const char* kAssumeVar = "MUFT_PLATFORM_ASSUME_CORENAME";

/// What start-up does about the BLAS kernels.
struct BlasDecision {
  enum class Action {
    kKeep,    ///< run as is (`message` says why, for the platform summary)
    kReexec,  ///< re-execute once with OPENBLAS_CORETYPE = `coretype`; `message` is the line to
              ///< print
    kError    ///< a muft variable holds a value it cannot take; `message` is the error line
  };
  Action action = Action::kKeep;
  std::string coretype;      ///< kReexec: the OPENBLAS_CORETYPE value
  std::string initial_core;  ///< kReexec: the core OpenBLAS chose (or the assumed one)
  std::string message;       ///< one line, no trailing newline
};

/// Decides, in this order: a bad MUFT_BLAS_REEXEC or MUFT_PLATFORM_ASSUME_CORENAME value is an
/// error; no OpenBLAS in the process (`corename` empty), a user's OPENBLAS_CORETYPE, an earlier
/// re-exec, MUFT_BLAS_REEXEC=0, or a core name muft does not know keep things as they are;
/// otherwise re-execute when the chosen core's level (or the assumed one's) is below the CPU's
/// `simd_level`, asking for `core_for_level` of the CPU's level.
BlasDecision decide_blas_core(std::string_view corename, const CpuInfo& cpu, const BlasEnv& env);

}  // namespace muft::platform
