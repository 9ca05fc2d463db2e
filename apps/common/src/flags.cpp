/// \file flags.cpp
/// Seed and count validators: exact decimal parsing with overflow detection.

#include "muft/app/flags.h"

#include <limits>
#include <stdexcept>

namespace muft::app {
namespace {

/// Magnitude of a string of decimal digits; false when empty, not all digits, or > 2^64 - 1.
bool parse_digits(const std::string& s, std::size_t from, uint64_t* value) {
  if (from >= s.size()) return false;
  uint64_t v = 0;
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  for (std::size_t i = from; i < s.size(); ++i) {
    const char c = s[i];
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (kMax - d) / 10) return false;
    v = v * 10 + d;
  }
  *value = v;
  return true;
}

std::string range_message(const std::string& lo, const std::string& hi, const std::string& text) {
  return "must be an integer in [" + lo + ", " + hi + "], got '" + text + "'";
}

}  // namespace

uint64_t parse_seed(const std::string& text) {
  uint64_t v = 0;
  if (!parse_digits(text, 0, &v))
    throw std::invalid_argument(
        range_message("0", std::to_string(std::numeric_limits<uint64_t>::max()), text));
  return v;
}

long long parse_count(const std::string& text, long long lo, long long hi) {
  const bool negative = !text.empty() && text[0] == '-';
  uint64_t mag = 0;
  bool ok = parse_digits(text, negative ? 1 : 0, &mag);
  long long v = 0;
  if (ok) {
    // |LLONG_MIN| = LLONG_MAX + 1: the one magnitude that only a negative value may have.
    constexpr uint64_t kPosMax = static_cast<uint64_t>(std::numeric_limits<long long>::max());
    if (!negative && mag > kPosMax) ok = false;
    if (negative && mag > kPosMax + 1) ok = false;
    if (ok) v = negative ? static_cast<long long>(0 - mag) : static_cast<long long>(mag);
  }
  if (!ok || v < lo || v > hi)
    throw std::invalid_argument(range_message(std::to_string(lo), std::to_string(hi), text));
  return v;
}

CLI::Validator seed_check() {
  return CLI::Validator(
      [](std::string& text) {
        try {
          parse_seed(text);
        } catch (const std::invalid_argument& e) {
          return std::string(e.what());
        }
        return std::string();
      },
      "SEED");
}

CLI::Validator count_check(long long lo, long long hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) {
        try {
          parse_count(text, lo, hi);
        } catch (const std::invalid_argument& e) {
          return std::string(e.what());
        }
        return std::string();
      },
      "INT in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

}  // namespace muft::app
