// Tests of dtype.cpp: names, sizes, matrix views and the hand-written
// binary16 / bfloat16 conversions against hand-computed bit patterns.

#include "muft/checkpoint/dtype.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

namespace muft::checkpoint {
namespace {

using P = std::pair<int64_t, int64_t>;

uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

TEST(DTypeTest, NamesSizesRoundTrip) {
  const DType all[] = {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64,
                       DType::I32, DType::I16, DType::I8,  DType::U64,  DType::U32,
                       DType::U16, DType::U8,  DType::Bool};
  const std::size_t sizes[] = {8, 4, 2, 2, 8, 4, 2, 1, 8, 4, 2, 1, 1};
  for (std::size_t i = 0; i < std::size(all); ++i) {
    EXPECT_EQ(dtype_size(all[i]), sizes[i]) << dtype_name(all[i]);
    EXPECT_EQ(dtype_from_name(dtype_name(all[i])), all[i]);
    EXPECT_EQ(is_floating(all[i]), i < 4) << dtype_name(all[i]);
  }
  EXPECT_STREQ(dtype_name(DType::Bool), "BOOL");
  EXPECT_FALSE(dtype_from_name("F8_E4M3").has_value());
  EXPECT_FALSE(dtype_from_name("f32").has_value());
  EXPECT_FALSE(dtype_from_name("").has_value());
}

TEST(TensorInfoTest, NumelAndMatrixShape) {
  TensorInfo conv{"conv", {8, 3, 5, 5}, DType::F32};
  EXPECT_EQ(conv.numel(), 600);
  EXPECT_EQ(conv.matrix_shape(), P(8, 75));
  TensorInfo mat{"m", {4, 6}, DType::F32};
  EXPECT_EQ(mat.matrix_shape(), P(4, 6));
  TensorInfo vec{"v", {7}, DType::F32};
  EXPECT_EQ(vec.matrix_shape(), P(0, 0));
  TensorInfo scalar{"s", {}, DType::F32};
  EXPECT_EQ(scalar.numel(), 1);
  EXPECT_EQ(scalar.matrix_shape(), P(0, 0));
  TensorInfo empty{"e", {0, 5}, DType::F32};
  EXPECT_EQ(empty.numel(), 0);
  EXPECT_EQ(empty.matrix_shape(), P(0, 5));
  TensorInfo huge{"h", {int64_t(1) << 40, int64_t(1) << 40}, DType::F32};
  EXPECT_THROW(huge.numel(), std::runtime_error);
}

// Hand-computed binary16 patterns: sign | 5-bit exponent (bias 15) | 10-bit mantissa.
TEST(HalfTest, HandComputedPatterns) {
  EXPECT_EQ(half_to_float(0x3C00), 1.0f);
  EXPECT_EQ(half_to_float(0xC000), -2.0f);
  EXPECT_EQ(half_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(half_to_float(0x7BFF), 65504.0f);                  // largest finite
  EXPECT_EQ(half_to_float(0x0400), std::ldexp(1.0f, -14));     // smallest normal
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));     // smallest subnormal
  EXPECT_EQ(half_to_float(0x03FF), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(half_to_float(0x8001), -std::ldexp(1.0f, -24));
  EXPECT_EQ(bits(half_to_float(0x0000)), 0x00000000u);
  EXPECT_EQ(bits(half_to_float(0x8000)), 0x80000000u);  // -0 keeps its sign
  EXPECT_EQ(half_to_float(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(half_to_float(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(half_to_float(0x7E00)));
  EXPECT_EQ(bits(half_to_float(0x7E00)), 0x7FC00000u);
  EXPECT_EQ(bits(half_to_float(0xFD01)), 0xFFA02000u);  // signaling NaN payload kept
}

// Every one of the 65536 patterns against the textbook formula evaluated in double.
TEST(HalfTest, AllPatternsMatchFormula) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const int s = (h >> 15) & 1, e = (h >> 10) & 31, m = h & 1023;
    const float got = half_to_float(static_cast<uint16_t>(h));
    if (e == 31) {
      EXPECT_EQ(std::isnan(got), m != 0) << h;
      if (m == 0) {
        EXPECT_TRUE(std::isinf(got)) << h;
      }
      continue;
    }
    const double mag =
        e == 0 ? m * std::ldexp(1.0, -24) : (1.0 + m / 1024.0) * std::ldexp(1.0, e - 15);
    ASSERT_EQ(static_cast<double>(got), s ? -mag : mag) << h;
    ASSERT_EQ(float_to_half(got), h) << h;  // exact round trip
  }
}

TEST(HalfTest, RoundingToNearestEven) {
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3C00);      // tie -> even (down)
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // tie -> even (up)
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3C01);
  EXPECT_EQ(float_to_half(65519.0f), 0x7BFF);
  EXPECT_EQ(float_to_half(65520.0f), 0x7C00);  // tie between 65504 and 65536 -> inf
  EXPECT_EQ(float_to_half(1e10f), 0x7C00);
  EXPECT_EQ(float_to_half(-1e10f), 0xFC00);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);  // tie -> even (zero)
  EXPECT_EQ(float_to_half(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(float_to_half(std::ldexp(3.0f, -25)), 0x0002);     // 1.5 ulp -> even
  EXPECT_EQ(float_to_half(std::ldexp(1023.5f, -24)), 0x0400);  // subnormal carries to normal
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -30)), 0x0000);
  EXPECT_EQ(float_to_half(-std::ldexp(1.0f, -30)), 0x8000);
  EXPECT_EQ(float_to_half(std::numeric_limits<float>::quiet_NaN()) & 0x7E00, 0x7E00);
}

