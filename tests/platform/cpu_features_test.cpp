// Tests of cpu_features.cpp: /proc/cpuinfo parsing and the SIMD level of a flag set.
#include "muft/platform/cpu_features.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace muft::platform {
namespace {

// Two processor blocks as the Linux kernel writes them (trimmed); the second has fewer flags,
// so a parser that reads past the first block gives a different answer.
constexpr const char* kTwoProcessors =
    "processor\t: 0\n"
    "vendor_id\t: GenuineIntel\n"
    "model name\t: Intel(R) Xeon(R) Processor @ 2.60GHz\n"
    "flags\t\t: fpu sse sse2 pni ssse3 fma sse4_2 avx avx2 avx512f avx512dq avx512cd avx512bw "
    "avx512vl avx512_vnni avx\n"
    "bogomips\t: 5200.00\n"
    "\n"
    "processor\t: 1\n"
    "model name\t: Some Other CPU\n"
    "flags\t\t: fpu sse sse2\n"
    "\n";

CpuInfo with_flags(std::initializer_list<const char*> flags) {
  std::string text = "model name\t: test\nflags\t\t:";
  for (const char* f : flags) text += std::string(" ") + f;
  return parse_cpuinfo(text + "\n");
}

TEST(CpuInfoTest, FirstProcessorModelAndSortedUniqueFlags) {
  const CpuInfo cpu = parse_cpuinfo(kTwoProcessors);
  EXPECT_EQ(cpu.model_name, "Intel(R) Xeon(R) Processor @ 2.60GHz");
  // 16 words on the flags line, "avx" twice.
  ASSERT_EQ(cpu.flags.size(), 15u);
  EXPECT_EQ(cpu.flags.front(), "avx");
  EXPECT_EQ(cpu.flags.back(), "ssse3");
  EXPECT_TRUE(cpu.has("avx512vl"));
  EXPECT_TRUE(cpu.has("pni"));
  EXPECT_FALSE(cpu.has("avx512"));  // whole names only
  EXPECT_FALSE(cpu.has("amx_tile"));
  EXPECT_EQ(simd_level(cpu), SimdLevel::kAvx512);
}

TEST(CpuInfoTest, TextWithoutFlagsGivesNothing) {
  EXPECT_TRUE(parse_cpuinfo("").flags.empty());
  EXPECT_EQ(parse_cpuinfo("").model_name, "");
  // aarch64 writes "Features", not "flags".
  const CpuInfo arm = parse_cpuinfo("processor\t: 0\nFeatures\t: fp asimd evtstrm\n\n");
  EXPECT_TRUE(arm.flags.empty());
  EXPECT_EQ(simd_level(arm), SimdLevel::kSse3);
}

TEST(CpuInfoTest, LevelNeedsEveryFlagOfItAndOfTheLevelsBelow) {
  EXPECT_EQ(simd_level(with_flags({"sse", "sse2", "pni", "ssse3", "sse4_2"})), SimdLevel::kSse3);
  EXPECT_EQ(simd_level(with_flags({"sse2", "avx"})), SimdLevel::kAvx);
  EXPECT_EQ(simd_level(with_flags({"avx", "avx2"})), SimdLevel::kAvx);  // no FMA3
  EXPECT_EQ(simd_level(with_flags({"avx", "avx2", "fma"})), SimdLevel::kAvx2);
  // AVX2 without AVX cannot happen on real hardware; the level then stops at the missing AVX.
  EXPECT_EQ(simd_level(with_flags({"avx2", "fma"})), SimdLevel::kSse3);
  // Xeon Phi (Knights Landing): AVX-512 F/CD/ER/PF but not BW/DQ/VL.
  EXPECT_EQ(
      simd_level(with_flags({"avx", "avx2", "fma", "avx512f", "avx512cd", "avx512er", "avx512pf"})),
      SimdLevel::kAvx2);
  EXPECT_EQ(simd_level(with_flags(
                {"avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"})),
            SimdLevel::kAvx512);
  EXPECT_EQ(
      simd_level(with_flags({"avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq"})),
      SimdLevel::kAvx2);  // VL missing
}

TEST(CpuInfoTest, LevelNames) {
  EXPECT_STREQ(to_string(SimdLevel::kSse3), "sse3");
  EXPECT_STREQ(to_string(SimdLevel::kAvx), "avx");
  EXPECT_STREQ(to_string(SimdLevel::kAvx2), "avx2");
  EXPECT_STREQ(to_string(SimdLevel::kAvx512), "avx512");
}

// read_cpu_info() only removes flags from what the kernel lists (those the CPU check denies).
TEST(CpuInfoTest, ReadCpuInfoIsTheKernelsFirstProcessorOrLess) {
  std::ifstream in("/proc/cpuinfo");
  if (!in) GTEST_SKIP() << "no /proc/cpuinfo";
  std::ostringstream text;
  text << in.rdbuf();
  const CpuInfo kernel = parse_cpuinfo(text.str());
  const CpuInfo cpu = read_cpu_info();
  EXPECT_EQ(cpu.model_name, kernel.model_name);
  for (const std::string& f : cpu.flags) EXPECT_TRUE(kernel.has(f)) << f;
  EXPECT_LE(cpu.flags.size(), kernel.flags.size());
  EXPECT_LE(simd_level(cpu), simd_level(kernel));
  std::cout << "this CPU: " << cpu.model_name << ", level " << to_string(simd_level(cpu)) << "\n";
}

}  // namespace
}  // namespace muft::platform
