#include "muft/app/flags.h"

#include <climits>
#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace muft::app {
namespace {

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();

std::string seed_error(const std::string& text) {
  try {
    parse_seed(text);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(FlagsTest, SeedAcceptsTheWholeUnsignedRange) {
  EXPECT_EQ(parse_seed("0"), 0u);
  EXPECT_EQ(parse_seed("2605"), 2605u);
  EXPECT_EQ(parse_seed("18446744073709551615"), kU64Max);
  EXPECT_EQ(parse_seed("000042"), 42u);
}

TEST(FlagsTest, SeedRefusesWhatCli11WouldWrapOrSaturate) {
  // "-1" and 2^64 are the two inputs that CLI11 turns into 2^64 - 1 without a word.
  EXPECT_EQ(seed_error("-1"), "must be an integer in [0, 18446744073709551615], got '-1'");
  EXPECT_NE(seed_error("18446744073709551616"), "");
  EXPECT_NE(seed_error("99999999999999999999999999"), "");
  for (const char* bad : {"", "+1", " 1", "1 ", "1e3", "0x10", "1.0", "abc", "-0"})
    EXPECT_NE(seed_error(bad), "") << "'" << bad << "'";
}

TEST(FlagsTest, CountRangeAndMessage) {
  EXPECT_EQ(parse_count("0", 0, kMaxThreads), 0);
  EXPECT_EQ(parse_count("1024", 0, kMaxThreads), 1024);
  EXPECT_EQ(parse_count("-5", -10, 10), -5);
  EXPECT_EQ(parse_count("-9223372036854775808", LLONG_MIN, 0), LLONG_MIN);
  EXPECT_EQ(parse_count("9223372036854775807", 0, LLONG_MAX), LLONG_MAX);
  try {
    parse_count("100000", 0, kMaxThreads);
    FAIL() << "100000 threads accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "must be an integer in [0, 1024], got '100000'");
  }
  for (const char* bad : {"-1", "1025", "", "-", "1e3", "2.0", "+3", "9223372036854775808",
                          "-9223372036854775809", "18446744073709551616"})
    EXPECT_THROW(parse_count(bad, 0, kMaxThreads), std::invalid_argument) << "'" << bad << "'";
  // Out of long long itself: refused, not wrapped into the range.
  for (const char* bad : {"9223372036854775808", "-9223372036854775809", "18446744073709551617"})
    EXPECT_THROW(parse_count(bad, LLONG_MIN, LLONG_MAX), std::invalid_argument) << bad;
}

TEST(FlagsTest, ValidatorsRunBeforeCli11Converts) {
  CLI::App app;
  uint64_t seed = 7;
  std::size_t jobs = 1;
  app.add_option("--seed", seed)->check(seed_check());
  app.add_option("--jobs", jobs)->check(count_check(1, kMaxThreads));
  app.parse(std::vector<std::string>{"18446744073709551615", "--seed"});  // reversed argv
  EXPECT_EQ(seed, kU64Max);
  try {
    app.parse(std::vector<std::string>{"-1", "--seed"});
    FAIL() << "--seed -1 accepted as " << seed;
  } catch (const CLI::ValidationError& e) {
    EXPECT_NE(std::string(e.what()).find("--seed: must be an integer in [0, "), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(app.parse(std::vector<std::string>{"-1", "--jobs"}), CLI::ValidationError);
  EXPECT_THROW(app.parse(std::vector<std::string>{"0", "--jobs"}), CLI::ValidationError);
  app.parse(std::vector<std::string>{"3", "--jobs"});
  EXPECT_EQ(jobs, 3u);
}

}  // namespace
}  // namespace muft::app
