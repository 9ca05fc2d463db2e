#pragma once
/// \file commands.h
/// Subcommands of muft-analyze; each registers itself (flags and callback) on the CLI11 app.

#include <CLI/CLI.hpp>

namespace muft::apps::analyze {

/// `spectra FILES|DIRS|GLOBS...`: per-matrix spectral metrics.
void register_spectra(CLI::App& app);
/// `diff --base BASE CKPT...`: distances from a base checkpoint, per tensor and in total.
void register_diff(CLI::App& app);
/// `series RUN_DIR...`: metrics versus step, aggregated by layer group.
void register_series(CLI::App& app);
#ifdef MUFT_ANALYZE_HAVE_FORGETTING
/// `forgetting`: evaluates checkpoints with LibTorch (apps/analyze/forgetting_cmd.cpp, trainer).
void register_forgetting(CLI::App& app);
#endif

/// Exit status of the subcommand that ran (set by its callback): muft::app::kSuccess when every
/// row is ok, kSomeFailed when some row failed, kError when the output could not be written.
int& exit_status();

}  // namespace muft::apps::analyze
