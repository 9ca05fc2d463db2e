/// \file main.cpp
/// muft-analyze: spectral analysis, distances and LoRA adapters over checkpoint files.

#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "muft/platform/startup.h"

int main(int argc, char** argv) {
  if (!muft::platform::start(
          argv, [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }))
    return 1;
  namespace az = muft::apps::analyze;
  CLI::App app{
      "muft-analyze: per-matrix spectral metrics (stable rank, SVD entropy, norms), distances "
      "between checkpoints and LoRA adapters, and metric series over training steps.\n"
      "Reads muft HDF5 checkpoints, generic HDF5 and (sharded) safetensors. See docs/analyzer.md."};
  app.require_subcommand(1);
  az::register_spectra(app);
  az::register_diff(app);
  az::register_series(app);
#ifdef MUFT_ANALYZE_HAVE_FORGETTING
  az::register_forgetting(app);
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "muft-analyze: error: %s\n", e.what());
    return 2;
  }
  return az::exit_status();
}
