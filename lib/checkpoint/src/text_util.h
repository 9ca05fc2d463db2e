#pragma once
// Private text helpers of muft::checkpoint.

#include <cstddef>
#include <string>

namespace muft::checkpoint::detail {

/// True when s[0, n) is well-formed UTF-8 (no overlong forms, no surrogates, ≤ U+10FFFF).
bool valid_utf8(const char* s, std::size_t n);

/// Nesting depth of the JSON text s[0, n) (brackets inside strings ignored);
/// stops counting once it exceeds limit. Checked before parsing so that a
/// hostile header cannot exhaust the stack of the recursive JSON parser.
int json_depth(const char* s, std::size_t n, int limit);

/// The message with control characters (newlines included) replaced by spaces
/// and cut to a readable length, so that every error is one line.
std::string one_line(const std::string& msg);

}  // namespace muft::checkpoint::detail
