// Step-level benchmark of the default GPT, run explicitly by bench/train_bench.sh:
//   build/tests/train_gpt_bench_test --gtest_also_run_disabled_tests --gtest_filter='*StepBench*'
// It is DISABLED_ so that ctest never times anything. Environment (defaults in brackets):
//   MUFT_BENCH_STEPS [20] timed steps, MUFT_BENCH_WARMUP [3], MUFT_BENCH_BATCH [16],
//   MUFT_BENCH_THREADS [1] LibTorch intra-op threads, MUFT_BENCH_CASES
//   [full-adam,full-muon,full-muon-f32,lora-adam,lora-muon,lora-muon-f32].
// Prints one JSON object per case on stdout (prefix "BENCH "). Like every muft app it first applies
// muft::platform's BLAS core decision (re-executing itself once when OpenBLAS fell back to kernels
// older than the CPU); MUFT_PLATFORM_REPORT=1 prints the core it ran on to stderr.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <sstream>
#include <string>

#include "muft/platform/startup.h"
#include "muft/train/gpt.h"
#include "muft/train/lora.h"
#include "muft/train/optim.h"
#include "muft/train/param_groups.h"

namespace muft::train {
namespace {

int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoll(v) : fallback;
}

// CPU time of the whole process (all threads): robust when other jobs share the cores.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

std::string env_str(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : fallback;
}

TEST(GPTBench, DISABLED_StepBench) {
  ASSERT_TRUE(muft::platform::start(nullptr, [](const std::string& l) { std::cerr << l << "\n"; }));
  const int64_t steps = env_int("MUFT_BENCH_STEPS", 20);
  const int64_t warmup = env_int("MUFT_BENCH_WARMUP", 3);
  const int64_t batch = env_int("MUFT_BENCH_BATCH", 16);
  torch::set_num_threads(static_cast<int>(env_int("MUFT_BENCH_THREADS", 1)));
  std::stringstream cases(env_str(
      "MUFT_BENCH_CASES", "full-adam,full-muon,full-muon-f32,lora-adam,lora-muon,lora-muon-f32"));
  const GPTConfig cfg = tiny_config();
  std::string name;
  while (std::getline(cases, name, ',')) {
    const bool lora = name.rfind("lora-", 0) == 0;
    std::string opt_name = name.substr(name.find('-') + 1);
    const bool f32 = opt_name.size() > 4 && opt_name.substr(opt_name.size() - 4) == "-f32";
    if (f32) opt_name = opt_name.substr(0, opt_name.size() - 4);
    torch::manual_seed(0);
    GPT model(cfg);
    if (lora) apply_lora(*model, LoRAOptions{});
    ParamGroupOptions o;
    o.optimizer = parse_optimizer_choice(opt_name);
    o.model_dim = cfg.n_embd;
    o.muon.ns.bf16 = !f32;
    if (o.optimizer == OptimizerChoice::kAdamW) o.matrix_lr = 1e-3;
    Optimizer opt(build_param_groups(*model, o));
    auto x = torch::randint(0, cfg.vocab_size, {batch, cfg.sequence_len}, torch::kInt64);
    auto y = torch::randint(0, cfg.vocab_size, {batch, cfg.sequence_len}, torch::kInt64);
    double opt_seconds = 0;
    auto one_step = [&](bool timed) {
      opt.zero_grad();
      auto loss = model->loss(x, y);
      loss.backward();
      const double c0 = cpu_seconds();
      opt.step();
      if (timed) opt_seconds += cpu_seconds() - c0;
      return loss.item<double>();
    };
    for (int64_t s = 0; s < warmup; ++s) one_step(false);
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds();
    double loss = 0;
    for (int64_t s = 0; s < steps; ++s) loss = one_step(true);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = cpu_seconds() - c0;
    const double tokens = double(steps * batch * cfg.sequence_len);
    std::cout << "BENCH {\"impl\": \"muft\", \"case\": \"" << name
              << "\", \"threads\": " << torch::get_num_threads() << ", \"batch\": " << batch
              << ", \"seq\": " << cfg.sequence_len << ", \"steps\": " << steps
              << ", \"step_ms\": " << 1e3 * secs / double(steps)
              << ", \"optimizer_cpu_ms\": " << 1e3 * opt_seconds / double(steps)
              << ", \"tokens_per_s\": " << tokens / secs
              << ", \"cpu_step_ms\": " << 1e3 * cpu / double(steps)
              << ", \"cpu_tokens_per_s\": " << tokens / cpu << ", \"loss\": " << loss << "}"
              << std::endl;
    EXPECT_TRUE(std::isfinite(loss));
  }
}

}  // namespace
}  // namespace muft::train
