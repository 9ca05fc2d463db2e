#pragma once
/// \file config.h
/// The full configuration of one muft-train run: task, model, optimizer groups, schedule,
/// LoRA, data, evaluation, health checks and checkpointing. Saved resolved as DIR/config.json
/// and inside every checkpoint; a JSON file of the same shape (any subset of keys) is accepted
/// by `muft-train --config FILE` and overlays the defaults. Strings of the JSON and the command
/// line become enums here, once; the rest of the trainer compares enums.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "muft/train/gpt.h"
#include "muft/train/lora.h"
#include "muft/train/param_groups.h"
#include "muft/train/schedule.h"

namespace muft::train {

/// What is trained (task.h): the GPT on text, or the MLP classifier on digits.
enum class TaskKind { kLanguageModel, kDigits };
/// Whether the run starts from fresh weights or from a pretrained checkpoint.
enum class Mode { kPretrain, kFinetune };
/// Which weights fine-tuning changes: all of them, or low-rank adapters.
enum class Method { kFull, kLoRA };

/// "lm", "digits".
std::string to_string(TaskKind t);
/// "pretrain", "finetune".
std::string to_string(Mode m);
/// "full", "lora".
std::string to_string(Method m);
/// Inverses of to_string; throw std::invalid_argument naming the accepted values.
TaskKind parse_task_kind(const std::string& s);
Mode parse_mode(const std::string& s);
Method parse_method(const std::string& s);
/// The accepted names, for command-line checks (one list per enum).
std::vector<std::string> task_kind_names();
std::vector<std::string> method_names();

/// Where the text comes from and how much of the validation sets is evaluated. Relative paths
/// are resolved against the data directory (data.h, resolve_data_path).
struct DataConfig {
  std::string train = "gcide/train.txt";  ///< training text (byte-level)
  std::string val = "gcide/val.txt";      ///< current task's validation text
  /// Old task's (pretraining) validation text, evaluated to measure forgetting;
  /// empty: the old_val_* columns repeat val (pretraining).
  std::string old_val;
  int64_t eval_windows = 64;  ///< windows of `sequence_len` tokens per evaluation set (0 = all)
};

/// How the digits classifier turns features into class scores.
enum class DigitsClassifier {
  /// A learned linear head over all 10 classes; losses are 10-way cross-entropies.
  kHead,
  /// A fixed classifier per task (paper App. E.3, CLIP's frozen text embeddings at toy scale):
  /// the normalized mean feature of each of the task's classes under the model the run starts
  /// from; logits = cos(feature, mean_c) / temperature over the task's own classes only, and the
  /// old task is scored with its own class means. The learned head is frozen and unused.
  kClassMeans,
};
std::string to_string(DigitsClassifier c);
DigitsClassifier parse_digits_classifier(const std::string& s);

/// The digits task (task = "digits"): an MLP classifier on sklearn's 8×8 digits instead of
/// the GPT, trained by the same loop and writing the same run directory.
struct DigitsTaskConfig {
  std::string data = "digits/digits.csv";          ///< relative to the data directory
  std::vector<int64_t> classes = {0, 1, 2, 3, 4};  ///< labels trained and validated (val_*)
  std::vector<int64_t> old_classes;  ///< labels of the old task (old_val_*); empty: = classes
  int64_t hidden = 128;              ///< MLP width (64 → h → h → h → 10)
  int64_t val_percent = 20;          ///< held-out share of every class (hashed split)
  DigitsClassifier classifier = DigitsClassifier::kHead;
  double temperature = 0.1;  ///< kClassMeans: logits = cosine / temperature
};

/// When a run counts as diverged or collapsed (docs/training.md, "Divergence and collapse").
/// Both end the run: its numbers must never enter a table as a success.
struct HealthOptions {
  bool enabled = true;  ///< false: only non-finite values end a run (as muft 0.1 did)
  /// Diverged: the training loss of `divergence_window` consecutive steps exceeds the step-0
  /// validation loss (the model before any update) by more than `divergence_margin` nats.
  double divergence_margin = 1.0;
  int64_t divergence_window = 5;
  /// Collapsed (checked at every evaluation after step 0), either of:
  /// (a) |val_loss − L| ≤ collapse_tolerance for L = the task's uniform-prediction loss or its
  ///     label-frequency loss, while the step-0 validation loss was at least collapse_start_gap
  ///     below that L (so a model that never learned is not called collapsed);
  /// (b) the prediction spread (the spread of the predicted log-probabilities over the
  ///     validation inputs, task.h) is ≤ collapse_spread while at step 0 it was above
  ///     10 × collapse_spread: the outputs no longer depend on the input.
  /// When the training loss is above the divergence margin at that evaluation too, the run is a
  /// blow-up and is recorded diverged; collapsed is the case without a loss blow-up.
  double collapse_tolerance = 0.02;
  double collapse_start_gap = 0.5;
  double collapse_spread = 1e-3;
  bool IsValid(std::string* error) const;
};

/// One training run.
struct TrainConfig {
  TaskKind task = TaskKind::kLanguageModel;
  Mode mode = Mode::kPretrain;
  GPTConfig model;                ///< architecture (tiny by default; LM task)
  ParamGroupOptions optim;        ///< optimizer choice and per-group rates
  ScheduleOptions schedule;       ///< lr multiplier; total_steps is kept equal to steps
  Method method = Method::kFull;  ///< fine-tuning: all weights or LoRA adapters
  LoRAOptions lora;               ///< adapters when method == kLoRA
  std::string init_from;          ///< checkpoint the fine-tuning starts from (finetune only)
  int64_t steps = 1500;           ///< optimizer steps
  int64_t batch_size = 32;        ///< global batch (sequences of model.sequence_len tokens)
  uint64_t seed = 0;              ///< model init (pretrain), adapter init and data order
  int64_t eval_every = 100;       ///< evaluate + metrics row every N steps (and at the end)
  int64_t checkpoint_every = 0;   ///< checkpoint every N steps (0 = at every evaluation)
  double grad_clip = 0.0;         ///< clip the global gradient norm to this (0 = off)
  std::string device = "cpu";     ///< "cpu" | "cuda" (or "cuda:N")
  bool bf16_autocast = true;      ///< on CUDA, run the forward in bfloat16 autocast
  int64_t threads = 0;  ///< intra-op threads, also OpenBLAS's (0 = the libraries' defaults)
  DataConfig data;
  DigitsTaskConfig digits;  ///< used when task == kDigits
  HealthOptions health;

