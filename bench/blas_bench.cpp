// dgemm speed as muft's apps get it: muft::platform::start() first (so a machine whose OpenBLAS
// fell back to old kernels re-runs this with the CPU's), then C = A B for n x n doubles.
// Usage: blas_bench [N (default 2048)] [REPEATS (default 5)]. Prints one line
// "BENCH {json}" on stdout with the best of the repeats; MUFT_PLATFORM_REPORT=1 adds the
// platform line on stderr. Run by bench/blas_bench.sh next to numpy's dgemm.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "muft/platform/startup.h"

// CPU time of the whole process (all threads): on a shared machine steadier than wall time.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

int main(int argc, char** argv) {
  if (!muft::platform::start(
          argv, [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }))
    return 1;
  const long n = argc > 1 ? std::atol(argv[1]) : 2048;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  if (n < 1 || n > 20000 || repeats < 1) {
    std::fprintf(stderr, "blas_bench: N must be in [1, 20000] and REPEATS >= 1\n");
    return 2;
  }
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;
  std::vector<double> a(n * n), b(n * n), c(n * n);
  for (double& x : a) x = normal(rng);
  for (double& x : b) x = normal(rng);
  const int ni = static_cast<int>(n);
  double best = 1e300, best_cpu = 1e300;
  for (int r = 0; r <= repeats; ++r) {  // r = 0 warms up (thread pool, pages)
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds();
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, ni, ni, ni, 1.0, a.data(), ni, b.data(),
                ni, 0.0, c.data(), ni);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) best = std::min(best, s);
    if (r > 0) best_cpu = std::min(best_cpu, cpu_seconds() - c0);
  }
  // c[0] = sum_k a[k n] b[k]: a spot check that the product was computed.
  double c00 = 0;
  for (long k = 0; k < n; ++k) c00 += a[k * n] * b[k];
  std::printf(
      "BENCH {\"impl\": \"muft\", \"n\": %ld, \"seconds\": %.6f, \"gflops\": %.3f, "
      "\"cpu_seconds\": %.6f, \"gflops_per_cpu_s\": %.3f, \"openblas_core\": \"%s\", "
      "\"threads\": %d, \"c00_error\": %.3e}\n",
      n, best, 2.0 * double(n) * double(n) * double(n) / best * 1e-9, best_cpu,
      2.0 * double(n) * double(n) * double(n) / best_cpu * 1e-9,
      muft::platform::openblas_corename().c_str(), muft::platform::openblas_threads(),
      std::abs(c[0] - c00));
  return 0;
}
