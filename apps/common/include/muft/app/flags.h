#pragma once
/// \file flags.h
/// Range-checked integer flags with one-line messages. CLI11 converts "-1" into an unsigned
/// option as 2^64 - 1 and saturates "18446744073709551616" without a word; these validators look
/// at the text before any conversion, so an out-of-range value is refused instead.

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

namespace muft::app {

/// Upper bound of every thread or process count flag (--threads, --jobs, --analysis-jobs):
/// far above any machine muft runs on, far below the point where creating the threads hangs.
inline constexpr long long kMaxThreads = 1024;

/// Parses a seed: decimal digits only (no sign, no spaces, no exponent), value in
/// [0, 2^64 - 1]. Throws std::invalid_argument("must be an integer in [0, 18446744073709551615],
/// got 'TEXT'").
uint64_t parse_seed(const std::string& text);

/// Parses a decimal integer in [lo, hi] (an optional '-' then digits). Throws
/// std::invalid_argument("must be an integer in [lo, hi], got 'TEXT'").
long long parse_count(const std::string& text, long long lo, long long hi);

/// CLI11 check for a seed option (any unsigned 64-bit target): parse_seed's rule and message,
/// which CLI11 prefixes with the option name ("--seed: must be ...").
CLI::Validator seed_check();

/// CLI11 check for a count option: parse_count(text, lo, hi)'s rule and message.
CLI::Validator count_check(long long lo, long long hi);

}  // namespace muft::app