  /// Validates every field and nested option; writes a one-line reason.
  bool IsValid(std::string* error) const;
  /// Every field, nested (the JSON stored in config.json and checkpoints).
  nlohmann::json to_json() const;
  /// Overlays the keys present in j on *this (missing keys keep their values).
  /// Throws std::invalid_argument naming the key on an unknown key or a wrong type.
  void merge_json(const nlohmann::json& j);
  /// Defaults overlaid with j; throws std::invalid_argument when the result is invalid.
  static TrainConfig from_json(const nlohmann::json& j);
};

/// Largest accepted counts (steps, batch, threads, ...): bounded so that a typo cannot hang the
/// machine (e.g. --threads 100000) or overflow a product.
struct Limits {
  static constexpr int64_t kMaxSteps = 1'000'000'000;
  static constexpr int64_t kMaxBatch = 1 << 20;
  static constexpr int64_t kMaxEvalWindows = 10'000'000;
  /// max(64, 4 × hardware threads).
  static int64_t max_threads();
};

/// The documented "tiny" pretraining run (docs/training.md): tiny GPT (4 layers, width 128,
/// context 128, ≈0.85 M parameters), batch 32, 1500 steps on GCIDE, optimizer as given
/// ("adam" or "muon"), NanoChat-style rates, constant lr with a linear warmdown over the
/// last 20 % of the steps.
TrainConfig tiny_pretrain_config(OptimizerChoice optimizer);

/// Defaults of a fine-tuning run from a pretrained checkpoint: fortunes train/val, GCIDE val
/// as the old task, one swept lr for every group, 3 % warmup + cosine decay to 0.
TrainConfig finetune_config(OptimizerChoice optimizer, double lr);

/// The digits preset (`muft-train digits`): the MLP on digits 0–4 (pretraining) or, with
/// init_from set by the caller, fine-tuning on 5–9 with 0–4 as the old task; one lr for every
/// group, constant schedule, evaluation every 25 steps.
TrainConfig digits_config(Mode mode, OptimizerChoice optimizer, double lr, int64_t steps);

}  // namespace muft::train