TEST(BFloat16Test, HandComputedPatterns) {
  EXPECT_EQ(bfloat16_to_float(0x3F80), 1.0f);
  EXPECT_EQ(bfloat16_to_float(0x4049), 3.140625f);
  EXPECT_EQ(bfloat16_to_float(0xC2F7), -123.5f);
  EXPECT_EQ(bfloat16_to_float(0x0001), std::ldexp(1.0f, -133));   // smallest subnormal
  EXPECT_EQ(bfloat16_to_float(0x0080), std::ldexp(1.0f, -126));   // smallest normal
  EXPECT_EQ(bfloat16_to_float(0x7F7F), std::ldexp(255.0f, 120));  // largest finite
  EXPECT_EQ(bfloat16_to_float(0x7F80), std::numeric_limits<float>::infinity());
  EXPECT_EQ(bfloat16_to_float(0xFF80), -std::numeric_limits<float>::infinity());
  EXPECT_EQ(bits(bfloat16_to_float(0x8000)), 0x80000000u);
  EXPECT_EQ(bits(bfloat16_to_float(0x7FC1)), 0x7FC10000u);
  for (uint32_t b = 0; b < 65536; ++b) {
    const float f = bfloat16_to_float(static_cast<uint16_t>(b));
    if (!std::isnan(f)) {
      ASSERT_EQ(float_to_bfloat16(f), b) << b;
    }
  }
}

TEST(BFloat16Test, RoundingToNearestEven) {
  EXPECT_EQ(float_to_bfloat16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);      // tie -> even (down)
  EXPECT_EQ(float_to_bfloat16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);  // tie -> even (up)
  EXPECT_EQ(float_to_bfloat16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3F81);
  EXPECT_EQ(float_to_bfloat16(std::numeric_limits<float>::max()), 0x7F80);
  const uint16_t nan = float_to_bfloat16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_TRUE(std::isnan(bfloat16_to_float(nan)));
  // A NaN whose payload lives only in the low 16 bits must not become inf.
  uint32_t low_nan_bits = 0x7F800001u;
  float low_nan;
  std::memcpy(&low_nan, &low_nan_bits, 4);
  EXPECT_TRUE(std::isnan(bfloat16_to_float(float_to_bfloat16(low_nan))));
}

}  // namespace
}  // namespace muft::checkpoint
