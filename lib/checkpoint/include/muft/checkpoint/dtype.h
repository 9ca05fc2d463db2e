#pragma once
/// \file dtype.h
/// Element-type helpers shared by every reader and writer: dtype names as
/// safetensors spells them, and exact conversions between IEEE binary16,
/// bfloat16 and binary32 (written by hand: no compiler extension needed).

#include <cstdint>
#include <optional>
#include <string>

#include "muft/checkpoint/tensor_source.h"

namespace muft::checkpoint {

/// Parses a safetensors dtype name ("F32", "BF16", "BOOL", ...); nullopt for
/// anything muft does not represent (including the F8/F4/F6 formats).
std::optional<DType> dtype_from_name(const std::string& name);

/// IEEE 754 binary16 bits to float. Exact for every input: subnormals
/// (smallest 2^-24), signed zeros, ±inf; NaN stays NaN with sign and payload
/// moved to the top of the float mantissa.
float half_to_float(uint16_t bits);
/// bfloat16 bits to float: the upper 16 bits of a binary32, hence exact.
float bfloat16_to_float(uint16_t bits);
/// float to binary16, round to nearest even; overflow gives ±inf, values
/// below half the smallest subnormal give ±0, NaN gives a quiet NaN.
uint16_t float_to_half(float value);
/// float to bfloat16, round to nearest even; NaN gives a quiet NaN.
uint16_t float_to_bfloat16(float value);

}  // namespace muft::checkpoint
