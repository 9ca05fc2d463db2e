#pragma once
/// \file startup.h
/// The one call every muft executable makes first in main(): read the machine, apply the BLAS
/// core decision (blas_core.h), and hand the app the lines it should print.

#include <functional>
#include <string>
#include <string_view>

#include "muft/platform/blas_core.h"
#include "muft/platform/cpu_features.h"

namespace muft::platform {

/// Receives each line the app should print on stderr (no trailing newline).
using MessageSink = std::function<void(const std::string& line)>;

/// MUFT_PLATFORM_REPORT=1 makes start() send the platform summary line to the sink.
inline constexpr const char* kReportVar = "MUFT_PLATFORM_REPORT";

/// The core OpenBLAS chose in this process (`openblas_get_corename`, looked up with dlsym in the
/// libraries already loaded, so nothing here links OpenBLAS); "" when OpenBLAS is not loaded.
std::string openblas_corename();

/// OpenBLAS's thread count (`openblas_get_num_threads`), 0 when OpenBLAS is not loaded.
int openblas_threads();

/// Caps OpenBLAS's thread pool at n (openblas_set_num_threads, looked up with dlsym) — a
/// process that runs n intra-op threads of its own (muft-train --threads) would otherwise also
/// start one busy-waiting BLAS thread per core. Returns false when the process has no OpenBLAS.
bool set_openblas_threads(int n);

/// One line describing the platform, for benchmarks and logs, of the form
/// `muft platform: openblas_core=SkylakeX set_by=muft initial_core=Prescott cpu_simd=avx512
/// openblas_threads=2 cpus=2 cpu="Intel(R) Xeon(R) ..."`. `set_by` is `openblas` (its own
/// choice), `user` (OPENBLAS_CORETYPE set outside muft) or `muft` (set by a re-exec, whose
/// `initial_core` follows, with "(assumed)" under MUFT_PLATFORM_ASSUME_CORENAME); openblas_core
/// is `none` without OpenBLAS.
std::string summary_line(std::string_view corename, int blas_threads, const CpuInfo& cpu,
                         const BlasEnv& env);

/// Call first in main(). Decides the BLAS core for this process; on kReexec sends the decision's
/// line to `sink`, sets OPENBLAS_CORETYPE and MUFT_BLAS_REEXECED and replaces the process with a
/// fresh run of the same executable (/proc/self/exe) and arguments, so it does not return. If
/// that exec fails, sends a line saying so, restores the environment and returns true (the run
/// goes on with the slower kernels). With MUFT_PLATFORM_REPORT=1 also sends summary_line().
/// `argv` is main's argv (nullptr: read /proc/self/cmdline, for a test binary with no main).
/// Returns false after sending an error line when a muft variable is invalid: exit non-zero.
bool start(char** argv, const MessageSink& sink);

}  // namespace muft::platform
