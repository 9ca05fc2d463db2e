/// \file cli.cpp
/// run_app: one parse / run / error path for every muft-* executable.

#include "muft/app/cli.h"

#include <cstdio>
#include <exception>

#include "muft/platform/startup.h"

namespace muft::app {

bool start_platform(char** argv) {
  return muft::platform::start(
      argv, [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); });
}

std::string one_line(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool gap = false;
  for (const char c : text) {
    if (c == '\n' || c == '\r' || c == '\t') {
      gap = true;
      continue;
    }
    if (gap && !out.empty() && out.back() != ' ') out += ' ';
    gap = false;
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

void print_error(const std::string& name, const std::string& message) {
  std::fflush(stdout);  // keep what the command printed before the error in order
  const std::string line = name + ": error: " + one_line(message) + "\n";
  std::fputs(line.c_str(), stderr);
}

int run_app(const std::string& name, CLI::App& app, int argc, char** argv,
            const std::function<int()>& body) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help / --help-all / --version: printed, exit code 0
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    print_error(name, std::string(e.what()) + " (see --help)");
    return kError;
  } catch (const std::exception& e) {
    print_error(name, e.what());  // thrown by a subcommand callback
    return kError;
  } catch (...) {
    print_error(name, "unexpected error (not a std::exception)");
    return kError;
  }
  try {
    return body();
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const std::exception& e) {
    print_error(name, e.what());
    return kError;
  } catch (...) {
    print_error(name, "unexpected error (not a std::exception)");
    return kError;
  }
}

}  // namespace muft::app
