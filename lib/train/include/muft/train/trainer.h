#pragma once
/// \file trainer.h
/// The one training loop of muft-train (Ceres' Minimizer is the shape: the loop is fixed, the
/// problem — a Task, task.h — plugs in). It builds the task's model (fresh, or from a
/// pretrained checkpoint, optionally with LoRA adapters), the hybrid AdamW/Muon optimizer and
/// the schedule; trains on the task's deterministic batches; evaluates on the current and the
/// old task; writes metrics.csv, checkpoints and status.json into a run directory
/// (muft::rundir); resumes bit-exactly; ends diverged or collapsed runs (health.h); averages
/// gradients across data-parallel ranks. It prints nothing: progress and messages go to a
/// TrainObserver (as Ceres' IterationCallback).

#include <cstdint>
#include <string>
#include <vector>

#include "muft/rundir/metrics.h"
#include "muft/rundir/status.h"
#include "muft/train/config.h"
#include "muft/train/distributed.h"
#include "muft/train/task.h"

namespace muft::train {

using rundir::RunStatus;

/// Process exit codes of muft-train (docs/cli.md).
enum ExitCode : int {
  kExitOk = 0,         ///< run completed
  kExitFailed = 1,     ///< bad input or an error (status failed when a run directory exists)
  kExitDiverged = 3,   ///< diverged: status diverged, last good checkpoint kept
  kExitCollapsed = 4,  ///< collapsed: status collapsed
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
  int exit_code = kExitOk;           ///< kExitOk, kExitDiverged, kExitCollapsed or kExitFailed
};

/// The start of a run (or of a resumed segment).
struct RunStart {
  std::string out_dir;
  std::string task;  ///< Task::describe()
  int64_t start_step = 0, steps = 0;
  bool resumed = false;
  int64_t world_size = 1;
  int64_t num_parameters = 0, trainable_parameters = 0;
};

/// After every optimizer step.
struct StepProgress {
  int64_t step = 0, steps = 0;
  double loss = 0.0;               ///< this step's training loss (all ranks)
  double tokens_per_second = 0.0;  ///< this segment so far
  double eta_seconds = 0.0;        ///< to the last step at that rate
};

/// Receives what the loop does; the main rank's observer only. Every method has an empty
/// default, so an observer overrides what it shows.
class TrainObserver {
 public:
  virtual ~TrainObserver() = default;
  virtual void on_start(const RunStart& s) { (void)s; }
  virtual void on_step(const StepProgress& p) { (void)p; }
  /// An evaluation row (also written to metrics.csv); extra_names name row.extra.
  virtual void on_evaluation(const rundir::MetricsRow& row,
                             const std::vector<std::string>& extra_names) {
    (void)row;
    (void)extra_names;
  }
  /// A one-line note (checkpoint chosen for resume, stale temporaries removed, ...).
  virtual void on_note(const std::string& message) { (void)message; }
  virtual void on_end(const TrainResult& r) { (void)r; }
};

/// Runtime switches that are not part of the run's configuration.
struct TrainOptions {
  bool resume = false;  ///< continue from the run directory (its config must be cfg)
  /// Resume from this step's checkpoint instead of the newest (−1: newest). Newer checkpoints
  /// are set aside as *.superseded, a corrupt one as *.corrupt.
  int64_t resume_from_step = -1;
  /// When the chosen checkpoint fails its checksum, resume from the newest one that passes
  /// (otherwise that is an error which lists the usable steps).
  bool resume_fallback = false;
  /// Stop (as if killed) once this many steps are done and checkpointed; −1 = never. Tests use
  /// it to interrupt a run; the status stays "running".
  int64_t stop_after_step = -1;
  DistributedContext* dist = nullptr;  ///< data-parallel group (nullptr = single process)
  TrainObserver* observer = nullptr;   ///< main rank's observer (nullptr = silent)
};

/// Runs (or resumes) a training run of `task` in out_dir. The main rank writes the run
/// directory; other ranks only compute. Bad input (invalid config, missing checkpoint) throws
/// std::invalid_argument / std::runtime_error with one line (LibTorch's own messages are cut to
/// their first line) after status.json is set to "failed" where a run directory exists;
/// divergence and collapse are results (status kDiverged / kCollapsed and their exit codes).
/// Resuming a run that holds a config but no checkpoint starts it again from step 0.
TrainResult run_training(const TrainConfig& cfg, Task& task, const std::string& out_dir,
                         const TrainOptions& opts = {});

/// make_task(cfg, opts.dist) and run_training.
TrainResult run_training(const TrainConfig& cfg, const std::string& out_dir,
                         const TrainOptions& opts = {});

/// Seeds torch's generator with `seed` and builds the task's model for cfg, with LoRA adapters
/// when cfg.method is LoRA, as one step under a process-wide lock (ranks that run as threads of
/// one process must not interleave their draws).
torch::nn::Module& build_seeded_model(Task& task, const TrainConfig& cfg, uint64_t seed);

}  // namespace muft::train
