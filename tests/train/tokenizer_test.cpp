#include "muft/train/tokenizer.h"

#include <cmath>
#include <string>

#include <gtest/gtest.h>

namespace muft::train {
namespace {

constexpr double kTol = 1e-12;  // double arithmetic on exact small cases

TEST(ByteTokenizerTest, RoundTripsEveryByteValue) {
  ByteTokenizer tok;
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const auto ids = tok.encode(all);
  ASSERT_EQ(ids.size(), 256u);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(ids[b], b);
  EXPECT_EQ(tok.decode(ids), all);
}

TEST(ByteTokenizerTest, SpecialsWrapAndAreDroppedOnDecode) {
  ByteTokenizer tok;
  const auto ids = tok.encode("hé", true, true);  // UTF-8: h, 0xC3, 0xA9
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_EQ(ids.front(), ByteTokenizer::kBos);
  EXPECT_EQ(ids.back(), ByteTokenizer::kEos);
  EXPECT_EQ(ids[2], 0xC3);
  EXPECT_EQ(tok.decode(ids), "hé");
  EXPECT_EQ(tok.vocab_size(), 260);
  EXPECT_STREQ(ByteTokenizer::special_name(ByteTokenizer::kPad), "<pad>");
  EXPECT_EQ(ByteTokenizer::special_name(65), nullptr);
}

TEST(ByteTokenizerTest, RejectsOutOfRangeIds) {
  ByteTokenizer tok;
  EXPECT_THROW(tok.decode({65, 260}), std::invalid_argument);
  EXPECT_THROW(tok.decode({-1}), std::invalid_argument);
}

TEST(MetricsTest, PerplexityAndBitsPerByteOfKnownLosses) {
  EXPECT_NEAR(perplexity(0.0), 1.0, kTol);
  EXPECT_NEAR(perplexity(std::log(256.0)), 256.0, 1e-9);
  // A uniform model over 256 bytes costs ln 256 nats = 8 bits per byte.
  EXPECT_NEAR(bits_per_byte(std::log(256.0)), 8.0, kTol);
  EXPECT_NEAR(bits_per_byte(std::log(2.0), 0.5), 0.5, kTol);
}

TEST(MetricsTest, UnigramEntropyOfHandComputedHistograms) {
  EXPECT_NEAR(unigram_entropy_bits("aabb"), 1.0, kTol);
  EXPECT_NEAR(unigram_entropy_bits("aaaa"), 0.0, kTol);
  // p = (1/2, 1/4, 1/4): H = 0.5·1 + 2·0.25·2 = 1.5 bits.
  EXPECT_NEAR(unigram_entropy_bits("aabc"), 1.5, kTol);
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_NEAR(unigram_entropy_bits(all), 8.0, kTol);
  EXPECT_EQ(unigram_entropy_bits(""), 0.0);
}

TEST(MetricsTest, UnigramCrossEntropyUsesAddOneSmoothing) {
  // train "ab": counts a=1, b=1, denominator 2 + 256; scoring "a": −log2(2/258).
  EXPECT_NEAR(unigram_cross_entropy_bits("ab", "a"), -std::log2(2.0 / 258.0), kTol);
  // Cross-entropy on the training text itself is above the (unsmoothed) entropy.
  EXPECT_GT(unigram_cross_entropy_bits("aabb", "aabb"), unigram_entropy_bits("aabb"));
}

}  // namespace
}  // namespace muft::train
