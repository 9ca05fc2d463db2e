// Tests of crc32.cpp: known answers (the standard check value and values from Python's
// zlib.crc32), and the sliced implementation against a bit-at-a-time reference on every length
// and alignment up to 64 bytes, whole and split in two.

#include "muft/checkpoint/crc32.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace muft::checkpoint {
namespace {

uint32_t crc_of(const std::string& s) {
  return crc32(s.data(), s.size());
}

// The definition, one bit at a time: reflected polynomial 0xEDB88320, init/final XOR ~0.
uint32_t bitwise_crc32(const unsigned char* p, std::size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
  }
  return ~c;
}

TEST(Crc32Test, KnownAnswers) {
  EXPECT_EQ(crc_of(""), 0u);
  EXPECT_EQ(crc_of("123456789"), 0xCBF43926u);  // the CRC-32/ISO-HDLC check value
  // Python: zlib.crc32(...)
  EXPECT_EQ(crc_of("a"), 0xE8B7BE43u);
  EXPECT_EQ(crc_of("The quick brown fox jumps over the lazy dog"), 0x414FA339u);
  std::string ramp;
  for (int rep = 0; rep < 4; ++rep)
    for (int i = 0; i < 256; ++i) ramp += static_cast<char>(i);
  EXPECT_EQ(crc_of(ramp), 0xB70B4C26u);  // bytes(range(256)) * 4
  const float f[4] = {1.0f, -2.0f, 3.5f, 0.25f};
  EXPECT_EQ(crc32(f, sizeof f), 0x5DE34D16u);  // struct.pack('<4f', 1, -2, 3.5, 0.25)
}

TEST(Crc32Test, MatchesBitwiseReferenceAtEveryLengthAndAlignment) {
  std::mt19937 rng(7);
  std::vector<unsigned char> buf(64 + 8);
  for (auto& b : buf) b = static_cast<unsigned char>(rng());
  for (std::size_t offset = 0; offset < 8; ++offset) {
    for (std::size_t n = 0; n <= 64; ++n) {
      const unsigned char* p = buf.data() + offset;
      const uint32_t want = bitwise_crc32(p, n);
      ASSERT_EQ(crc32(p, n), want) << "offset " << offset << " length " << n;
      for (std::size_t cut = 0; cut <= n; ++cut) {
        ASSERT_EQ(crc32(p + cut, n - cut, crc32(p, cut)), want) << "split at " << cut;
      }
    }
  }
}

TEST(Crc32Test, DetectsASingleFlippedBit) {
  std::vector<unsigned char> v(4096);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<unsigned char>(i * 31);
  const uint32_t base = crc32(v.data(), v.size());
  for (std::size_t byte : {std::size_t{0}, std::size_t{1000}, v.size() - 1}) {
    for (int bit = 0; bit < 8; ++bit) {
      v[byte] ^= static_cast<unsigned char>(1u << bit);
      EXPECT_NE(crc32(v.data(), v.size()), base) << byte << ":" << bit;
      v[byte] ^= static_cast<unsigned char>(1u << bit);
    }
  }
}

}  // namespace
}  // namespace muft::checkpoint
