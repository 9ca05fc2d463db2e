#pragma once
/// \file analyze.h
/// The analyzer's outputs for collect: distances of each fine-tuned model from its pretrained
/// model (Table 17 analogue) and spectral metrics per layer group versus step (Figures 2, 10-14),
/// computed with muft::analysis on the runs' checkpoints.

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "muft/sweep/collect.h"

namespace muft::sweep {

/// True when muft-sweep was built with muft::analysis.
bool analysis_available();

/// Options of analyze_runs.
struct AnalyzeOptions {
  int jobs = 1;           ///< analysis threads
  bool distances = true;  ///< fine-tuned vs pretrained (last checkpoints)
  bool series = true;     ///< per-group spectral metrics over every checkpoint of each run
  bool series_pretraining_only = false;                    ///< the series of pretraining runs only
  std::function<void(std::size_t, std::size_t)> progress;  ///< (runs done, runs total)
};

/// Analyzes every completed run (completed fine-tuning runs get distances to the last
/// checkpoint of their pretraining run). Never throws for one bad run: its analysis_problem is
/// set instead. Throws std::runtime_error when built without muft::analysis.
void analyze_runs(std::vector<CollectedRun>* runs, const AnalyzeOptions& options);

}  // namespace muft::sweep
