#include "muft/train/tokenizer.h"

#include <array>
#include <cmath>
#include <stdexcept>

namespace muft::train {

std::vector<int64_t> ByteTokenizer::encode(std::string_view text, bool add_bos,
                                           bool add_eos) const {
  std::vector<int64_t> ids;
  ids.reserve(text.size() + 2);
  if (add_bos) ids.push_back(kBos);
  for (char c : text) ids.push_back(static_cast<unsigned char>(c));
  if (add_eos) ids.push_back(kEos);
  return ids;
}

std::string ByteTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  out.reserve(ids.size());
  for (int64_t id : ids) {
    if (id < 0 || id >= kVocabSize) {
      throw std::invalid_argument("token id " + std::to_string(id) + " is outside [0, " +
                                  std::to_string(kVocabSize) + ")");
    }
    if (id < 256) out.push_back(static_cast<char>(static_cast<unsigned char>(id)));
  }
  return out;
}

const char* ByteTokenizer::special_name(int64_t id) {
  switch (id) {
    case kBos:
      return "<bos>";
    case kEos:
      return "<eos>";
    case kPad:
      return "<pad>";
    case kSep:
      return "<sep>";
    default:
      return nullptr;
  }
}

double perplexity(double loss_nats) {
  return std::exp(loss_nats);
}

double bits_per_byte(double loss_nats_per_token, double tokens_per_byte) {
  return loss_nats_per_token * tokens_per_byte / std::log(2.0);
}

namespace {
std::array<double, 256> histogram(std::string_view bytes) {
  std::array<double, 256> h{};
  for (char c : bytes) h[static_cast<unsigned char>(c)] += 1.0;
  return h;
}
}  // namespace

double unigram_entropy_bits(std::string_view bytes) {
  if (bytes.empty()) return 0.0;
  const auto h = histogram(bytes);
  const double n = static_cast<double>(bytes.size());
  double e = 0.0;
  for (double c : h) {
    if (c > 0) e -= (c / n) * std::log2(c / n);
  }
  return e;
}

double unigram_cross_entropy_bits(std::string_view train, std::string_view eval) {
  if (eval.empty()) return 0.0;
  const auto h = histogram(train);
  const double denom = static_cast<double>(train.size()) + 256.0;
  double total = 0.0;
  for (char c : eval) total -= std::log2((h[static_cast<unsigned char>(c)] + 1.0) / denom);
  return total / static_cast<double>(eval.size());
}

}  // namespace muft::train
