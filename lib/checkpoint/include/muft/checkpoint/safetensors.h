#pragma once
/// \file safetensors.h
/// The safetensors format (https://github.com/huggingface/safetensors):
/// header parsing with the reference reader's validation rules, and a small
/// writer for tests, fixtures and benchmarks. Reading tensors goes through
/// open_source() (tensor_source.h), which memory-maps the file.
///
/// File layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON
/// ({"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
/// ..., "__metadata__": {"key": "value"}}), then the data section; offsets are
/// relative to the data section.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "muft/checkpoint/checkpoint.h"
#include "muft/checkpoint/tensor_source.h"

namespace muft::checkpoint {

/// Largest header the reader accepts, as in the reference implementation.
inline constexpr uint64_t kSafetensorsMaxHeader = 100'000'000;

/// One tensor entry of a validated safetensors header.
struct SafetensorsEntry {
  TensorInfo info;     ///< name, shape, dtype
  uint64_t begin = 0;  ///< byte offset of the first element, relative to the data section
  uint64_t end = 0;    ///< one past the last byte
};

/// A validated safetensors header.
struct SafetensorsHeader {
  std::vector<SafetensorsEntry> tensors;        ///< sorted by name
  std::map<std::string, std::string> metadata;  ///< the optional "__metadata__" object
  uint64_t data_start = 0;  ///< 8 + header length: file offset of the data section
};

/// Parses and validates the whole image of a safetensors file (data, size
/// bytes): header length ≤ kSafetensorsMaxHeader and inside the file, UTF-8 JSON
/// object (leading/trailing whitespace allowed, nesting ≤ 32 levels, no duplicate
/// names), known dtypes, non-negative integer shapes, byte sizes equal to
/// product(shape)·dtype size (overflow-checked), offsets sorted from 0 without
/// gaps or overlaps, and file size = 8 + header + last end offset.
/// Throws std::runtime_error("<file>: <reason>") on the first violation.
SafetensorsHeader parse_safetensors(const unsigned char* data, std::size_t size,
                                    const std::string& file);

/// A validated sharded-model index (`model.safetensors.index.json`).
struct SafetensorsIndex {
  std::map<std::string, std::string> weight_map;  ///< tensor name -> shard file (relative)
  std::vector<std::string> shards;                ///< distinct shard files, in weight_map order
};

/// Parses the text of a sharded-model index ({"metadata": {...}, "weight_map": {"tensor":
/// "shard.safetensors", ...}}): at most kSafetensorsMaxHeader bytes, no NUL byte, JSON nested
/// at most 32 levels, an object with a "weight_map" object whose values are non-empty file
/// names relative to the index's directory (not absolute, no ".." component). Other keys are
/// ignored. Whether the shards exist and agree with the map is checked when they are opened
/// (open_source). Throws std::runtime_error("<file>: <reason>") on the first violation.
SafetensorsIndex parse_safetensors_index(const std::string& text, const std::string& file);

/// Writes tensors (raw little-endian bytes in NamedTensor::bytes, any dtype)
/// as one safetensors file, atomically (PATH.tmp.<pid> then rename). The header
/// is padded with spaces to a multiple of 8 bytes, as the reference writer does;
/// data are laid out in the given order. Throws std::invalid_argument on a
/// tensor whose byte count does not match its shape and dtype, or a duplicate name.
void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

/// Writes a sharded model into directory dir (which must exist): files
/// "<stem>-0000i-of-0000n.safetensors" of at most max_shard_bytes of data each
/// (a larger tensor gets a shard of its own) and "<stem>.safetensors.index.json"
/// with {"metadata": {"total_size": N}, "weight_map": {...}}. Returns the index path.
std::string write_safetensors_sharded(const std::string& dir,
                                      const std::vector<NamedTensor>& tensors,
                                      uint64_t max_shard_bytes, const std::string& stem = "model");

/// Builds a tensor of dtype t from double values (row-major, numel(shape) of
/// them): F64 exact, F32 by rounding, F16/BF16 by rounding the float to nearest
/// even, integer dtypes by truncation toward zero (BOOL: value != 0).
NamedTensor make_tensor(const std::string& name, const std::vector<int64_t>& shape, DType t,
                        const std::vector<double>& values);

}  // namespace muft::checkpoint
