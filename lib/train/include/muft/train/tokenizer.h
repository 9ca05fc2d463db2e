#pragma once
/// \file tokenizer.h
/// Byte-level tokenizer (one token per UTF-8 byte, plus four specials) and the
/// language-model metrics muft reports: loss (nats/token), perplexity, bits per byte.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace muft::train {

/// Byte-level tokenizer: byte b ↦ token b (0..255); specials 256..259.
/// The vocabulary size (260) matches GPTConfig::vocab_size of the tiny model.
class ByteTokenizer {
 public:
  static constexpr int64_t kBos = 256;        ///< beginning of sequence
  static constexpr int64_t kEos = 257;        ///< end of sequence
  static constexpr int64_t kPad = 258;        ///< padding (never a training target)
  static constexpr int64_t kSep = 259;        ///< document separator
  static constexpr int64_t kVocabSize = 260;  ///< 256 bytes + 4 specials

  /// Tokens of the bytes of text, optionally wrapped in BOS … EOS.
  std::vector<int64_t> encode(std::string_view text, bool add_bos = false,
                              bool add_eos = false) const;
  /// Bytes of the non-special tokens, in order (specials are dropped).
  /// Throws std::invalid_argument for an id outside [0, kVocabSize).
  std::string decode(const std::vector<int64_t>& ids) const;
  /// kVocabSize.
  int64_t vocab_size() const { return kVocabSize; }
  /// "<bos>", "<eos>", "<pad>", "<sep>" for specials, nullptr otherwise.
  static const char* special_name(int64_t id);
};

/// Perplexity \f$ e^{L} \f$ of a mean cross-entropy L in nats per token.
double perplexity(double loss_nats);

/// Bits per byte \f$ L \cdot (\text{tokens}/\text{byte}) / \ln 2 \f$ of a loss L in
/// nats per token; tokens_per_byte = 1 for the byte-level tokenizer.
double bits_per_byte(double loss_nats_per_token, double tokens_per_byte = 1.0);

/// Entropy of the byte histogram, \f$ -\sum_b p_b \log_2 p_b \f$ in bits per byte: the
/// loss of the best unigram (context-free) model, the baseline a language model must beat.
/// An empty input gives 0.
double unigram_entropy_bits(std::string_view bytes);

/// Cross-entropy in bits per byte of a unigram model fitted on train (add-one smoothing over
/// 256 byte values) when scoring eval: the unigram baseline measured on held-out text.
double unigram_cross_entropy_bits(std::string_view train, std::string_view eval);

}  // namespace muft::train
