#pragma once
/// \file crc32.h
/// CRC-32 (IEEE 802.3 / zlib / PNG: reflected polynomial 0xEDB88320, initial value and final
/// XOR 0xFFFFFFFF), the checksum muft stores with every checkpoint dataset (docs/formats.md).
/// The same value as Python's zlib.crc32(data).

#include <cstddef>
#include <cstdint>

namespace muft::checkpoint {

/// CRC-32 of n bytes at data, continuing from `crc` (the result for the bytes before them; 0 to
/// start), so crc32(b, nb, crc32(a, na)) == crc32 of a followed by b.
uint32_t crc32(const void* data, std::size_t n, uint32_t crc = 0);

}  // namespace muft::checkpoint
