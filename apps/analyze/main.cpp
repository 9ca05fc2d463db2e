/// \file main.cpp
/// muft-analyze: spectral analysis, distances and LoRA adapters over checkpoint files.

#include <CLI/CLI.hpp>

#include "commands.h"
#include "muft/app/cli.h"

int main(int argc, char** argv) {
  if (!muft::app::start_platform(argv)) return muft::app::kError;
  namespace az = muft::apps::analyze;
  CLI::App app{
      "muft-analyze: per-matrix spectral metrics (stable rank, SVD entropy, norms), distances "
      "between checkpoints and LoRA adapters, and metric series over training steps.\n"
      "Reads muft HDF5 checkpoints, generic HDF5, (sharded) safetensors, PyTorch .pt/.pth/.bin "
      "(without running their pickles) and GGUF. See docs/analyzer.md."};
  app.require_subcommand(1);
  az::register_spectra(app);
  az::register_diff(app);
  az::register_series(app);
#ifdef MUFT_ANALYZE_HAVE_FORGETTING
  az::register_forgetting(app);
#endif
  // The subcommand callbacks do the work during the parse and set the exit status.
  return muft::app::run_app("muft-analyze", app, argc, argv, [] { return az::exit_status(); });
}
