#pragma once
/// \file task.h
/// The task seam of the training loop (engine.h): what the loop asks of the thing being
/// trained. A task owns its data and its model; the loop owns everything that is the same for
/// every task — the run directory, seeding, fine-tuning from a checkpoint, LoRA, the optimizer,
/// the schedule, evaluation cadence, checkpoints, resume, divergence/collapse and progress.
/// The language model (lm_task.h) and the digits classifier (digits_task.h) are two tasks; a
/// new task is one new implementation of this interface, registered in make_task().

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "muft/train/config.h"
#include "muft/train/distributed.h"

namespace muft::train {

/// One evaluation of the model on the current and the old task.
struct Evaluation {
  double val_loss = 0.0;      ///< current task's validation loss (nats)
  double old_val_loss = 0.0;  ///< old task's validation loss (= val_loss when there is none)
  /// Spread of the predictions over the validation inputs: for each output (token or class),
  /// the standard deviation over inputs of its predicted log-probability, averaged over the
  /// outputs (nats). 0 exactly when the predictions do not depend on the input.
  double val_spread = 0.0;
  std::vector<double> extra;  ///< values of Task::metric_names(), in order
};

/// What the loop needs from a task. Calls come from one thread, in this order: prepare,
/// validate, (adopt_base), build_model, then any number of batch_loss / evaluate. The model
/// stays owned by the task; the loop moves it to the device and trains its parameters.
class Task {
 public:
  virtual ~Task() = default;

  /// The task's own defaults applied to a config before it is validated and stored (e.g. the
  /// LoRA targets of its model, or the single learning rate of the digits task).
  virtual void prepare(TrainConfig* cfg) const = 0;
  /// Checks the config against the task's data and model (vocabulary vs tokenizer, context vs
  /// corpus length, classes present, distributed support). Throws std::invalid_argument with one
  /// line saying what is wrong and what is expected.
  virtual void validate(const TrainConfig& cfg, int64_t world_size) const = 0;
  /// Fine-tuning: takes the architecture from the pretrained checkpoint's stored config, or
  /// throws std::runtime_error when that checkpoint is not a model of this task.
  virtual void adopt_base(const nlohmann::json& base_config, TrainConfig* cfg) const = 0;
  /// A fresh model for cfg (weights drawn from torch's global generator: the caller seeds it).
  /// Replaces any previous model.
  virtual torch::nn::Module& build_model(const TrainConfig& cfg) = 0;
  /// The model built last.
  virtual torch::nn::Module& model() = 0;
  /// Called once the model holds its starting weights (pretrained or resumed) and sits on its
  /// device, before the adapters are trained: a task may derive fixed state from it (the digits
  /// task's class-mean classifier). Default: nothing.
  virtual void on_weights_ready(const TrainConfig& cfg) { (void)cfg; }
  /// Parameter-group settings of this model (which names are embedding/head, width factor).
  virtual void param_groups(ParamGroupOptions* opts) const = 0;

  /// Mean training loss of this rank's share of the batch of `step` (forward only, 0-d tensor;
  /// the loop calls backward). A pure function of (cfg.seed, step): resume is bit-exact.
  virtual torch::Tensor batch_loss(int64_t step) = 0;
  /// Evaluates the model (eval mode, no gradients; the loop switches back to train mode).
  virtual Evaluation evaluate() = 0;

  /// Names of the task's own metrics.csv columns (Evaluation::extra), e.g. {"val_acc", ...}.
  virtual std::vector<std::string> metric_names() const = 0;
  /// Loss of predicting uniformly over the task's outputs on the current task (nats).
  virtual double uniform_loss() const = 0;
  /// Loss of predicting the label (token) frequencies of the current task's validation data,
  /// whatever the input (its entropy, nats).
  virtual double label_frequency_loss() const = 0;
  /// Training examples per optimizer step counted in the `tokens` column (tokens for a language
  /// model, images for a classifier), over all ranks.
  virtual int64_t units_per_step() const = 0;
  /// A one-line description for the start of the run ("train gcide/train.txt (28 MB)").
  virtual std::string describe() const = 0;
};

/// The task cfg.task names, with its data read from the files the config names (paths resolved
/// through the data directory, data.h). dist may be null (single process). Throws
/// std::runtime_error naming a missing or malformed data file.
std::unique_ptr<Task> make_task(const TrainConfig& cfg, DistributedContext* dist);

}  // namespace muft::train
