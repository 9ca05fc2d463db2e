#include "muft/app/cli.h"

#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace muft::app {
namespace {

/// Runs run_app on a small app (one --n option, one subcommand whose callback may throw) with
/// the given arguments; returns the exit code and what went to stderr.
struct Outcome {
  int code;
  std::string err;
};
Outcome run(std::vector<std::string> args, const std::function<int()>& body) {
  CLI::App app{"test app"};
  int n = 0;
  app.add_option("--n", n, "a number");
  auto* sub = app.add_subcommand("boom", "callback throws");
  sub->callback([] { throw std::invalid_argument("callback says\nno"); });
  args.insert(args.begin(), "muft-test");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  testing::internal::CaptureStderr();
  testing::internal::CaptureStdout();
  const int code = run_app("muft-test", app, static_cast<int>(argv.size()), argv.data(), body);
  testing::internal::GetCapturedStdout();
  return {code, testing::internal::GetCapturedStderr()};
}

int ok() {
  return kSuccess;
}

TEST(RunAppTest, ParseErrorsGiveOneLineAndExitCode1) {
  // CLI11 itself would exit 109 (extras), 105 (conversion) and 106 (required subcommand...).
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--frobnicate"}, {"--n", "abc"}, {"--n"}, {"extra", "args"}}) {
    const Outcome o = run(args, ok);
    EXPECT_EQ(o.code, kError) << args[0];
    EXPECT_EQ(o.err.rfind("muft-test: error: ", 0), 0u) << o.err;
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
    EXPECT_NE(o.err.find("(see --help)"), std::string::npos) << o.err;
  }
}

TEST(RunAppTest, HelpIsSuccessAndSkipsTheBody) {
  bool ran = false;
  const Outcome o = run({"--help"}, [&] {
    ran = true;
    return kError;
  });
  EXPECT_EQ(o.code, kSuccess);
  EXPECT_FALSE(ran);
  EXPECT_EQ(o.err, "");
}

TEST(RunAppTest, BodyCodesAndExceptions) {
  EXPECT_EQ(run({}, [] { return kSomeFailed; }).code, kSomeFailed);
  EXPECT_EQ(run({"--n", "4"}, [] { return kDiverged; }).code, kDiverged);
  const Outcome thrown = run({}, []() -> int { throw std::runtime_error("disk\tfull\n"); });
  EXPECT_EQ(thrown.code, kError);
  EXPECT_EQ(thrown.err, "muft-test: error: disk full\n");
  const Outcome silent = run({}, []() -> int { throw CLI::RuntimeError(kDiverged); });
  EXPECT_EQ(silent.code, kDiverged);
  EXPECT_EQ(silent.err, "");
}

TEST(RunAppTest, CallbackExceptionDuringParse) {
  const Outcome o = run({"boom"}, ok);
  EXPECT_EQ(o.code, kError);
  EXPECT_EQ(o.err, "muft-test: error: callback says no\n");
}

TEST(RunAppTest, OneLine) {
  EXPECT_EQ(one_line("a\nb\r\n\tc  \n"), "a b c");
  EXPECT_EQ(one_line("\nlead"), "lead");
  EXPECT_EQ(one_line("x \ny"), "x y");
}

}  // namespace
}  // namespace muft::app
