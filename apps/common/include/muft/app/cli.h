#pragma once
/// \file cli.h
/// The exit-code table of every muft-* executable (docs/cli.md) and the wrapper that parses the
/// command line, runs the command and turns every parse error or exception into one line
/// `muft-X: error: <what>` on stderr with the documented code.

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

namespace muft::app {

/// Exit codes shared by all muft-* executables (docs/cli.md).
enum ExitCode : int {
  kSuccess = 0,     ///< finished and nothing failed; also --help and --version
  kError = 1,       ///< bad input or an error that stopped the command (one line on stderr)
  kSomeFailed = 2,  ///< finished, but some items failed: a check FAILed, rows with status=error,
                    ///< sweep runs failed / blocked / held by another process
  kDiverged = 3,    ///< muft-train: the run diverged (its last good checkpoint is kept)
  kCollapsed = 4,   ///< muft-train: the run collapsed (predictions stopped depending on the input)
};

/// Parses argv into `app`, then returns `body()`. --help, --help-all and --version print and give
/// kSuccess. A CLI11 parse error, or a std::exception thrown by a subcommand callback during the
/// parse or by `body`, prints `<name>: error: <message on one line>` to stderr and gives kError
/// (a parse error adds "(see --help)"). CLI::RuntimeError(code) gives `code` silently, so a
/// callback can end the program with any code of the table.
int run_app(const std::string& name, CLI::App& app, int argc, char** argv,
            const std::function<int()>& body);

/// Every app's first step: muft::platform::start (the OpenBLAS core check, which may re-execute
/// the program once, docs/platform.md) with its one-line notices printed on stderr. False when
/// the program must end with kError (a failed re-exec, already reported).
bool start_platform(char** argv);

/// Prints `<name>: error: <message>` (newlines and tabs of `message` become spaces) on stderr.
void print_error(const std::string& name, const std::string& message);

/// `text` on one line: every run of newlines, carriage returns and tabs becomes one space, and
/// trailing whitespace is dropped.
std::string one_line(const std::string& text);

}  // namespace muft::app
