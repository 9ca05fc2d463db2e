#pragma once
/// \file spec.h
/// Experiment specification (TOML, documented in docs/experiments.md): pretraining groups
/// (optimizer × seed) and fine-tuning studies (methods × learning rates × LoRA ranks × seeds).

#include <map>
#include <string>
#include <vector>

namespace muft::sweep {

/// How muft-sweep calls the trainer. Templates may use {dir} (run directory) and {ckpt}.
struct TrainerInterface {
  std::vector<std::string> common_args;  ///< appended to every call (e.g. {"--device","cpu"})
  std::string steps_flag = "--steps";    ///< flag for the step count ("" = never pass)
  std::string eval_every_flag = "--eval-every";  ///< flag for the eval cadence ("" = never pass)
  std::vector<std::string> resume_args = {"--resume", "{dir}"};  ///< appended on resume
  std::vector<std::string> from_args = {"--from", "{ckpt}"};     ///< fine-tuning: pretrained ckpt
  /// Flags whose value is a path: a relative value anywhere in the spec's args is resolved
  /// against the spec file's directory (so a spec runs the same from any directory).
  std::vector<std::string> path_flags = {"--config",  "--train", "--val",
                                         "--old-val", "--data",  "--data-dir"};
};

/// A pretraining group: one run per (optimizer, seed).
struct PretrainGroup {
  std::string name;                     ///< unique, e.g. "lm"
  std::vector<std::string> optimizers;  ///< e.g. {"adam", "muon"}
  std::vector<long> seeds = {0};
  long steps = 0;                 ///< 0: trainer default (flag not passed)
  long eval_every = 0;            ///< 0: trainer default
  std::vector<std::string> args;  ///< extra flags for every run of the group (e.g. --config)
  std::map<std::string, std::vector<std::string>> optimizer_args;  ///< extra flags per optimizer
  /// A learning-rate grid per optimizer (passed as --lr): one run per (optimizer, lr, seed). An
  /// optimizer without an entry gets one run at the trainer's default rate.
  std::map<std::string, std::vector<double>> optimizer_lrs;
  /// When set (an optimizer of the group): for every optimizer with an lr grid, the run whose
  /// final validation loss is closest to this optimizer's (same seed) is the pretrained model the
  /// fine-tuning studies start from (the paper tunes Adam to match Muon's pretraining quality).
  std::string match_loss_to;
};

/// One fine-tuning method: Full/LoRA × optimizer, with its own learning-rate grid.
struct FinetuneMethod {
  std::string name;               ///< unique in its study, e.g. "lora-muon"
  std::string method;             ///< "full" or "lora"
  std::string optimizer;          ///< "adam", "muon" or "muon-pe"
  std::vector<double> lrs;        ///< learning-rate grid (> 0)
  std::vector<long> ranks;        ///< LoRA ranks (LoRA only; empty: trainer default)
  std::string alpha = "2r";       ///< LoRA α: "2r" (α = 2r, the paper's rank study) or a number
  std::string lora_scale;         ///< "alpha_over_r" / "alpha_over_sqrt_r" ("" = trainer default)
  std::string init;               ///< "kaiming" / "pissa" ("" = trainer default)
  std::vector<std::string> args;  ///< extra flags for this method
};

/// A fine-tuning study: every method × lr × rank × seed, applied to every pretraining run of
/// group `from` (optionally only some optimizers / seeds of it).
struct FinetuneStudy {
  std::string name;                          ///< unique, e.g. "lr-sweep"
  std::string from;                          ///< name of a PretrainGroup
  std::vector<std::string> from_optimizers;  ///< empty: all optimizers of the group
  std::vector<long> from_seeds;              ///< empty: all seeds of the group
  std::vector<long> seeds = {0};
  long steps = 0;
  long eval_every = 0;
  std::vector<std::string> args;
  std::vector<FinetuneMethod> methods;
  /// Learning-rate selection on separate seeds (docs/experiments.md, "Staged studies"). Empty:
  /// every lr × every seed. Otherwise each lr of a method's grid runs with these seeds only; the
  /// rate with the best mean `select_metric` is then run with `seeds` (which must not overlap).
  std::vector<long> select_seeds;
  /// How often the grid may grow past an edge where the best rate sits (each time by
  /// `extend_factor` beyond that edge), stated before any run exists.
  long extend_at_edge = 0;
  double extend_factor = 2.0;
  /// The final metrics.csv value that ranks the rates; lower is better unless it is an accuracy
  /// (a name ending in "acc"), or select_maximize says so.
  std::string select_metric = "val_loss";
  bool select_maximize = false;
  /// Use the rate chosen in this other study for the same pretrained model and method name (and
  /// LoRA rank 0 → the other study's rank): no selection of its own; `lrs` may be omitted.
  std::string lr_from;
};

/// Table options for `muft-sweep report`.
struct ReportOptions {
  std::string study;   ///< study for Tables 1/5/17 ("" = the first fine-tuning study)
  long lora_rank = 0;  ///< LoRA rank used in Tables 1/5/17 (0 = the first rank of each method)
};

/// A whole experiment.
struct ExperimentSpec {
  std::string name;  ///< e.g. "smoke"
  /// Root of the run directories. Relative: to the current directory (outputs go where the
  /// command runs; inputs named in args resolve against the spec file, TrainerInterface).
  std::string out_dir = "runs";
  std::string source_path;  ///< file the spec was read from
  std::string source_text;  ///< its text (stored in results.h5)
  TrainerInterface trainer;
  std::vector<PretrainGroup> pretrain;
  std::vector<FinetuneStudy> finetune;
  ReportOptions report;

  /// Checks names (unique, [A-Za-z0-9._-]+), references, grids. Ceres-style.
  bool IsValid(std::string* error) const;
};

/// Reads and validates a TOML spec; path-flag values in its args are resolved against the
/// spec's directory and must exist. Throws std::invalid_argument ("FILE: what is wrong") on a
/// parse error, an unknown key, a wrong type, a missing input file or an invalid spec;
/// std::runtime_error when the file cannot be read.
ExperimentSpec load_spec(const std::string& path);
/// Same, from TOML text (origin names the source in messages). With a non-empty base_dir,
/// relative path-flag values are resolved against it and checked to exist.
ExperimentSpec parse_spec(const std::string& toml_text, const std::string& origin,
                          const std::string& base_dir = "");

}  // namespace muft::sweep
