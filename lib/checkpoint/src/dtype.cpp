#include "muft/checkpoint/dtype.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace muft::checkpoint {

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::F64:
    case DType::I64:
    case DType::U64:
      return 8;
    case DType::F32:
    case DType::I32:
    case DType::U32:
      return 4;
    case DType::F16:
    case DType::BF16:
    case DType::I16:
    case DType::U16:
      return 2;
    case DType::I8:
    case DType::U8:
    case DType::Bool:
      return 1;
  }
  throw std::invalid_argument("dtype_size: invalid DType value");
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F64:
      return "F64";
    case DType::F32:
      return "F32";
    case DType::F16:
      return "F16";
    case DType::BF16:
      return "BF16";
    case DType::I64:
      return "I64";
    case DType::I32:
      return "I32";
    case DType::I16:
      return "I16";
    case DType::I8:
      return "I8";
    case DType::U64:
      return "U64";
    case DType::U32:
      return "U32";
    case DType::U16:
      return "U16";
    case DType::U8:
      return "U8";
    case DType::Bool:
      return "BOOL";
  }
  throw std::invalid_argument("dtype_name: invalid DType value");
}

bool is_floating(DType t) {
  return t == DType::F64 || t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

std::optional<DType> dtype_from_name(const std::string& name) {
  static const DType kAll[] = {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64,
                               DType::I32, DType::I16, DType::I8,  DType::U64,  DType::U32,
                               DType::U16, DType::U8,  DType::Bool};
  for (DType t : kAll) {
    if (name == dtype_name(t)) return t;
  }
  return std::nullopt;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw std::runtime_error("tensor " + name + ": negative dimension");
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) {
      throw std::runtime_error("tensor " + name + ": element count overflows int64");
    }
    n *= d;
  }
  return n;
}

std::pair<int64_t, int64_t> TensorInfo::matrix_shape() const {
  if (shape.size() < 2) return {0, 0};
  TensorInfo rest_info;
  rest_info.name = name;
  rest_info.shape.assign(shape.begin() + 1, shape.end());
  numel();  // validates the whole shape (negative dimensions, overflow)
  return {shape[0], rest_info.numel()};
}

namespace {
float bits_to_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
uint32_t float_to_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}
}  // namespace

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t mant = h & 0x3FFu;
  if (exp == 0) {
    // Zero or subnormal: mant * 2^-24, exact in float (mant < 2^10).
    const float mag = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -mag : mag;
  }
  if (exp == 0x1F) {
    // Inf (mant == 0) or NaN (payload kept in the top mantissa bits).
    return bits_to_float(sign | 0x7F800000u | (mant << 13));
  }
  return bits_to_float(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

float bfloat16_to_float(uint16_t bits) {
  return bits_to_float(static_cast<uint32_t>(bits) << 16);
}

uint16_t float_to_bfloat16(float value) {
  const uint32_t bits = float_to_bits(value);
  if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x007FFFFFu) != 0) {
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);  // quiet NaN, sign kept
  }
  // Round to nearest, ties to even, on the 16 discarded bits.
  const uint32_t lsb = (bits >> 16) & 1u;
  return static_cast<uint16_t>((bits + 0x7FFFu + lsb) >> 16);
}

uint16_t float_to_half(float value) {
  const uint32_t bits = float_to_bits(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t exp = (bits >> 23) & 0xFFu;
  uint32_t mant = bits & 0x7FFFFFu;
  if (exp == 0xFF) {
    if (mant != 0) return static_cast<uint16_t>(sign | 0x7E00u | (mant >> 13));  // quiet NaN
    return static_cast<uint16_t>(sign | 0x7C00u);
  }
  const int e = static_cast<int>(exp) - 127 + 15;               // biased half exponent
  if (e >= 0x1F) return static_cast<uint16_t>(sign | 0x7C00u);  // overflow to inf
  if (e <= 0) {
    // Result is subnormal (or zero): shift the full significand right.
    if (e < -10) return sign;  // below half the smallest subnormal
    mant |= 0x800000u;         // implicit leading one
    const int shift = 14 - e;  // 13 for normal alignment plus (1 - e)
    const uint32_t kept = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1);
    uint32_t out = kept;
    if (rem > halfway || (rem == halfway && (kept & 1u))) ++out;  // may carry into the normal range
    return static_cast<uint16_t>(sign | out);
  }
  uint32_t out = (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (out & 1u))) ++out;  // carry may reach inf: correct
  return static_cast<uint16_t>(sign | out);
}

}  // namespace muft::checkpoint
