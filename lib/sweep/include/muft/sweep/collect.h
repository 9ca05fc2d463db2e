#pragma once
/// \file collect.h
/// Gathers every run's metrics, status and config into one HDF5 file plus CSV tables
/// (layout in docs/formats.md, section "results.h5").

#include <limits>
#include <map>
#include <string>
#include <vector>

#include "muft/rundir/inspect.h"
#include "muft/sweep/grid.h"
#include "muft/sweep/spec.h"

namespace muft::sweep {

/// One run as read back from its directory.
struct CollectedRun {
  RunSpec spec;
  rundir::Inspection status;
  std::vector<std::string> metric_columns;   ///< metrics.csv header, in file order
  std::vector<std::vector<double>> metrics;  ///< one vector per column (all the same length)
  std::string config_json;                   ///< DIR/config.json verbatim ("" if absent)
  std::string problem;                       ///< why metrics/config could not be read ("" if fine)
  /// metrics.csv rows ignored because the file ended inside them (a writer cut off).
  std::size_t incomplete_rows = 0;

  // Filled by analyze_runs (analyze.h); NaN / empty when not analyzed.
  double l2_distance = std::numeric_limits<double>::quiet_NaN();      ///< ‖θ − θ₀‖
  double cosine_distance = std::numeric_limits<double>::quiet_NaN();  ///< 1 − cos(θ, θ₀)
  double relative_distance = std::numeric_limits<double>::quiet_NaN();  ///< ‖θ − θ₀‖/‖θ₀‖
  /// Spectral metrics of one layer group at one checkpoint step.
  struct SeriesPoint {
    double step = 0;
    std::size_t tensors = 0;                  ///< matrices in the group with status ok
    std::map<std::string, double> mean, std;  ///< metric → mean / std over the group's matrices
  };
  std::map<std::string, std::vector<SeriesPoint>> series;  ///< layer group → points by step
  std::string analysis_problem;  ///< why the analysis failed ("" if fine or not run)

  /// Column by name (nullptr when absent).
  const std::vector<double>* column(const std::string& name) const;
  /// Value of `name` in the last row (NaN when absent or no rows).
  double final_value(const std::string& name) const;
  /// Value of `name` in the row with step == 0 (the model before training; NaN when absent).
  double initial_value(const std::string& name) const;
  /// Number of metric rows.
  std::size_t rows() const { return metrics.empty() ? 0 : metrics.front().size(); }
};

/// Reads every run directory through muft::rundir (metrics.csv with the task's columns; a
/// legacy DIR/digits.csv is merged by rundir). Never throws for a bad run: its problem is
/// recorded instead.
std::vector<CollectedRun> load_runs(const std::vector<RunSpec>& runs);

/// Per-run derived numbers used by the tables ("runs" table of results.h5 / *_runs.csv).
struct RunSummaryRow {
  double final_val_loss, final_val_ppl, final_old_val_loss, final_old_val_ppl;
  double initial_val_ppl, initial_old_val_ppl;
  double norm_val_ppl;      ///< final_val_ppl / initial_val_ppl (NaN without a step-0 row)
  double norm_old_val_ppl;  ///< final_old_val_ppl / initial_old_val_ppl
  double last_step;
  double final_val_acc;      ///< digits runs: new-task accuracy (NaN for language runs)
  double final_old_val_acc;  ///< digits runs: old-task accuracy
};
RunSummaryRow summarize_run(const CollectedRun& run);

/// Writes OUT (HDF5) and, next to it, STEM_runs.csv (one row per run) and STEM_metrics.csv
/// (every metrics row, long format), where STEM is OUT without ".h5". Everything is written to
/// temporary files first and renamed, so an interrupted collect leaves the old results intact.
/// The output depends only on the spec and the run directories (no timestamps), so collecting
/// the same runs twice gives byte-identical files. Returns the paths written.
std::vector<std::string> write_results(const ExperimentSpec& spec,
                                       const std::vector<CollectedRun>& runs,
                                       const std::string& out_h5);

}  // namespace muft::sweep
