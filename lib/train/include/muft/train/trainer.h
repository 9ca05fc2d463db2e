#pragma once
/// \file trainer.h
/// The training loop of muft-train: builds the model (fresh, or from a pretrained checkpoint,
/// optionally with LoRA adapters), the hybrid AdamW/Muon optimizer and the schedule; trains on
/// deterministic batches; evaluates on the current and the old task; writes metrics.csv,
/// checkpoints and status.json into a run directory; resumes bit-exactly; detects divergence;
/// averages gradients across data-parallel ranks.

#include <cstdint>
#include <functional>
#include <string>

#include <torch/torch.h>

#include "muft/train/config.h"
#include "muft/train/data.h"
#include "muft/train/distributed.h"
#include "muft/train/gpt.h"
#include "muft/train/run_dir.h"

namespace muft::train {

/// The three texts of a run.
struct TrainCorpora {
  TextCorpus train;    ///< training text
  TextCorpus val;      ///< current task's validation text
  TextCorpus old_val;  ///< old task's validation text (empty: same as val)
};

/// Reads the files named in data (old_val only when set). Throws std::runtime_error naming a
/// missing file.
TrainCorpora load_corpora(const DataConfig& data);

/// Runtime switches that are not part of the run's configuration.
struct TrainOptions {
  bool resume = false;  ///< continue from the run directory's last checkpoint
  /// Progress line on stderr (step, loss, tokens/s, ETA); the app enables it on a terminal.
  bool progress = false;
  bool log_evals = true;  ///< one line per evaluation on stdout (main rank)
  /// Stop (as if killed) once this many steps are done and checkpointed; −1 = never. Tests use
  /// it to interrupt a run; the status stays "running".
  int64_t stop_after_step = -1;
  DistributedContext* dist = nullptr;  ///< data-parallel group (nullptr = single process)
};

/// What a run ended with.
struct TrainResult {
  RunStatus status = RunStatus::kRunning;
  std::string reason;
  int64_t step = 0;                  ///< steps done
  double last_val_loss = 0.0;        ///< at the last evaluation
  double last_old_val_loss = 0.0;    ///< at the last evaluation
  double tokens_per_second = 0.0;    ///< training throughput of this segment (all ranks)
  int64_t num_parameters = 0;        ///< all parameters of the model
  int64_t trainable_parameters = 0;  ///< parameters the optimizer updates
  int exit_code = kExitOk;           ///< kExitOk, kExitDiverged or kExitFailed
};

/// The model a configuration describes: GPT(cfg.model), with LoRA adapters attached when
/// cfg.method == "lora" (adapter values random until loaded). Seeds torch's generator with seed.
GPT make_model(const TrainConfig& cfg, uint64_t seed);

/// Runs (or resumes) a training run in out_dir. The main rank writes the run directory; other
/// ranks only compute. Bad input (invalid config, missing checkpoint) throws
/// std::invalid_argument / std::runtime_error after status.json is set to "failed" where a run
/// directory exists; divergence is a result (status kDiverged, exit_code kExitDiverged).
/// When resuming, cfg must be the run's config.json (load it with TrainConfig::from_json).
TrainResult run_training(const TrainConfig& cfg, const TrainCorpora& data,
                         const std::string& out_dir, const TrainOptions& opts = {});

}  // namespace muft::train
