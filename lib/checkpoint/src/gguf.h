#pragma once
// Private: the GGUF container of llama.cpp / ggml (versions 2 and 3): header,
// metadata key/value pairs and tensor index, validated against the file size.
//
// Layout (all little-endian): "GGUF", u32 version, u64 tensor count, u64
// metadata count; metadata as (string key, u32 value type, value); tensor
// infos as (string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64
// offset); padding to general.alignment (default 32); the data section.
// A string is a u64 byte length and the bytes. ne[0] is the innermost
// (fastest-varying) dimension, so the row-major shape is ne reversed.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "muft/checkpoint/dtype.h"
#include "muft/checkpoint/tensor_source.h"

namespace muft::checkpoint::detail {

/// The ggml tensor types muft converts to floats.
enum GgmlType : uint32_t {
  kGgmlF32 = 0,
  kGgmlF16 = 1,
  kGgmlQ8_0 = 8,
  kGgmlI8 = 24,
  kGgmlI16 = 25,
  kGgmlI32 = 26,
  kGgmlI64 = 27,
  kGgmlF64 = 28,
  kGgmlBF16 = 30,
};

/// Name of a ggml type ("Q4_K"), or nullptr for an id muft does not know.
const char* ggml_type_name(uint32_t type);

/// One tensor of a GGUF file.
struct GgufTensor {
  /// name, row-major shape (ne reversed), dtype: F32/F16/BF16/F64 as stored,
  /// F32 for Q8_0 (the dequantized values are exact float32s), the integer
  /// dtype for I8..I64, U8 for every other type (with skip_reason naming it).
  TensorInfo info;
  uint32_t type = 0;    ///< ggml type id
  uint64_t offset = 0;  ///< file offset of the first byte
  uint64_t nbytes = 0;  ///< bytes the tensor occupies (0 for an unknown type)
};

/// One metadata entry, kept for inspection: scalars and strings as text,
/// arrays as "[N x TYPE]".
struct GgufMetadata {
  std::string key, type, value;
};

/// A validated GGUF header.
struct GgufHeader {
  uint32_t version = 0;
  uint64_t alignment = 32;
  uint64_t data_start = 0;             ///< file offset of the data section
  std::vector<GgufMetadata> metadata;  ///< in file order
  std::vector<GgufTensor> tensors;     ///< sorted by name
};

/// Parses and validates a whole GGUF file image: magic, version 2 or 3
/// (v1 and big-endian files are refused by name), every length and count
/// against the bytes that remain (no allocation from a declared count), UTF-8
/// keys and names without duplicates, value types, arrays nested at most 8
/// deep, general.alignment a power of two, ≤ 4 dimensions with the innermost
/// a multiple of the type's block size, byte sizes with overflow checks,
/// offsets aligned, inside the file and not overlapping.
/// Throws std::runtime_error("<file>: <reason>") on the first violation.
GgufHeader parse_gguf(const unsigned char* data, std::size_t size, const std::string& file);

/// The GGUF magic "GGUF" at offset 0.
bool has_gguf_signature(const unsigned char* data, std::size_t size);

/// Dequantizes n values (a multiple of 32) of Q8_0 blocks (f16 scale d and
/// 32 int8 q; value = d·q computed in float, as ggml does) into out.
template <typename Out>
void dequantize_q8_0(const unsigned char* src, std::size_t n, Out* out) {
  for (std::size_t b = 0; b < n / 32; ++b, src += 34) {
    const float d = half_to_float(static_cast<uint16_t>(src[0] | (src[1] << 8)));
    for (std::size_t j = 0; j < 32; ++j) {
      out[32 * b + j] = static_cast<Out>(d * static_cast<float>(static_cast<int8_t>(src[2 + j])));
    }
  }
}

}  // namespace muft::checkpoint::detail
