// The toml++ 3.3 guard of toml_shield.h: exact UTF-8 decoding and the shift in both directions.

#include "toml_shield.h"

#include <cstdint>
#include <cstdio>
#include <stdexcept>

namespace muft::sweep::detail {
namespace {

/// Decodes one well-formed UTF-8 sequence at s[i] (no overlongs, surrogates or values above
/// U+10FFFF, as toml++'s decoder); returns its length, or 0 when it is not well formed.
std::size_t decode(const std::string& s, std::size_t i, char32_t* out) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const std::size_t left = s.size() - i;
  const unsigned char c0 = b(0);
  const auto cont = [&](std::size_t k) { return k < left && (b(k) & 0xC0) == 0x80; };
  if (c0 < 0x80) {
    *out = c0;
    return 1;
  }
  if (c0 >= 0xC2 && c0 <= 0xDF && cont(1)) {
    *out = (char32_t(c0 & 0x1F) << 6) | (b(1) & 0x3F);
    return 2;
  }
  if (c0 >= 0xE0 && c0 <= 0xEF && cont(1) && cont(2)) {
    const char32_t v = (char32_t(c0 & 0x0F) << 12) | (char32_t(b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    if (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *out = v;
    return 3;
  }
  if (c0 >= 0xF0 && c0 <= 0xF4 && cont(1) && cont(2) && cont(3)) {
    const char32_t v = (char32_t(c0 & 0x07) << 18) | (char32_t(b(1) & 0x3F) << 12) |
                       (char32_t(b(2) & 0x3F) << 6) | (b(3) & 0x3F);
    if (v < 0x10000 || v > 0x10FFFF) return 0;
    *out = v;
    return 4;
  }
  return 0;
}

void encode(char32_t v, std::string* out) {
  if (v < 0x80) {
    *out += static_cast<char>(v);
  } else if (v < 0x800) {
    *out += static_cast<char>(0xC0 | (v >> 6));
    *out += static_cast<char>(0x80 | (v & 0x3F));
  } else if (v < 0x10000) {
    *out += static_cast<char>(0xE0 | (v >> 12));
    *out += static_cast<char>(0x80 | ((v >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (v & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (v >> 18));
    *out += static_cast<char>(0x80 | ((v >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((v >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (v & 0x3F));
  }
}

bool shielded(char32_t v) {
  return v >= kShieldOffset && reaches_toml_unreachable(v - kShieldOffset);
}

/// Maps every well-formed code point through f; other bytes are copied.
template <class F>
std::string map_code_points(const std::string& s, F f) {
  std::string out;
  out.reserve(s.size() + s.size() / 2);
  for (std::size_t i = 0; i < s.size();) {
    char32_t v = 0;
    const std::size_t n = decode(s, i, &v);
    if (n == 0) {
      out += s[i++];
      continue;
    }
    encode(f(v), &out);
    i += n;
  }
  return out;
}

}  // namespace

bool reaches_toml_unreachable(char32_t c) {
  // The library's own test, branch for branch: a 64-bit mask over blocks of 0x3FA code points
  // answers most; blocks 5 and 7 have explicit cases; blocks 0, 11 and 63 fall to the default.
  if (c < 0xA0 || c > 0xFEFF) return false;
  const uint64_t block = (static_cast<uint64_t>(c) - 0xA0) / 0x3FA;
  if ((uint64_t{1} << block) & 0x7FFFFFFFFFFFF75Eull) return false;
  if (c == 0xA0 || c == 0x3000 || c == 0xFEFF) return false;
  return block != 5 && block != 7;
}

std::string shield(const std::string& text, const std::string& origin) {
  bool any = false;
  std::string out = map_code_points(text, [&](char32_t v) -> char32_t {
    if (shielded(v)) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "U+%05X", static_cast<unsigned>(v));
      throw std::invalid_argument(origin + ": holds the private-use character " + hex +
                                  ", which muft does not accept in a spec");
    }
    if (!reaches_toml_unreachable(v)) return v;
    any = true;
    return v + kShieldOffset;
  });
  // A \U escape could produce a shifted code point too; 8 hex digits starting 000F or 000f.
  for (std::size_t p = text.find("\\U000"); p != std::string::npos; p = text.find("\\U000", p + 1))
    if (p + 5 < text.size() && (text[p + 5] == 'F' || text[p + 5] == 'f'))
      throw std::invalid_argument(origin +
                                  ": holds a \\U000F.... escape (plane-15 private use), "
                                  "which muft does not accept in a spec");
  return any ? out : text;
}

std::string unshield(const std::string& s) {
  return map_code_points(
      s, [](char32_t v) -> char32_t { return shielded(v) ? v - kShieldOffset : v; });
}

}  // namespace muft::sweep::detail
