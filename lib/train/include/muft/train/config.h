#pragma once
/// \file config.h
/// The full configuration of one muft-train run: model, optimizer groups, schedule,
/// LoRA, data, evaluation and checkpointing. Saved resolved as DIR/config.json and inside
/// every checkpoint; a JSON file of the same shape (any subset of keys) is accepted by
/// `muft-train --config FILE` and overlays the defaults.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "muft/train/gpt.h"
#include "muft/train/lora.h"
#include "muft/train/param_groups.h"
#include "muft/train/schedule.h"

namespace muft::train {

/// Where the text comes from and how much of the validation sets is evaluated.
struct DataConfig {
  std::string train = "data/corpora/gcide/train.txt";  ///< training text (byte-level)
  std::string val = "data/corpora/gcide/val.txt";      ///< current task's validation text
  /// Old task's (pretraining) validation text, evaluated to measure forgetting;
  /// empty: the old_val_* columns repeat val (pretraining).
  std::string old_val;
  int64_t eval_windows = 64;  ///< windows of `sequence_len` tokens per evaluation set (0 = all)
};

/// The digits task (task = "digits"): an MLP classifier on sklearn's 8×8 digits instead of
/// the GPT, trained by the same command line and writing the same run directory.
struct DigitsTaskConfig {
  std::string data = "data/corpora/digits/digits.csv";  ///< from data/fetch_corpora.sh
  std::vector<int64_t> classes = {0, 1, 2, 3, 4};       ///< labels trained and validated (val_*)
  std::vector<int64_t> old_classes;  ///< labels of the old task (old_val_*); empty: = classes
  int64_t hidden = 128;              ///< MLP width (64 → h → h → h → 10)
  int64_t val_percent = 20;          ///< held-out share of every class (hashed split)
};

/// One training run.
struct TrainConfig {
  std::string task = "lm";        ///< "lm" (GPT on text) | "digits" (MLP on digits, digits.h)
  std::string mode = "pretrain";  ///< "pretrain" | "finetune"
  GPTConfig model;                ///< architecture (tiny by default)
  ParamGroupOptions optim;        ///< optimizer choice and per-group rates
  ScheduleOptions schedule;       ///< lr multiplier; total_steps is kept equal to steps
  std::string method = "full";    ///< "full" | "lora" (fine-tuning)
  LoRAOptions lora;               ///< adapters when method == "lora"
  std::string init_from;          ///< checkpoint the fine-tuning starts from (finetune only)
  int64_t steps = 1500;           ///< optimizer steps
  int64_t batch_size = 32;        ///< global batch (sequences of model.sequence_len tokens)
  uint64_t seed = 0;              ///< model init (pretrain), adapter init and data order
  int64_t eval_every = 100;       ///< evaluate + metrics row every N steps (and at the end)
  int64_t checkpoint_every = 0;   ///< checkpoint every N steps (0 = at every evaluation)
  double grad_clip = 0.0;         ///< clip the global gradient norm to this (0 = off)
  std::string device = "cpu";     ///< "cpu" | "cuda" (or "cuda:N")
  bool bf16_autocast = true;      ///< on CUDA, run the forward in bfloat16 autocast
  int64_t threads = 0;            ///< intra-op threads (0 = LibTorch default)
  DataConfig data;
  DigitsTaskConfig digits;  ///< used when task == "digits"

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

/// The documented "tiny" pretraining run (docs/training.md): tiny GPT (4 layers, width 128,
/// context 128, ≈0.85 M parameters), batch 32, 1500 steps on GCIDE, optimizer as given
/// ("adam" or "muon"), NanoChat-style rates, constant lr with a linear warmdown over the
/// last 20 % of the steps.
TrainConfig tiny_pretrain_config(OptimizerChoice optimizer);

/// Defaults of a fine-tuning run from a pretrained checkpoint: fortunes train/val, GCIDE val
/// as the old task, one swept lr for every group, 3 % warmup + cosine decay to 0.
TrainConfig finetune_config(OptimizerChoice optimizer, double lr);

}  // namespace muft::train
