#pragma once
/// \file cli_common.h
/// Flags, output table, progress bar and summary shared by the muft-analyze subcommands.

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "muft/analysis/batch.h"
#include "muft/analysis/table.h"
#include "muft/app/outputs.h"

namespace muft::apps::analyze {

/// Flags every subcommand takes.
struct CommonFlags {
  std::string out;                   ///< --out FILE (.csv, .jsonl, .h5); empty: rows on stdout
  int jobs = 0;                      ///< --jobs N (0 = all cores)
  std::vector<std::string> include;  ///< --include REGEX
  std::vector<std::string> exclude;  ///< --exclude REGEX
  std::string svd = "gram";          ///< --svd gram|exact
  bool fast = false;                 ///< --fast: σ₁ by Lanczos only
  double rank_tol = -1;              ///< --rank-tol (relative to σ₁; <0: method default)
  bool spectrum = false;             ///< --spectrum: add all singular values
  bool no_lora = false;              ///< --no-lora: do not pair lora_A/lora_B
  double lora_alpha = NAN;           ///< --lora-alpha
  double lora_rank = NAN;            ///< --lora-rank
  std::vector<std::string> groups;   ///< --group NAME=REGEX (replaces the defaults)
  bool no_progress = false;          ///< --no-progress
  bool esd = false;                  ///< --esd: heavy-tailed ESD columns (alpha, spikes, ...)
  bool randomize = false;            ///< --randomize: rand_* columns (entry-shuffled copy)
  uint64_t randomize_seed = 0;       ///< --randomize-seed
  /// The optional column groups these flags turn on.
  analysis::RecordColumns columns() const;
};

/// Adds the common flags to a subcommand.
void add_common_flags(CLI::App* sub, CommonFlags& f);
/// BatchOptions from the flags; throws std::invalid_argument with a one-line reason.
analysis::BatchOptions make_options(const CommonFlags& f);
/// Refuses --out (and `more_outputs`) naming one of the input files, or two outputs naming one
/// file, before anything is opened for writing (throws std::invalid_argument).
void check_output_paths(const CommonFlags& f, const std::vector<std::string>& inputs,
                        const std::vector<app::NamedPath>& more_outputs = {});

/// Writes records to --out (or human lines on stdout), shows progress on a terminal, and
/// prints the summary.
class Output {
 public:
  Output(const CommonFlags& f, analysis::TableKind kind, const std::string& command);
  /// The sink to hand to the runner.
  void write(const analysis::Record& r);
  /// Progress callback (no-op unless stderr is a terminal).
  void progress(std::size_t done, std::size_t total);
  /// Prints the summary; returns the exit status (muft::app::kSuccess, kSomeFailed when some
  /// rows failed, kError when writing --out failed).
  int finish(const analysis::BatchSummary& s);

 private:
  const CommonFlags& flags_;
  analysis::TableKind kind_;
  analysis::ColumnTable<analysis::Record> layout_;  ///< the columns of --out
  std::unique_ptr<analysis::TableWriter> table_;
  bool tty_ = false;
  std::vector<analysis::Record> totals_;  ///< diff totals, echoed in the summary
  std::size_t files_ = 0;
  std::string last_file_;
  std::string write_error_;  ///< first output failure; rows after it are dropped
};

}  // namespace muft::apps::analyze
