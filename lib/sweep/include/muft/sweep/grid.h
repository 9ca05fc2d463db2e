#pragma once
/// \file grid.h
/// Deterministic expansion of an ExperimentSpec into runs with stable ids and directories,
/// and deterministic sharding for cluster arrays.

#include <cstddef>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "muft/sweep/spec.h"

namespace muft::sweep {

enum class RunKind { kPretrain, kFinetune };

/// The part a run plays in a staged study (spec.h, select_seeds).
enum class RunRole {
  kGrid,    ///< every lr × every seed (no selection), and pretraining runs
  kSelect,  ///< a selection-seed run at one candidate rate
  kReport,  ///< a reported-seed run at the chosen rate
};
/// "grid", "select", "report".
const char* to_string(RunRole role);

/// One trainer invocation. Its id is a pure function of the spec values that define it, so
/// reordering or extending a spec never renames an existing run.
struct RunSpec {
  std::string id;   ///< e.g. "finetune/lr-sweep/lm-adam-s0/lora-muon-r8/lr0.001-s1"
  std::string dir;  ///< out_dir + "/" + id
  RunKind kind = RunKind::kPretrain;
  std::vector<std::string>
      args;                ///< trainer argv after the program name, without --out/--from/--resume
  std::string depends_on;  ///< fine-tuning: id of its pretraining run
  // Attributes (for collect and report).
  std::string group;               ///< pretraining group
  std::string study;               ///< fine-tuning study ("" for pretraining)
  std::string pretrain_optimizer;  ///< optimizer of the pretraining run (itself for pretraining)
  long pretrain_seed = 0;
  std::string method_name;  ///< fine-tuning method name ("" for pretraining)
  std::string method;       ///< "full"/"lora" ("" for pretraining)
  std::string optimizer;    ///< optimizer of this run
  double lr = 0.0;          ///< fine-tuning lr (0 for pretraining: trainer default)
  long rank = 0;            ///< LoRA rank (0: not LoRA or trainer default)
  double alpha = 0.0;       ///< LoRA α (0: not set)
  long seed = 0;
  long steps = 0;
  RunRole role = RunRole::kGrid;
  double pretrain_lr = std::numeric_limits<double>::quiet_NaN();  ///< pretraining --lr (grid)
};

/// What the expansion knows about one run that a later stage depends on.
struct RunOutcome {
  bool finished = false;  ///< completed, diverged, collapsed or failed: it will not change
  bool usable = false;    ///< completed with a finite value of the metric asked for
  double value = std::numeric_limits<double>::quiet_NaN();
};
/// Reads the outcome of a run (its final value of `metric`).
using OutcomeFn = std::function<RunOutcome(const RunSpec& run, const std::string& metric)>;
/// The outcome from the run directory (muft::rundir): status and the last metrics.csv row.
RunOutcome outcome_from_run_dir(const RunSpec& run, const std::string& metric);

/// One learning-rate selection: a (study, pretrained run, method, rank).
struct LrSelection {
  std::string study, parent, method_name;
  long rank = 0;
  std::vector<double> lrs;     ///< candidates in increasing order (grid plus extensions)
  std::vector<double> scores;  ///< mean metric over the selection seeds (NaN: unusable)
  std::vector<bool> finished;  ///< every selection run of the rate has finished
  long extensions = 0;         ///< rates added past an edge
  bool settled = false;        ///< every candidate finished and no extension is due
  double chosen = std::numeric_limits<double>::quiet_NaN();  ///< NaN: none usable / pending
};

/// Most runs one spec may expand to. The paper-scale study has a few hundred; a grid past this
/// is a typo or a hostile file (a 13 KB spec can ask for millions of runs, and expanding them
/// took 47 s and 8.6 GB before anything was checked).
inline constexpr std::size_t kMaxGridRuns = 100000;

/// An upper bound of the runs expand_grid(spec, ...) gives at its last stage (every pretraining
/// run counted as a parent, every allowed edge extension made), counted without expanding
/// (saturates at SIZE_MAX).
std::size_t grid_size(const ExperimentSpec& spec);

/// All runs: pretraining runs first (group, optimizer, lr, seed order of the spec), then
/// fine-tuning (study, pretraining run, method, rank, lr, seed). Staged parts (a pretraining lr
/// grid matched by loss, selection seeds, lr_from) need the outcomes of earlier runs: without
/// `outcome` only the first stage is listed; with it, every stage whose inputs have finished.
/// Rules (docs/experiments.md, "Staged studies"): a rate's score is the mean of its selection
/// runs (a run that is not usable makes the rate unusable); the best usable rate is chosen; if it
/// is the largest (smallest) candidate and fewer than extend_at_edge extensions were made, the
/// rate × (÷) extend_factor is added and selected on first. Throws std::invalid_argument when two
/// runs would share an id (e.g. a repeated lr) or when grid_size(spec) > kMaxGridRuns.
std::vector<RunSpec> expand_grid(const ExperimentSpec& spec, const OutcomeFn& outcome = nullptr);

/// Every learning-rate selection of the spec's staged studies, in grid order.
std::vector<LrSelection> lr_selections(const ExperimentSpec& spec, const OutcomeFn& outcome);

/// Formats a number the way run ids and trainer flags show it (shortest round-trip form).
std::string format_number(double x);

/// The slice i of n (0 ≤ i < n): runs whose position p in the full grid has p % n == i.
std::vector<RunSpec> shard(const std::vector<RunSpec>& runs, std::size_t i, std::size_t n);
/// Parses "i/N" (throws std::invalid_argument unless 0 ≤ i < N).
void parse_shard(const std::string& text, std::size_t* i, std::size_t* n);

const char* to_string(RunKind kind);

}  // namespace muft::sweep
